import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256 } from '../../src/crypto/hash.js';
import type { MeshCa } from '../../src/identity/ca.js';
import { startCaService, type CaService } from '../../src/node/ca-service.js';
import { initCaDirectory } from '../../src/node/ca-store.js';

/** A mesh CA in a fresh temporary directory with its service on 127.0.0.1 (port chosen by the system). */
export interface TestCa {
  readonly root: string;
  readonly caDir: string;
  readonly ca: MeshCa;
  /** The CA certificate's sha256 in hex: what `node init --ca-sha256` takes. */
  readonly pin: string;
  readonly service: CaService;
  /** Stops the service and removes the directory. */
  close(): Promise<void>;
}

/** Creates the CA (directory named `prefix`...) and starts its service. */
export async function startTestCa(prefix: string, trustDomain: string, passphrase: string): Promise<TestCa> {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const caDir = join(root, 'ca');
  const { ca } = initCaDirectory(caDir, trustDomain, passphrase, Date.now(), (bytes) => new Uint8Array(randomBytes(bytes)));
  const service = await startCaService({ dir: caDir, passphrase, listen: '127.0.0.1:0' });
  const pin = Buffer.from(sha256(ca.certificateDer)).toString('hex');
  return {
    root,
    caDir,
    ca,
    pin,
    service,
    close: async () => {
      await service.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** A URL where nothing listens (a port that was free a moment ago). */
export async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}
