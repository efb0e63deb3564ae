import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Preloaded (`node --import`) into the node process whose memory the forwarding benchmark
 * measures (plain JavaScript: that process runs the compiled daemon, without tsx). With
 * X0T_BENCH_MEMORY_DIR set, SIGUSR2 makes the process run two full collections (when started
 * with --expose-gc) and write process.memoryUsage() to <dir>/<pid>.json. It changes nothing
 * else; without the variable it does nothing.
 */

const dir = process.env.X0T_BENCH_MEMORY_DIR;
if (dir !== undefined && dir !== '') {
  const gc = globalThis.gc;
  process.on('SIGUSR2', () => {
    gc?.();
    gc?.();
    const file = join(dir, `${process.pid}.json`);
    // Written aside and renamed, so the reader never sees half a file.
    writeFileSync(`${file}.tmp`, JSON.stringify({ memory: process.memoryUsage(), gcExposed: gc !== undefined }));
    renameSync(`${file}.tmp`, file);
  });
}
