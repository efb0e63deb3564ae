/** NodeId: validation, branding, and the 8-hex-digit text form. */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { formatNodeId, isNodeId, nodeId, nodeIdMax, parseNodeId } from '../../src/wire/ids.js';
import { nodeIdArb } from './arbitraries.js';

describe('isNodeId and nodeId', () => {
  test.each([1, 2, 0x7fffffff, 0x80000000, nodeIdMax])('%i is a NodeId', (value) => {
    expect(isNodeId(value)).toBe(true);
    expect(nodeId(value)).toBe(value);
  });

  test.each([0, -1, nodeIdMax + 1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('%d is not a NodeId', (value) => {
    expect(isNodeId(value)).toBe(false);
    expect(() => nodeId(value)).toThrow(RangeError);
    expect(() => nodeId(value)).toThrow(`nodeId: expected an integer in 1..${nodeIdMax}, got ${value}`);
  });
});

describe('formatNodeId and parseNodeId', () => {
  test('formats as 8 lower-case hex digits', () => {
    expect(formatNodeId(nodeId(1))).toBe('00000001');
    expect(formatNodeId(nodeId(0xdeadbeef))).toBe('deadbeef');
    expect(formatNodeId(nodeId(nodeIdMax))).toBe('ffffffff');
  });

  test('parses 8 lower-case hex digits', () => {
    expect(parseNodeId('00000001')).toBe(1);
    expect(parseNodeId('deadbeef')).toBe(0xdeadbeef);
  });

  test.each(['DEADBEEF', '0000001', '000000001', '', 'xyzxyzxy', ' 0000001', '-0000001'])('rejects %j', (text) => {
    expect(() => parseNodeId(text)).toThrow(RangeError);
    expect(() => parseNodeId(text)).toThrow(`parseNodeId: expected 8 lower-case hex digits, got ${JSON.stringify(text)}`);
  });

  test('rejects 00000000, which is well formed but reserved', () => {
    expect(() => parseNodeId('00000000')).toThrow('nodeId: expected an integer in 1..4294967295, got 0');
  });

  test('property: parse(format(id)) is id and format always gives 8 digits', () => {
    fc.assert(
      fc.property(nodeIdArb, (id) => {
        const text = formatNodeId(id);
        expect(text).toMatch(/^[0-9a-f]{8}$/);
        expect(parseNodeId(text)).toBe(id);
      }),
    );
  });
});
