import { sha256 } from '../src/crypto/hash.js';

/**
 * A deterministic byte stream for tests: SHA-256 in counter mode over `label`. Fixed labels
 * give fixed keys, certificates and transcripts (the golden handshake transcript depends on it).
 */
export function seeded(label: string): (bytes: number) => Uint8Array {
  let counter = 0;
  let pool = new Uint8Array(0);
  return (bytes) => {
    while (pool.length < bytes) {
      const block = sha256(new TextEncoder().encode(`${label}/${counter++}`));
      const grown = new Uint8Array(pool.length + block.length);
      grown.set(pool);
      grown.set(block, pool.length);
      pool = grown;
    }
    const out = pool.slice(0, bytes);
    pool = pool.slice(bytes);
    return out;
  };
}
