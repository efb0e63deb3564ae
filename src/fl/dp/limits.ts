/**
 * Bounds of src/fl/dp, in one place. They bound what one accountant call can cost and keep a
 * configuration mistake (an order of 10^9, a search that never ends) from hanging a round.
 */

/** Largest RDP order accepted: the integer expansion costs one term per unit of order. */
export const rdpOrderMax = 10_000;

/** Most terms past the order itself summed in the fractional-order series before it settles for a bracket. */
export const fractionalSeriesTermsMax = 2_000;

/**
 * Natural-log margin under the running total at which the fractional series stops: a term
 * e^-40 (about 4e-18) times the total changes no float64 digit.
 */
export const seriesStopLogMargin = 40;

/** Largest noise multiplier the search for a target epsilon tries before giving up. */
export const noiseMultiplierSearchMax = 1e6;

/** Relative width of the bracket at which the noise-multiplier search stops. */
export const noiseMultiplierSearchRelTolerance = 1e-9;

/** Most steps in one segment: beyond 2^53 a float64 no longer holds every integer. */
export const stepsMax = Number.MAX_SAFE_INTEGER;

/** Longest update vector (Float32Array elements) the DP aggregator accepts. */
export const updateLengthMax = 1 << 28;
