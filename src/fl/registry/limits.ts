/**
 * Bounds of model versions and the registry, in one place. A version travels over the mesh and
 * sits in files a node reads at start, so every length a decoder meets is bounded before it
 * allocates.
 */
import { clientsMax } from '../aggregation/limits.js';
import { mlDsaSignatureBytes } from '../../crypto/mldsa.js';
import { ed25519SignatureBytes } from '../../crypto/curve25519.js';
import { modelHeaderBytesMax, parameterCountMax } from '../../ml/limits.js';

/** Most participants one version lists: one aggregation takes at most clientsMax updates. */
export const participantsMax = clientsMax;
/** Most bytes of a version's canonical metadata JSON (participants dominate: about 11 bytes each). */
export const metadataBytesMax = 64 * 1024;
/** Most strategy parameters a version records. */
export const strategyParamsMax = 16;
/** Longest strategy name or parameter name, in characters. */
export const strategyNameCharsMax = 64;
/** Bytes of the hybrid signature over a model id: Ed25519 then ML-DSA-65. */
export const versionSignatureBytes = ed25519SignatureBytes + mlDsaSignatureBytes;
/** Most bytes of the embedded model file (src/ml format: prefix, header, float32 parameters, hash). */
export const modelFileBytesMax = 20 + modelHeaderBytesMax + 4 * parameterCountMax + 32;
/** Most aggregator keys one trust bundle holds (every signature check may try each). */
export const trustedAggregatorsMax = 16;
/** Most bytes of one registry event file. */
export const eventBytesMax = 4096;
/** Most versions or events one registry holds; a bound on what opening a directory reads. */
export const registryEntriesMax = 100_000;
