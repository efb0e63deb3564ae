import type { ProgressListener } from '../twin/runner.js';
import type { CliIo } from './io.js';

/** Width of the progress bar in characters. */
const barWidth = 30;

/** A progress bar on stderr when it is a terminal; nothing otherwise. */
export function progressBar(io: CliIo, label: string, quiet: boolean): { listener: ProgressListener | undefined; done: () => void } {
  if (quiet || !io.isTTY) return { listener: undefined, done: () => undefined };
  const listener: ProgressListener = ({ seedIndex, seeds, virtualMs, totalMs }) => {
    const fraction = (seedIndex + virtualMs / totalMs) / seeds;
    const filled = Math.round(fraction * barWidth);
    const bar = `${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}`;
    io.stderr(`\r${label} [${bar}] seed ${seedIndex + 1}/${seeds}, ${(virtualMs / 1000).toFixed(0)}/${(totalMs / 1000).toFixed(0)} s virtual`);
  };
  return { listener, done: () => io.stderr('\n') };
}
