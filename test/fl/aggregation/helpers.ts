/** Small helpers shared by the aggregation tests. */

/** Float32Arrays from plain number lists. */
export const f32 = (...rows: number[][]): Float32Array[] => rows.map((row) => Float32Array.from(row));

/** A seeded xorshift generator of uniforms in [0, 1). */
export function uniforms(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

/** n seeded updates of length d with values in [-scale, scale). */
export function randomUpdates(n: number, d: number, seed: number, scale = 1): Float32Array[] {
  const next = uniforms(seed);
  return Array.from({ length: n }, () => Float32Array.from({ length: d }, () => (next() * 2 - 1) * scale));
}

/** Per-coordinate reference: sort the column in f64 and hand it to `pick`. */
export function perColumn(updates: readonly Float32Array[], pick: (sorted: number[]) => number): Float32Array {
  const d = updates[0]!.length;
  return Float32Array.from({ length: d }, (_, j) => pick(updates.map((u) => u[j]!).sort((a, b) => a - b)));
}
