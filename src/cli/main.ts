#!/usr/bin/env node
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { runCli } from './run.js';

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

process.exitCode = runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  isTTY: process.stderr.isTTY === true,
  readSecret: readSecretFromTerminal,
});
