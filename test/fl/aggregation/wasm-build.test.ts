import { describe, expect, it } from 'vitest';
import { flKernelsWasmBase64 } from '../../../src/fl/aggregation/kernels-wasm-binary.js';
import { compileWasm, flKernelsSource } from '../../../scripts/wasm-build.js';

describe('the committed WebAssembly of the aggregation kernels', () => {
  it('is exactly what wasm/fl-kernels.ts compiles to (run `npm run build:wasm` after changing it)', async () => {
    const binary = await compileWasm(flKernelsSource, { initialMemory: 1 });
    expect(Buffer.from(binary).toString('base64')).toBe(flKernelsWasmBase64);
  });
});
