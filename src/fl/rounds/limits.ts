/** Bounds of the round protocol, in one place; the coordinator checks its options against them once, at construction. */
import { clientsMax } from '../aggregation/limits.js';

/** Most nodes a round may select: one aggregation takes at most clientsMax updates. */
export const participantsMax = clientsMax;
/** Most eligible nodes one selection draws from. */
export const eligibleMax = 1 << 20;
/** Longest round, from configuration to deadline: a day. */
export const roundDurationMsMax = 24 * 3600_000;
/** Largest example count one update may claim (it weighs FedAvg). */
export const examplesMax = 1 << 30;
