import { readFileSync } from 'node:fs';
import type { TelemetryWindow } from '../telemetry/types.js';
import { FaultClass, type FaultClassValue } from '../telemetry/types.js';
import { subjectKey } from './actions.js';
import { AnomalyDetector } from './detector.js';
import { DetectorEnsemble } from './detector-ensemble.js';
import { ensembleMagic } from './detector-ensemble-format.js';
import { detectorMagic } from './detector-format.js';
import { DetectorError, DetectorErrorCode } from './detector-errors.js';
import type { FeatureSchema } from './detector-features.js';
import type { WindowScores } from './evaluation.js';
import type { Finding } from './loop.js';

/**
 * The GraphSAGE detector as an analyser of the MAPE-K loop: a window's node scores turned into
 * findings about the neighbours a node's loop can act on. The loop confirms, holds and clears
 * incidents itself (its hysteresis is the detector's temporal smoothing, see
 * src/mapek/confirmation.ts for what that does to the detector's figures).
 *
 * Scales. The detector flags a node at its own calibrated threshold; the loop opens an incident at
 * its cause's threshold (0.5 to start, adapting within +-0.2). loopScore maps the one onto the
 * other piecewise linearly, so a node scored at the detector's threshold is a finding at the
 * loop's, and 0 and 1 stay where they are.
 *
 * Causes. Only the faults of a node that the rules cannot see become findings: bogus metrics and
 * CPU or memory exhaustion. Grey and black holes are left to conservation, which judges them
 * from signed transit counts; the detector's calls of them are 82 % precise, and measured in the
 * loops (docs/mapek.md) its wrong ones quarantined healthy nodes. A node whose most likely class is
 * a link fault is left to the link-loss rule.
 */

/** What the loop needs of a detector (AnomalyDetector and DetectorEnsemble are both one). */
export interface WindowScorer {
  readonly nodeThreshold: number;
  scoreWindow(window: TelemetryWindow, history: readonly TelemetryWindow[]): WindowScores;
}

const nodeFaults: ReadonlySet<number> = new Set<FaultClassValue>([FaultClass.bogusMetrics, FaultClass.cpuExhaustion, FaultClass.memoryExhaustion]);

/** `score` (0..1, flagged at `threshold`) on the loop's scale, where `loopThreshold` is the threshold. */
export function loopScore(score: number, threshold: number, loopThreshold: number): number {
  if (!(threshold > 0 && threshold < 1) || !(loopThreshold > 0 && loopThreshold < 1)) {
    throw new RangeError(`loopScore: expected thresholds strictly between 0 and 1, got ${threshold} and ${loopThreshold}`);
  }
  const clipped = Math.min(1, Math.max(0, score));
  if (clipped <= threshold) return (clipped / threshold) * loopThreshold;
  return loopThreshold + ((clipped - threshold) / (1 - threshold)) * (1 - loopThreshold);
}

/**
 * The findings of one node's loop about `neighbours` (rows of the window, i.e. twin indices) from
 * a window's `scores`: one per neighbour that was scored and whose suspected cause is a fault of a
 * node, named by `idOf(row)` (its NodeId). A neighbour without a finding counts as below the
 * threshold in the loop, as it should: the detector saw nothing there.
 */
export function detectorFindings(scores: WindowScores, threshold: number, neighbours: Iterable<number>, idOf: (row: number) => number, loopThreshold = 0.5): Finding[] {
  const findings: Finding[] = [];
  for (const row of neighbours) {
    const score = scores.nodeScores[row];
    const cause = scores.nodeCauses?.[row];
    if (score === undefined || Number.isNaN(score) || cause === undefined || !nodeFaults.has(cause)) continue;
    findings.push({
      subject: { kind: 'node', node: idOf(row) },
      cause: cause as FaultClassValue,
      score: loopScore(score, threshold, loopThreshold),
      evidence: { detectorScore: score, detectorThreshold: threshold },
    });
  }
  return findings;
}

/**
 * Findings of two analysers about the same window merged: per subject the stronger one (by score),
 * so an incident opens when either is sure and a weak finding of one does not count as the other's
 * subject being below its threshold.
 */
export function strongestFindings(...lists: readonly (readonly Finding[])[]): Finding[] {
  const bySubject = new Map<string, Finding>();
  for (const finding of lists.flat()) {
    const key = subjectKey(finding.subject);
    const held = bySubject.get(key);
    if (held === undefined || finding.score > held.score) bySubject.set(key, finding);
  }
  return [...bySubject.values()];
}

/** Whether `bytes` begin with `magic`. */
function startsWith(bytes: Uint8Array, magic: Uint8Array): boolean {
  return bytes.length >= magic.length && magic.every((byte, i) => bytes[i] === byte);
}

/**
 * The scorer in detector file `path`: an ensemble (X0TDENSB) or one model (X0TDETEC), checked
 * against `schema` (the telemetry it will score) as the file's own decoder checks it. A file
 * that cannot be read, or is neither kind, is ERR_DETECTOR_READ or ERR_DETECTOR_FORMAT naming it.
 */
export function loadWindowScorer(path: string, schema: FeatureSchema): WindowScorer {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (error) {
    throw new DetectorError(DetectorErrorCode.ERR_DETECTOR_READ, `${path}: cannot read the detector file: ${(error as Error).message}`);
  }
  try {
    if (startsWith(bytes, ensembleMagic)) return DetectorEnsemble.decode(bytes, schema);
    if (startsWith(bytes, detectorMagic)) return AnomalyDetector.decode(bytes, schema);
  } catch (error) {
    if (error instanceof DetectorError) throw new DetectorError(error.code, `${path}: ${error.message}`);
    throw error;
  }
  const names = [ensembleMagic, detectorMagic].map((magic) => new TextDecoder().decode(magic));
  throw new DetectorError(DetectorErrorCode.ERR_DETECTOR_FORMAT, `${path}: not a detector file (its first bytes are neither ${names.join(' nor ')})`);
}
