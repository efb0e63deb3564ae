#!/usr/bin/env node
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { runCliAsync } from './run.js';

/** Reads a line from the controlling terminal with echo off; null when there is no terminal. */
function readSecretFromTerminal(prompt: string): string | null {
  let fd: number;
  try {
    fd = openSync('/dev/tty', 'r+');
  } catch {
    return null;
  }
  try {
    writeSync(fd, prompt);
    spawnSync('stty', ['-echo'], { stdio: [fd, 'ignore', 'ignore'] });
    const buffer = Buffer.alloc(1024);
    let text = '';
    while (!text.includes('\n')) {
      const count = readSync(fd, buffer, 0, buffer.length, null);
      if (count <= 0) break;
      text += buffer.toString('utf8', 0, count);
    }
    return text.split(/\r?\n/)[0] ?? '';
  } finally {
    spawnSync('stty', ['echo'], { stdio: [fd, 'ignore', 'ignore'] });
    writeSync(fd, '\n');
    closeSync(fd);
  }
}

/** Resolves with the name of the first SIGINT or SIGTERM; a second one exits at once. */
const stopRequested = new Promise<string>((resolve) => {
  const onSignal = (name: string): void => {
    resolve(name);
    process.once(name, () => process.exit(130));
  };
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.once('SIGTERM', () => onSignal('SIGTERM'));
});

process.exitCode = await runCliAsync(
  process.argv.slice(2),
  {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    isTTY: process.stderr.isTTY === true,
    readSecret: readSecretFromTerminal,
  },
  { promise: stopRequested },
);
// Writes to a pipe or socket are asynchronous on Linux: let them drain (a `twin run --json -`
// report of a long run is hundreds of kilobytes) before exiting.
await Promise.all([process.stdout, process.stderr].map((stream) => new Promise<void>((resolve) => stream.write('', () => resolve()))));
// Synchronous commands leave nothing behind; a daemon has closed its sockets and timers.
process.exit();
