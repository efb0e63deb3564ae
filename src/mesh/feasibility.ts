import { metricInfinity } from '../wire/limits.js';
import { seqnoNewer } from './seqno.js';

/** A feasibility distance (RFC 8966 3.5.1): the best (seqno, metric) this node has advertised for a source. */
export interface FeasibilityDistance {
  readonly seqno: number;
  readonly metric: number;
}

/**
 * The feasibility condition of RFC 8966 3.5.1: an update (seqno, metric) received from a
 * neighbour is feasible when it is a retraction, when no distance is recorded, when its
 * seqno is newer than the recorded one, or when the seqnos are equal and its metric is
 * strictly smaller. Routes chosen only among feasible updates can never form a loop.
 */
export function isFeasible(fd: FeasibilityDistance | null, seqno: number, metric: number): boolean {
  if (metric === metricInfinity || fd === null) return true;
  if (seqnoNewer(seqno, fd.seqno)) return true;
  return seqno === fd.seqno && metric < fd.metric;
}

/** The feasibility distance after advertising (seqno, metric): it only ever gets stricter. */
export function advanceFeasibility(
  fd: FeasibilityDistance | null,
  seqno: number,
  metric: number,
): FeasibilityDistance | null {
  if (metric === metricInfinity) return fd;
  if (fd === null || seqnoNewer(seqno, fd.seqno)) return { seqno, metric };
  if (seqno === fd.seqno && metric < fd.metric) return { seqno, metric };
  return fd;
}
