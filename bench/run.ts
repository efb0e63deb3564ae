import { mkdirSync, writeFileSync } from 'node:fs';
import { gitCommit, machine, type BenchResult } from './common.js';

/** `npm run bench -- <name>`: runs bench/<name>.ts and writes bench/results/<name>.json. */
async function main(): Promise<void> {
  const names = process.argv.slice(2);
  if (names.length === 0) {
    process.stderr.write('usage: npm run bench -- <name> [<name> ...]   (twin-recovery, twin-partition, twin-speed, handshake, aead, live-recovery, daemon-recovery, forwarding, cora, detector, mapek-greyhole, fl-aggregation, fl-accountant, fl-secagg, fl-federated, fl-robust, fl-dp)\n');
    process.exit(2);
  }
  for (const name of names) {
    if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`bench: bad benchmark name ${JSON.stringify(name)}`);
    const module = (await import(`./${name}.ts`)) as { run: () => Promise<{ figures: BenchResult['figures']; details: unknown }> };
    const started = new Date().toISOString();
    // The commit is read before the run: the code measured is the code checked out when it started.
    const commit = gitCommit();
    const { figures, details } = await module.run();
    const result: BenchResult = { name, command: `npm run bench -- ${name}`, date: started, commit, machine: machine(), figures, details };
    mkdirSync('bench/results', { recursive: true });
    writeFileSync(`bench/results/${name}.json`, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${name}: ${JSON.stringify(figures)}\n`);
  }
}

await main();
