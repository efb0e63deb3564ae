import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AcceptBudget, limitKeyOf } from '../../src/node/connection-budget.js';

describe('limitKeyOf: what counts as one remote address', () => {
  it('keeps IPv4 as it is and unmaps IPv4-mapped IPv6, so a dual-stack listener counts both forms as one', () => {
    expect(limitKeyOf('192.0.2.7')).toBe('192.0.2.7');
    expect(limitKeyOf('::ffff:192.0.2.7')).toBe('192.0.2.7');
  });

  it('counts IPv6 by its /64 prefix, whatever the spelling, zone id or IPv4 tail', () => {
    const key = '2001:db8:0:7::/64';
    for (const address of ['2001:db8:0:7::1', '2001:db8:0:7:ffff:ffff:ffff:ffff', '2001:0DB8:0000:0007:0:0:0:2', '2001:db8:0:7:1::9', '2001:db8:0:7::192.0.2.1']) {
      expect(limitKeyOf(address), address).toBe(key);
    }
    expect(limitKeyOf('2001:db8:0:8::1')).toBe('2001:db8:0:8::/64');
    expect(limitKeyOf('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(limitKeyOf('::1')).toBe('0:0:0:0::/64');
    expect(limitKeyOf('1:2:3:4:5:6:7:8')).toBe('1:2:3:4::/64');
  });

  it('gives every address of one /64 the same key (property)', () => {
    const hextet = fc.integer({ min: 0, max: 0xffff }).map((value) => value.toString(16));
    fc.assert(
      fc.property(fc.array(hextet, { minLength: 8, maxLength: 8 }), fc.array(hextet, { minLength: 4, maxLength: 4 }), (address, otherLow) => {
        const same = [...address.slice(0, 4), ...otherLow];
        expect(limitKeyOf(same.join(':'))).toBe(limitKeyOf(address.join(':')));
      }),
    );
  });
});

describe('AcceptBudget', () => {
  it('refuses the connection beyond perAddressMax from one address while others still get in, and takes it again after a release', () => {
    const budget = new AcceptBudget(10, 2);
    expect([budget.admit('10.0.0.1'), budget.admit('::ffff:10.0.0.1'), budget.admit('10.0.0.1')]).toEqual([null, null, 'perAddress']);
    expect(budget.admit('10.0.0.2')).toBeNull();
    expect(budget.open).toBe(3);
    budget.release('10.0.0.1');
    expect(budget.admit('10.0.0.1')).toBeNull();
  });

  it('refuses beyond totalMax, spread over many addresses', () => {
    const budget = new AcceptBudget(3, 1);
    expect(['2001:db8:0:1::1', '2001:db8:0:2::1', '2001:db8:0:3::1', '2001:db8:0:4::1'].map((host) => budget.admit(host))).toEqual([null, null, null, 'total']);
    // Another address of a /64 that is in already is refused per address first.
    expect(budget.admit('2001:db8:0:1::2')).toBe('perAddress');
    for (const host of ['2001:db8:0:1::9', '2001:db8:0:2::9', '2001:db8:0:3::9']) budget.release(host);
    expect(budget.open).toBe(0);
  });

  it('refuses bad limits and a release without an admitted connection, naming them', () => {
    expect(() => new AcceptBudget(0, 1)).toThrow('AcceptBudget: totalMax: expected a positive integer, got 0');
    expect(() => new AcceptBudget(4, 5)).toThrow('AcceptBudget: perAddressMax: expected an integer in 1..4 (totalMax), got 5');
    expect(() => new AcceptBudget(4, 1.5)).toThrow(/perAddressMax/);
    expect(() => new AcceptBudget(4, 2).release('10.0.0.1')).toThrow('AcceptBudget: release(10.0.0.1) without an admitted connection');
  });
});
