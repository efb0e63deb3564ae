import { readFileSync } from 'node:fs';
import type { NodeRuntime } from '../src/node/runtime.js';
import { runtimeFromStateDir, serveCommands, usageNow } from './forwarding-common.js';

/**
 * A child process of the forwarding benchmark: NodeRuntimes (real UDP sockets on 127.0.0.1,
 * link and end-to-end encryption) for the enrolled state directories named in the spec file
 * (argv[2], JSON `{ stateDirs, peerPorts }`), each dialing `peerPorts`. It prints
 * `{"ready":true,"ports":[...]}` once its sockets are bound, then answers one JSON line per command
 * on stdin: `usage` (CPU and memory of this process and what each runtime has), `gc` (usage after a
 * full collection, when run with --expose-gc). It stops when stdin closes.
 *
 *   node --import tsx bench/forwarding-node.ts spec.json
 */

interface Spec {
  readonly stateDirs: readonly string[];
  readonly peerPorts: readonly number[];
}

const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Spec;
const runtimes: NodeRuntime[] = spec.stateDirs.map((dir) => runtimeFromStateDir(dir, spec.peerPorts));
for (const runtime of runtimes) await runtime.start();

function status(): unknown {
  return runtimes.map((runtime) => ({
    usableNeighbours: runtime.mesh.neighbourViews().filter((view) => view.usable).length,
    routes: runtime.mesh.routes().filter((route) => route.nextHop !== null).length,
    forwarded: runtime.mesh.stats.dataForwarded,
    delivered: runtime.mesh.stats.dataDelivered,
    dropNoRoute: runtime.mesh.stats.dropNoRoute,
    datagramsIn: runtime.udpStats()?.datagramsIn ?? 0,
    datagramsOut: runtime.udpStats()?.datagramsOut ?? 0,
    sendErrors: runtime.udpStats()?.sendErrors ?? 0,
    secure: runtime.secure.stats,
  }));
}

const gc = (globalThis as { gc?: () => void }).gc;
serveCommands((command) => {
  if (command === 'gc') {
    // Twice: the first collection's finalizers can free more in the second.
    gc?.();
    gc?.();
    return { ...usageNow(), gcExposed: gc !== undefined };
  }
  if (command === 'usage') return { ...usageNow(), runtimes: status() };
  return { error: `unknown command ${JSON.stringify(command)}` };
});
process.stdout.write(`${JSON.stringify({ ready: true, ports: runtimes.map((runtime) => Number(runtime.udpAddresses()[0]!.split(':').at(-1))) })}\n`);
