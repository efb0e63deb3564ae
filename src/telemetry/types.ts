/**
 * The contract between telemetry (what a node and its host measure, per time window), the
 * twin's labelled datasets, the anomaly detector and the MAPE-K loop. Everything here is plain
 * data in typed arrays so that windows of thousands of nodes stay cheap to build, store and
 * feed to GraphSAGE.
 *
 * A window describes the network as it was during [startMs, endMs): which nodes were up, which
 * directed links carried a session, one row of node features per node and one row of link
 * features per directed link, and (in datasets) the fault class in effect for each node and
 * link. Feature values are normalised to roughly 0..1 (the names and their scaling live with
 * the feature lists); raw counters never reach the model.
 */

/** What is wrong with a node or a link, as the twin injected it; 0 is healthy. */
export const FaultClass = {
  healthy: 0,
  /** Drops a share (50-100 %) of the data it forwards, answers control traffic. */
  greyHole: 1,
  /** Drops all data it forwards, answers control traffic. */
  blackHole: 2,
  /** A link whose loss and delay grow slowly. */
  linkDegradation: 3,
  /** A link going down and up repeatedly. */
  flapping: 4,
  /** A link whose queue overflows under load. */
  congestion: 5,
  /** A host whose CPU is exhausted (it handles packets late). */
  cpuExhaustion: 6,
  /** A host running out of memory. */
  memoryExhaustion: 7,
  /** A node advertising impossibly low route metrics. */
  bogusMetrics: 8,
  /** A link on which a censor drops one traffic shape. */
  censorship: 9,
} as const;

/** One of the values of FaultClass. */
export type FaultClassValue = (typeof FaultClass)[keyof typeof FaultClass];

/** The fault class names in value order (index = value). */
export const faultClassNames = Object.keys(FaultClass) as readonly (keyof typeof FaultClass)[];

/** One window of telemetry for a whole network (or, in the daemon, one node's view of it). */
export interface TelemetryWindow {
  readonly startMs: number;
  readonly endMs: number;
  readonly nodeCount: number;
  /** 1 for each node that was up for the whole window, else 0. */
  readonly alive: Uint8Array;
  /** Directed links that had a usable neighbour during the window: from[i] -> to[i]. */
  readonly linkFrom: Int32Array;
  readonly linkTo: Int32Array;
  /** nodeCount rows of nodeFeatureNames.length values, row-major. */
  readonly nodeFeatures: Float32Array;
  /** One row of linkFeatureNames.length values per directed link, row-major. */
  readonly linkFeatures: Float32Array;
  /** Fault class of each node during the window (datasets; all 0 in live telemetry). */
  readonly nodeLabels: Uint8Array;
  /** Fault class of each directed link during the window (datasets; all 0 in live telemetry). */
  readonly linkLabels: Uint8Array;
}

/** A labelled dataset: the windows of one twin run. */
export interface Dataset {
  /** Format version of the files written by `twin dataset`. */
  readonly version: number;
  readonly scenario: string;
  readonly seed: number;
  /** The topology's name as the scenario gives it (held-out topologies are told apart by it). */
  readonly topology: string;
  readonly windowMs: number;
  readonly nodeFeatureNames: readonly string[];
  readonly linkFeatureNames: readonly string[];
  readonly windows: readonly TelemetryWindow[];
}

/**
 * Features every feature list must contain, by name, because rules read them directly (the rule
 * baseline and MAPE-K's safety rules): host CPU and memory use as a share of 1, and the loss of
 * a directed link as a share of 1.
 */
export const requiredNodeFeatures = ['cpu', 'memory'] as const;
export const requiredLinkFeatures = ['loss'] as const;

/**
 * One injected fault of a dataset, as the twin applied it: its class, the nodes or undirected
 * links (as [a, b] node pairs; both directions carry the label) it labels, and the interval it
 * was active, [startMs, endMs). A window is labelled with the fault when it overlaps that
 * interval. Detection delay is measured from `startMs`.
 */
export interface DatasetFault {
  /** The scenario's fault kind (greyHole, flap, degrade, ...). */
  readonly kind: string;
  readonly faultClass: FaultClassValue;
  readonly nodes: readonly number[];
  readonly links: readonly (readonly [number, number])[];
  readonly startMs: number;
  readonly endMs: number;
}

/**
 * A Dataset with the faults behind its labels. Added after Dataset (which stays as it was) so
 * that a consumer can ask for the fault list in its types; `generateDataset` and `readDataset`
 * return this.
 */
export interface LabelledDataset extends Dataset {
  readonly faults: readonly DatasetFault[];
}
