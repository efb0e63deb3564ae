import { sha256 } from '../crypto/hash.js';
import { readCaCertificate } from '../node/ca-store.js';
import { CaServiceError, startCaService } from '../node/ca-service.js';
import { caPassphrase, parseCaFlags, parseDurationMs, pinText, requiredFlag } from './ca-args.js';
import { UsageError } from './errors.js';
import type { CliIo } from './io.js';

/** Where `ca serve` listens unless told otherwise: loopback only, so exposing the CA is a decision. */
export const caListenDefault = '127.0.0.1:7470';

/** Where stop signals come from: the process, or an emitter in tests. */
export type SignalSource = Pick<NodeJS.EventEmitter, 'on' | 'off'>;

/** What ends `ca serve`: a promise that settles when the process is asked to stop (the shape of the CLI's StopSignal). */
export interface ServeStop {
  readonly promise: Promise<unknown>;
}

/** A stop that settles on the first SIGINT or SIGTERM of `source`, after which both handlers are removed. */
export function untilSignalled(source: SignalSource = process): ServeStop {
  return {
    promise: new Promise<string>((resolve) => {
      const stop = (name: string): void => {
        source.off('SIGINT', onInt);
        source.off('SIGTERM', onTerm);
        resolve(name);
      };
      const onInt = (): void => stop('SIGINT');
      const onTerm = (): void => stop('SIGTERM');
      source.on('SIGINT', onInt);
      source.on('SIGTERM', onTerm);
    }),
  };
}

/**
 * `x0tta6bl4 ca serve --dir DIR [--listen HOST:PORT] [--svid-ttl 1h]`: runs the CA service until
 * `stop` settles (without one: the first SIGINT or SIGTERM), then closes it and resolves 0.
 * Requests are logged to stderr, one line each.
 */
export async function caServeCommand(argv: readonly string[], io: CliIo, env: NodeJS.ProcessEnv = process.env, stop?: ServeStop): Promise<number> {
  const { values } = parseCaFlags(argv, { dir: { type: 'string' }, listen: { type: 'string' }, 'svid-ttl': { type: 'string' } });
  const dir = requiredFlag(values, 'dir');
  const listen = typeof values.listen === 'string' ? values.listen : caListenDefault;
  const svidTtlMs = typeof values['svid-ttl'] === 'string' ? parseDurationMs('--svid-ttl', values['svid-ttl']) : undefined;
  const passphrase = caPassphrase(io, env);
  let service: Awaited<ReturnType<typeof startCaService>>;
  try {
    service = await startCaService({ dir, passphrase, listen, ...(svidTtlMs === undefined ? {} : { svidTtlMs }), log: (line) => io.stderr(`${new Date().toISOString()} ${line}\n`) });
  } catch (error) {
    if (error instanceof CaServiceError || error instanceof RangeError) throw new UsageError(error.message);
    throw error;
  }
  const { trustDomain, certificateDer } = readCaCertificate(dir);
  io.stdout(`CA of ${trustDomain} serving on ${service.address}\n  CA certificate sha256 ${pinText(sha256(certificateDer))}\n  stop with Ctrl-C (SIGINT) or SIGTERM\n`);
  await (stop ?? untilSignalled()).promise;
  await service.close();
  io.stdout('CA service stopped\n');
  return 0;
}
