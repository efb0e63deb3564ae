import { describe, expect, it } from 'vitest';
import { chacha20Poly1305WasmBase64 } from '../../src/crypto/chacha20-poly1305-wasm.js';
import { chachaSource, compileWasm } from '../../scripts/wasm-build.js';

describe('the committed WebAssembly', () => {
  it('is exactly what wasm/chacha20-poly1305.ts compiles to (run `npm run build:wasm` after changing it)', async () => {
    const binary = await compileWasm(chachaSource);
    expect(Buffer.from(binary).toString('base64')).toBe(chacha20Poly1305WasmBase64);
  });
});
