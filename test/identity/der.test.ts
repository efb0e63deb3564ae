import { describe, expect, it } from 'vitest';
import { tbsWithoutExtension } from '../../src/identity/der.js';
import { IdentityError, isIdentityError } from '../../src/identity/errors.js';

const oidA = Uint8Array.of(0x06, 0x01, 0x2a);
const oidB = Uint8Array.of(0x06, 0x01, 0x2b);

function tlv(tag: number, ...parts: number[][]): number[] {
  const body = parts.flat();
  const length = body.length < 0x80 ? [body.length] : [0x82, body.length >> 8, body.length & 0xff];
  return [tag, ...length, ...body];
}

function tbs(extensionOids: Uint8Array[], filler = 0): Uint8Array {
  const extensions = extensionOids.map((id) => tlv(0x30, [...id], tlv(0x04, [0x05, 0x00])));
  return Uint8Array.from(tlv(0x30, tlv(0x02, [0x01]), tlv(0x04, new Array<number>(filler).fill(7)), tlv(0xa3, tlv(0x30, ...extensions))));
}

describe('tbsWithoutExtension', () => {
  it('removes the named extension and fixes every length, short and long form', () => {
    expect(tbsWithoutExtension(tbs([oidA, oidB]), oidB)).toEqual(tbs([oidA]));
    expect(tbsWithoutExtension(tbs([oidA, oidB], 300), oidA)).toEqual(tbs([oidB], 300));
  });

  it('returns the same bytes when the extension is absent', () => {
    expect(tbsWithoutExtension(tbs([oidA]), oidB)).toEqual(tbs([oidA]));
  });

  it('refuses truncated or inconsistent DER with a RangeError naming the offset', () => {
    expect(() => tbsWithoutExtension(Uint8Array.of(0x30), oidA)).toThrow(/truncated header at 0/);
    expect(() => tbsWithoutExtension(Uint8Array.of(0x30, 0x05, 0x01), oidA)).toThrow(/runs past the end/);
    expect(() => tbsWithoutExtension(Uint8Array.of(0x30, 0x80), oidA)).toThrow(/bad length at 0/);
    expect(() => tbsWithoutExtension(Uint8Array.of(0x30, 0x85, 1, 1, 1, 1, 1), oidA)).toThrow(/bad length/);
  });
});

it('isIdentityError narrows by class and code', () => {
  const error = new IdentityError('ERR_TOKEN_USED', 'x');
  expect(isIdentityError(error, 'ERR_TOKEN_USED')).toBe(true);
  expect(isIdentityError(error, 'ERR_TOKEN_EXPIRED')).toBe(false);
  expect(isIdentityError(new Error('x'))).toBe(false);
});
