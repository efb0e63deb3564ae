import { describe, expect, it } from 'vitest';
import { isIP } from 'node:net';
import { literalCacheEntriesMax, literalFamily, literalLookup } from '../../src/node/udp.js';

type Answer = { error: NodeJS.ErrnoException | null; address: string; family: number };

function lookup(address: string, family: number | { family: number }): { sync: Answer | null; done: Promise<Answer> } {
  let sync: Answer | null = null;
  let inCall = true;
  const done = new Promise<Answer>((resolve) => {
    literalLookup(address, family as never, (error, found, foundFamily) => {
      const answer = { error, address: found, family: foundFamily };
      if (inCall) sync = answer;
      resolve(answer);
    });
  });
  inCall = false;
  return { sync, done };
}

describe('literalLookup (the address lookup of UDP sockets)', () => {
  it('answers an IP literal of the socket family at once, with itself', async () => {
    expect(lookup('127.0.0.1', 4).sync).toEqual({ error: null, address: '127.0.0.1', family: 4 });
    expect(lookup('::1', 6).sync).toEqual({ error: null, address: '::1', family: 6 });
    expect(lookup('10.1.2.3', { family: 4 }).sync).toEqual({ error: null, address: '10.1.2.3', family: 4 });
  });

  it('leaves anything else to dns.lookup, which answers later', async () => {
    const name = lookup('localhost', 4);
    expect(name.sync).toBeNull();
    expect((await name.done).family).toBe(4);
    // An IPv4 literal on an IPv6 socket is no literal of its family.
    const mixed = lookup('127.0.0.1', 6);
    expect(mixed.sync).toBeNull();
    await mixed.done;
  });
});

describe('literalFamily (isIP, remembered)', () => {
  it('answers as isIP does, the same again from memory, and stays bounded', () => {
    for (const address of ['127.0.0.1', '::1', 'localhost', '::ffff:10.0.0.1', '']) {
      expect(literalFamily(address)).toBe(isIP(address));
      expect(literalFamily(address)).toBe(isIP(address));
    }
    // Past the bound the memory starts afresh, and answers stay right.
    for (let i = 0; i <= literalCacheEntriesMax; i++) expect(literalFamily(`10.0.${i >> 8}.${i & 0xff}`)).toBe(4);
    expect(literalFamily('fd00::1')).toBe(6);
  });
});
