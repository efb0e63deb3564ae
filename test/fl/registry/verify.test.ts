import { describe, expect, it } from 'vitest';
import { isRegistryError, type RegistryErrorCodeValue } from '../../../src/fl/registry/errors.js';
import type { ModelMetadata } from '../../../src/fl/registry/metadata.js';
import { checkTrust, signerOf, signModelId } from '../../../src/fl/registry/signing.js';
import { checkHashes, checkParent, verifyIntegrity, verifyVersion } from '../../../src/fl/registry/verify.js';
import { createVersion, decodeVersion, encodeVersion, modelIdOfMetadata, type ModelVersion } from '../../../src/fl/registry/version.js';
import { encodeMetadata } from '../../../src/fl/registry/metadata.js';
import { aggregator, chain, draft, keysFor, nodes, smallConfig, stranger, trust } from './fixtures.js';

function refusal(action: () => unknown): { code: RegistryErrorCodeValue; message: string } | undefined {
  try {
    action();
  } catch (error) {
    if (isRegistryError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  return undefined;
}

const [first, second, third] = chain(3) as [ModelVersion, ModelVersion, ModelVersion];

function withMetadata(version: ModelVersion, change: Partial<ModelMetadata>): ModelVersion {
  return { ...version, metadata: { ...version.metadata, ...change } };
}

describe('verifying a model version before installing it', () => {
  it('accepts a genuine chain and names the signer', () => {
    expect(verifyVersion(first, trust, null)).toBe(0);
    expect(verifyVersion(second, trust, first)).toBe(0);
    expect(verifyVersion(third, [stranger.publicKeys, aggregator.publicKeys], second)).toBe(1);
  });

  it('refuses a tampered parameter', () => {
    const parameters = second.parameters.slice();
    parameters[7]! += 1e-3;
    const found = refusal(() => verifyVersion({ ...second, parameters }, trust, first));
    expect(found?.code).toBe('ERR_FL_VERSION_PARAMETERS');
    expect(found?.message).toMatch(/parameters hash to .* metadata.modelSha256 says/);
    expect(refusal(() => verifyVersion({ ...second, parameters: parameters.subarray(1) }, trust, first))?.code).toBe('ERR_FL_VERSION_PARAMETERS');
  });

  it('refuses each tampered metadata field by the id check', () => {
    const changes: Partial<ModelMetadata>[] = [
      { parentId: third.id },
      { round: 7 },
      { participants: nodes(3, 5) },
      { strategy: { name: 'fedAvg', params: {} } },
      { strategy: { name: 'trimmedMean', params: { beta: 0.2 } } },
      { privacy: { ...second.metadata.privacy!, epsilonSpent: 0.01 } },
      { privacy: null },
      { createdAtMs: second.metadata.createdAtMs + 1 },
    ];
    for (const change of changes) {
      const found = refusal(() => verifyVersion(withMetadata(second, change), trust, first));
      expect(found?.code, JSON.stringify(change)).toBe('ERR_FL_VERSION_ID');
      expect(found?.message).toMatch(/a metadata field was altered/);
    }
  });

  it('refuses a changed architecture or model hash as parameters that do not match', () => {
    const sigmoid = { ...smallConfig, head: 'sigmoid' as const };
    expect(refusal(() => verifyVersion(withMetadata(second, { modelConfig: sigmoid }), trust, first))?.code).toBe('ERR_FL_VERSION_PARAMETERS');
    expect(refusal(() => verifyVersion(withMetadata(second, { modelSha256: 'c'.repeat(64) }), trust, first))?.code).toBe('ERR_FL_VERSION_PARAMETERS');
    expect(refusal(() => verifyVersion(withMetadata(second, { round: -3 }), trust, first))?.code).toBe('ERR_FL_VERSION_FORMAT');
  });

  it('refuses a tampered signature, a signature by an untrusted key, and a re-hashed id without the keys', () => {
    const flipped = second.signature.slice();
    flipped[100]! ^= 0x80;
    expect(refusal(() => verifyVersion({ ...second, signature: flipped }, trust, first))?.code).toBe('ERR_FL_VERSION_SIGNATURE');
    const pqOnlyFlip = second.signature.slice();
    pqOnlyFlip[3000]! ^= 1;
    expect(refusal(() => verifyVersion({ ...second, signature: pqOnlyFlip }, trust, first))?.code).toBe('ERR_FL_VERSION_SIGNATURE');
    expect(refusal(() => verifyVersion({ ...second, signature: second.signature.subarray(1) }, trust, first))?.code).toBe('ERR_FL_VERSION_SIGNATURE');
    const forged = createVersion(draft(1, first.id), stranger);
    const found = refusal(() => verifyVersion(forged, trust, first));
    expect(found).toEqual({ code: 'ERR_FL_VERSION_SIGNATURE', message: expect.stringMatching(/does not verify under any of the 1 trusted aggregator keys/) as unknown });
    const altered = withMetadata(second, { round: 9 });
    const rehashed = { ...altered, id: modelIdOfMetadata(encodeMetadata(altered.metadata)) };
    expect(refusal(() => verifyVersion(rehashed, trust, first))?.code).toBe('ERR_FL_VERSION_SIGNATURE');
  });

  it('refuses tampering at the byte level of the encoded version', () => {
    const bytes = encodeVersion(second);
    const idFlip = bytes.slice();
    idFlip[10]! ^= 1;
    expect(refusal(() => verifyVersion(decodeVersion(idFlip), trust, first))?.code).toBe('ERR_FL_VERSION_ID');
    const roundFlip = bytes.slice();
    roundFlip[Buffer.from(bytes).indexOf('"round":1') + 8] = '2'.charCodeAt(0);
    expect(refusal(() => verifyVersion(decodeVersion(roundFlip), trust, first))?.code).toBe('ERR_FL_VERSION_ID');
    const signatureFlip = bytes.slice();
    signatureFlip[bytes.length - 5]! ^= 1;
    expect(refusal(() => verifyVersion(decodeVersion(signatureFlip), trust, first))?.code).toBe('ERR_FL_VERSION_SIGNATURE');
  });

  it('refuses a genuine version in the wrong place of the chain', () => {
    expect(refusal(() => verifyVersion(third, trust, first))).toMatchObject({ code: 'ERR_FL_VERSION_PARENT', message: expect.stringMatching(/expected the current model/) as unknown });
    expect(refusal(() => verifyVersion(second, trust, null))).toMatchObject({ code: 'ERR_FL_VERSION_PARENT', message: expect.stringMatching(/only a first model fits/) as unknown });
    expect(refusal(() => verifyVersion(first, trust, second))).toMatchObject({ code: 'ERR_FL_VERSION_PARENT', message: expect.stringMatching(/parent is null/) as unknown });
    const sameRound = createVersion(draft(1, second.id), aggregator);
    expect(refusal(() => verifyVersion(sameRound, trust, second))?.code).toBe('ERR_FL_VERSION_ROUND');
    const otherArchitecture = createVersion(draft(2, second.id, { modelConfig: { ...smallConfig, head: 'sigmoid' } }), aggregator);
    expect(refusal(() => verifyVersion(otherArchitecture, trust, second))?.code).toBe('ERR_FL_VERSION_CONFIG');
    const lessSpent = createVersion(draft(2, second.id, { privacy: { ...second.metadata.privacy!, epsilonSpent: 0.1 } }), aggregator);
    expect(refusal(() => verifyVersion(lessSpent, trust, second))).toMatchObject({ code: 'ERR_FL_VERSION_PRIVACY', message: expect.stringMatching(/never comes back/) as unknown });
    const noDpAfterDp = createVersion(draft(2, second.id, { privacy: null }), aggregator);
    expect(refusal(() => checkParent(noDpAfterDp, second))?.code).toBe('ERR_FL_VERSION_PRIVACY');
    const dpAfterNone = createVersion(draft(1, first.id), aggregator);
    expect(() => checkParent(dpAfterNone, first)).not.toThrow();
  });

  it('checks hashes without keys, and the signature under any trusted key', () => {
    expect(() => checkHashes(second)).not.toThrow();
    expect(verifyIntegrity(second, [keysFor(3).publicKeys, aggregator.publicKeys])).toBe(1);
    expect(signerOf(trust, second.id, signModelId(stranger, second.id))).toBe(-1);
    expect(signerOf([stranger.publicKeys], second.id, signModelId(stranger, second.id))).toBe(0);
  });

  it('refuses a malformed trust list', () => {
    expect(refusal(() => checkTrust([]))?.message).toMatch(/expected 1..16 aggregator keys, got 0/);
    expect(refusal(() => checkTrust(new Array(17).fill(aggregator.publicKeys)))?.code).toBe('ERR_FL_TRUST');
    expect(refusal(() => checkTrust([{ ...aggregator.publicKeys, ed25519PublicKey: new Uint8Array(31) }]))?.message).toMatch(/trust\[0\]: expected a 32-byte Ed25519 key/);
    expect(refusal(() => checkTrust([aggregator.publicKeys, { ...aggregator.publicKeys, mlDsaPublicKey: new Uint8Array(5) }]))?.message).toMatch(/trust\[1\]/);
  });
});
