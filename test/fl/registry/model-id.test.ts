import { describe, expect, it } from 'vitest';
import { isModelId, modelIdOf, parseModelId, shortModelId } from '../../../src/fl/registry/model-id.js';
import { isRegistryError } from '../../../src/fl/registry/errors.js';

describe('model ids', () => {
  it('are 64 lower-case hex digits made from a digest', () => {
    const id = modelIdOf(new Uint8Array(32).fill(0xab));
    expect(id).toBe('ab'.repeat(32));
    expect(isModelId(id)).toBe(true);
    expect(shortModelId(id)).toBe('ab'.repeat(8));
    expect(parseModelId(id)).toBe(id);
  });

  it('refuses anything else with a message naming the value', () => {
    for (const bad of ['AB'.repeat(32), 'ab'.repeat(31), 42, null]) {
      expect(isModelId(bad)).toBe(false);
      expect(() => parseModelId(bad, 'parentId')).toThrow(/parentId: expected 64 lower-case hex digits/);
    }
    try {
      parseModelId('x');
    } catch (error) {
      expect(isRegistryError(error, 'ERR_FL_VERSION_FORMAT')).toBe(true);
      expect(isRegistryError(error, 'ERR_FL_VERSION_ID')).toBe(false);
    }
    expect(isRegistryError(new Error('x'))).toBe(false);
  });
});
