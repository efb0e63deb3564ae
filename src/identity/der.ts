/**
 * The little DER surgery hybrid certificates need: the ML-DSA co-signature covers the
 * TBSCertificate without its altSignatureValue extension, and that form must be rebuilt from
 * the bytes as signed (re-encoding a decoded structure is not guaranteed to reproduce them).
 */

/** One TLV of a DER buffer: tag, where its value starts and where it ends. */
interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly valueStart: number;
  readonly end: number;
}

function readTlv(der: Uint8Array, offset: number): Tlv {
  if (offset + 2 > der.length) throw new RangeError(`DER: truncated header at ${offset}`);
  const tag = der[offset]!;
  const first = der[offset + 1]!;
  let length = first;
  let valueStart = offset + 2;
  if (first >= 0x80) {
    const octets = first & 0x7f;
    if (octets === 0 || octets > 4 || valueStart + octets > der.length) throw new RangeError(`DER: bad length at ${offset}`);
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + der[valueStart + i]!;
    valueStart += octets;
  }
  const end = valueStart + length;
  if (end > der.length) throw new RangeError(`DER: value at ${offset} runs past the end`);
  return { tag, start: offset, valueStart, end };
}

function children(der: Uint8Array, parent: Tlv): Tlv[] {
  const list: Tlv[] = [];
  for (let offset = parent.valueStart; offset < parent.end; ) {
    const child = readTlv(der, offset);
    list.push(child);
    offset = child.end;
  }
  return list;
}

function encodeLength(length: number): number[] {
  if (length < 0x80) return [length];
  const octets: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) octets.unshift(rest % 256);
  return [0x80 | octets.length, ...octets];
}

function wrap(tag: number, parts: readonly Uint8Array[]): Uint8Array {
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  const header = [tag, ...encodeLength(length)];
  const out = new Uint8Array(header.length + length);
  out.set(header);
  let offset = header.length;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Tag of the explicit [3] that holds a TBSCertificate's extensions. */
const extensionsTag = 0xa3;

/**
 * The TBSCertificate `tbsDer` with the extension whose OID encodes as `oidDer` (tag, length
 * and value bytes) removed; the TBS itself when it has no such extension. RangeError on bad DER.
 */
export function tbsWithoutExtension(tbsDer: Uint8Array, oidDer: Uint8Array): Uint8Array {
  const tbs = readTlv(tbsDer, 0);
  const fields = children(tbsDer, tbs);
  const parts = fields.map((field) => {
    if (field.tag !== extensionsTag) return tbsDer.subarray(field.start, field.end);
    const sequence = readTlv(tbsDer, field.valueStart);
    const kept = children(tbsDer, sequence).filter((extension) => {
      const id = readTlv(tbsDer, extension.valueStart);
      return !Buffer.from(tbsDer.subarray(id.start, id.end)).equals(oidDer);
    });
    return wrap(extensionsTag, [wrap(sequence.tag, kept.map((extension) => tbsDer.subarray(extension.start, extension.end)))]);
  });
  return wrap(tbs.tag, parts);
}
