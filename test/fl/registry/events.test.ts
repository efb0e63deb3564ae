import { describe, expect, it } from 'vitest';
import { decodeEvent, encodeEvent, type RegistryEvent } from '../../../src/fl/registry/events.js';
import { eventBytesMax } from '../../../src/fl/registry/limits.js';
import type { ModelId } from '../../../src/fl/registry/model-id.js';

const event: RegistryEvent = { seq: 2, kind: 'rollback', modelId: 'a'.repeat(64) as ModelId, previousId: 'b'.repeat(64) as ModelId, atMs: 5 };
const text = new TextDecoder().decode(encodeEvent(event));
const bytes = (value: string): Uint8Array => new TextEncoder().encode(value);

describe('registry events', () => {
  it('round-trip', () => {
    expect(decodeEvent(encodeEvent(event), 'e')).toEqual(event);
    const first = { ...event, seq: 1, kind: 'install' as const, previousId: null };
    expect(decodeEvent(encodeEvent(first), 'e')).toEqual(first);
  });

  it('refuse damaged bytes, naming the location and the field', () => {
    const cases: [string, RegExp][] = [
      ['{', /corrupt registry event events\/x.json: not UTF-8 JSON/],
      ['7', /format is undefined/],
      [text.replace('fl-event', 'fl-other'), /format is "x0tta6bl4\/fl-other"/],
      [text.replace('"seq":2', '"seq":0'), /seq is 0, expected an integer >= 1/],
      [text.replace('"rollback"', '"delete"'), /kind is "delete"/],
      [text.replace('"modelId":"a', '"modelId":"A'), /modelId is "A/],
      [text.replace('"previousId":"b', '"previousId":"B'), /previousId is "B/],
      [text.replace('"atMs":5', '"atMs":-5'), /atMs is -5/],
      [text.replace('"atMs":5', '"atMs":5.0'), /not in canonical form/],
      [text.replace('{', '{ '), /not in canonical form/],
      [' '.repeat(eventBytesMax + 1), /4097 bytes, more than 4096/],
    ];
    for (const [input, message] of cases) expect(() => decodeEvent(bytes(input), 'events/x.json'), input).toThrow(message);
  });
});
