/**
 * Bounds of src/fl/secagg, in one place. They keep a configuration mistake or a hostile message
 * from costing unbounded memory or time, and the relations between them are asserted once here.
 */

/** Most clients in one secure aggregation (one group): ids are u32 and the u32 ring must hold their sum. */
export const clientsMax = 10_000;

/** Longest update vector accepted: 2^26 words keep one masked input under 256 MiB. */
export const dimensionMax = 1 << 26;

/** Most neighbours of a client in the communication graph. */
export const neighboursMax = 1_000;

/** Bytes of a session id: 256 bits, so sessions never collide by chance. */
export const sessionIdBytes = 32;

/** Bytes of every seed, key and secret this module shares or derives: 256 bits. */
export const secretBytes = 32;

/** Largest client id: Shamir uses x = id + 1, and ids travel as u32. */
export const clientIdMax = 0xffff_fffe;

/** Largest binary exponent of the fixed-point scale: 2^52 keeps x * scale exact in a float64 for float32 inputs. */
export const scaleLog2Max = 52;

if (neighboursMax >= clientsMax) throw new Error('secagg limits: neighboursMax must be below clientsMax');
