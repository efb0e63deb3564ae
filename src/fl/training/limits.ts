/**
 * Named bounds of federated training. They keep a mistyped option from running for hours or
 * allocating without end; the relationship with the aggregation rules' bound is asserted once.
 */
import { clientsMax } from '../aggregation/limits.js';

/** Most clients one run may have. */
export const trainingClientsMax = 1024;
/** Most rounds of one run. */
export const roundsMax = 10_000;
/** Most local epochs a client runs per round. */
export const localEpochsMax = 100;
/** Most windows in one local mini-batch. */
export const batchWindowsMax = 1024;

// Every client of a round may report, and the aggregation rules refuse more than clientsMax updates.
if (trainingClientsMax > clientsMax) throw new Error(`limits: trainingClientsMax (${trainingClientsMax}) exceeds the aggregation rules' clientsMax (${clientsMax})`);
