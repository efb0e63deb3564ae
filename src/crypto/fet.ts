/**
 * A model of the Great Firewall's passive detector for fully encrypted traffic (FET), as
 * reverse-engineered by Wu, Sippe, Sivakumar, Burg, Anderson, Wang, Bock, Houmansadr, Levin and
 * Wustrow, "How the Great Firewall of China Detects and Blocks Fully Encrypted Traffic", USENIX
 * Security 2023 (https://gfw.report/publications/usenixsecurity23/en), Algorithm 1.
 *
 * The censor does not define what fully encrypted traffic is; it exempts the first payload of a
 * connection when any of five crude rules says it is probably something else, and blocks what
 * remains. This module implements those rules exactly as published, so that the obfuscation
 * layer can be tested against them:
 *
 * - Ex1 (§4.1): popcount(pkt)/len(pkt) <= 3.4 or >= 4.6 set bits per byte.
 * - Ex2 (§4.2): the first six (or more) bytes are printable ASCII, [0x20, 0x7e].
 * - Ex3 (§4.2): more than 50 % of the bytes are printable ASCII.
 * - Ex4 (§4.2): more than 20 contiguous bytes are printable ASCII.
 * - Ex5 (§4.3): the payload matches a TLS or HTTP fingerprint: the first three bytes match
 *   [\x16-\x17]\x03[\x00-\x09], or the payload starts with "GET ", "PUT ", "POST " or "HEAD ".
 *
 * Two things the model leaves out on purpose. The GFW blocks only a fraction of the connections
 * it does not exempt (§6.3: about 26.3 % per connection, geometrically distributed), and only
 * toward some server ranges and only over TCP (§4.4, §6.2); `blocked` here means "would be
 * subject to blocking", i.e. no exemption applies. And the paper reports the HTTP methods as
 * matched case-insensitively with the space required (§4.3), whereas the authors' own
 * simulation script compares upper case only; we follow the paper's text, which exempts more.
 */

/** An exemption of Algorithm 1 that let a payload through, named after the paper's rule. */
export type FetExemption = 'ex1-popcount' | 'ex2-first-six-printable' | 'ex3-half-printable' | 'ex4-contiguous-printable' | 'ex5-protocol';

/** The model's verdict on the first payload of a flow. */
export interface FetVerdict {
  /** True when no exemption applies: the GFW would subject the connection to (probabilistic) blocking. */
  readonly blocked: boolean;
  /** The first exemption (in the paper's order Ex1..Ex5) that applies, or null. */
  readonly exemptBy: FetExemption | null;
  /** Set bits per byte of the payload (0 for an empty payload). */
  readonly popcountPerByte: number;
}

/** Ex1: at most this many set bits per byte is exempt (§4.1), as the fraction 17/5. */
export const fetPopcountPerByteLowMax = 3.4;
/** Ex1: at least this many set bits per byte is exempt (§4.1), as the fraction 23/5. */
export const fetPopcountPerByteHighMin = 4.6;
/** Ex2: this many leading printable bytes exempt a payload (§4.2). */
export const fetPrintablePrefixBytes = 6;
/** Ex4: a run of printable bytes longer than this exempts a payload (§4.2: "more than 20"). */
export const fetContiguousPrintableBytesMax = 20;
/** Lowest and highest byte the paper counts as printable ASCII. */
export const fetPrintableLow = 0x20;
export const fetPrintableHigh = 0x7e;

/** HTTP request-line prefixes of Ex5 (§4.3), upper case; matched case-insensitively. */
const httpPrefixes = ['GET ', 'PUT ', 'POST ', 'HEAD '] as const;

/** True when `byte` is printable ASCII in the paper's sense, [0x20, 0x7e]. */
export function isFetPrintable(byte: number): boolean {
  return byte >= fetPrintableLow && byte <= fetPrintableHigh;
}

function popcount8(byte: number): number {
  let bits = byte - ((byte >> 1) & 0x55);
  bits = (bits & 0x33) + ((bits >> 2) & 0x33);
  return (bits + (bits >> 4)) & 0x0f;
}

function totalPopcount(payload: Uint8Array): number {
  let total = 0;
  for (const byte of payload) total += popcount8(byte);
  return total;
}

/**
 * Ex1 with integers: popcount/len <= 17/5 or >= 23/5, so that a payload exactly on a threshold
 * is classified as the paper says and not as floating-point rounding happens to fall.
 */
function ex1Applies(popcount: number, length: number): boolean {
  return 5 * popcount <= 17 * length || 5 * popcount >= 23 * length;
}

function ex2Applies(payload: Uint8Array): boolean {
  if (payload.length < fetPrintablePrefixBytes) return false;
  for (let i = 0; i < fetPrintablePrefixBytes; i++) if (!isFetPrintable(payload[i]!)) return false;
  return true;
}

function ex3Applies(payload: Uint8Array): boolean {
  let printable = 0;
  for (const byte of payload) if (isFetPrintable(byte)) printable++;
  return 2 * printable > payload.length;
}

function longestPrintableRun(payload: Uint8Array): number {
  let longest = 0;
  let current = 0;
  for (const byte of payload) {
    current = isFetPrintable(byte) ? current + 1 : 0;
    if (current > longest) longest = current;
  }
  return longest;
}

function isTlsFingerprint(payload: Uint8Array): boolean {
  const [first, second, third] = payload;
  return (first === 0x16 || first === 0x17) && second === 0x03 && third !== undefined && third <= 0x09;
}

function isHttpFingerprint(payload: Uint8Array): boolean {
  return httpPrefixes.some((prefix) => {
    if (payload.length < prefix.length) return false;
    for (let i = 0; i < prefix.length; i++) {
      // ASCII upper-casing: clearing bit 5 maps a-z to A-Z; the space must match exactly.
      const byte = payload[i]!;
      const upper = byte >= 0x61 && byte <= 0x7a ? byte & 0xdf : byte;
      if (upper !== prefix.charCodeAt(i)) return false;
    }
    return true;
  });
}

function firstExemption(payload: Uint8Array, popcount: number): FetExemption | null {
  if (ex1Applies(popcount, payload.length)) return 'ex1-popcount';
  if (ex2Applies(payload)) return 'ex2-first-six-printable';
  if (ex3Applies(payload)) return 'ex3-half-printable';
  if (longestPrintableRun(payload) > fetContiguousPrintableBytesMax) return 'ex4-contiguous-printable';
  if (isTlsFingerprint(payload) || isHttpFingerprint(payload)) return 'ex5-protocol';
  return null;
}

/**
 * Applies Algorithm 1 of Wu et al. (USENIX Security 2023) to the first payload of a flow and
 * says whether the GFW would subject it to blocking. An empty payload has 0 set bits per byte
 * and so counts as exempt by Ex1 (the paper's rules judge the first packet that carries data;
 * one without data is never judged).
 */
export function fetVerdict(firstPayload: Uint8Array): FetVerdict {
  const popcount = totalPopcount(firstPayload);
  const popcountPerByte = firstPayload.length === 0 ? 0 : popcount / firstPayload.length;
  const exemptBy = firstExemption(firstPayload, popcount);
  return { blocked: exemptBy === null, exemptBy, popcountPerByte };
}
