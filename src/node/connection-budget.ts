import assert from 'node:assert/strict';
import { unmapIpv4 } from './links.js';

/**
 * How many accepted connections a TCP listener keeps open: at most `totalMax` in all and at most
 * `perAddressMax` from one remote address, so that one host cannot take every slot. IPv6
 * addresses are counted by their /64 prefix: a single subscriber is usually given a whole /64
 * and can pick any address in it, so counting full addresses would bound nothing. Sans-IO: the
 * transport asks before it keeps a socket and tells when the socket is gone.
 */

/** Hextets of an IPv6 address that name the "same remote address" for the limit (a /64). */
export const ipv6LimitPrefixHextets = 4;

/** Why a connection was not kept. */
export type AcceptRefusal = 'perAddress' | 'total';

/** The IPv6 address `address` (no zone id) as its eight hextets, lower case, without leading zeros. */
function hextetsOf(address: string): string[] {
  // An IPv4 tail (::1.2.3.4, 64:ff9b::1.2.3.4) is two hextets in the low 64 bits: they never
  // reach the /64 prefix, so any two stand-in hextets do.
  const withoutIpv4 = address.includes('.') ? address.replace(/[^:]*$/, '0:0') : address;
  const [head, tail] = withoutIpv4.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((hextet) => Number.parseInt(hextet, 16).toString(16));
}

/**
 * The key an accepted connection from `host` is counted under: an IPv4 address as it is
 * (IPv4-mapped IPv6 too), an IPv6 address as its /64 prefix, e.g. `2001:db8:0:7::/64`.
 */
export function limitKeyOf(host: string): string {
  const plain = unmapIpv4(host);
  if (!plain.includes(':')) return plain;
  const hextets = hextetsOf(plain.split('%')[0]!);
  return `${hextets.slice(0, ipv6LimitPrefixHextets).join(':')}::/${ipv6LimitPrefixHextets * 16}`;
}

/** Counts of open accepted connections, in all and per remote address. */
export class AcceptBudget {
  readonly #perKey = new Map<string, number>();
  #open = 0;

  /** A budget of `totalMax` connections, `perAddressMax` of them from one address; throws a RangeError naming a bad limit. */
  constructor(
    readonly totalMax: number,
    readonly perAddressMax: number,
  ) {
    if (!Number.isSafeInteger(totalMax) || totalMax < 1) throw new RangeError(`AcceptBudget: totalMax: expected a positive integer, got ${totalMax}`);
    if (!Number.isSafeInteger(perAddressMax) || perAddressMax < 1 || perAddressMax > totalMax) {
      throw new RangeError(`AcceptBudget: perAddressMax: expected an integer in 1..${totalMax} (totalMax), got ${perAddressMax}`);
    }
  }

  /** Open connections counted now. */
  get open(): number {
    return this.#open;
  }

  /** Takes a slot for a connection from `host`, or says why there is none. Pair a null answer with one release(host). */
  admit(host: string): AcceptRefusal | null {
    const key = limitKeyOf(host);
    const count = this.#perKey.get(key) ?? 0;
    if (count >= this.perAddressMax) return 'perAddress';
    if (this.#open >= this.totalMax) return 'total';
    this.#perKey.set(key, count + 1);
    this.#open++;
    return null;
  }

  /** Gives back the slot of a connection from `host` that admit() kept. */
  release(host: string): void {
    const key = limitKeyOf(host);
    const count = this.#perKey.get(key);
    assert(count !== undefined && count > 0, `AcceptBudget: release(${host}) without an admitted connection`);
    // Emptied keys go, so addresses that came and went leave nothing behind.
    if (count === 1) this.#perKey.delete(key);
    else this.#perKey.set(key, count - 1);
    this.#open--;
  }
}
