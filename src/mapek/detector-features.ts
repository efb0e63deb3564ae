/**
 * From a telemetry window to what the detector reads: the boundary checks of windows and
 * datasets, the graph of the nodes that were up, and each node's input row. A node's row holds
 * its own features, then the mean and the maximum of the features of its incoming and of its
 * outgoing links (so evidence that neighbours measure on a link, such as loss towards a grey
 * hole, reaches the node even before message passing), then its in- and out-degree; optionally
 * followed by the difference of all of these from the previous window(s). Standardisation
 * statistics are fitted on training rows and travel with the model.
 */
import { undirectedGraph, type CsrGraph } from '../ml/graph.js';
import { faultClassNames, type Dataset, type TelemetryWindow } from '../telemetry/types.js';
import { DetectorError, DetectorErrorCode, deltaLagsMax, featureNamesMax, windowLinksMax, windowNodesMax } from './detector-errors.js';

/** The names of a dataset's node and link feature columns, in column order. */
export interface FeatureSchema {
  readonly nodeFeatureNames: readonly string[];
  readonly linkFeatureNames: readonly string[];
}

/** The graph of one window over the nodes that were up, in compact rows, and the links between them. */
export interface WindowGraph {
  /** Node id of each row (the alive nodes, ascending). */
  readonly nodes: Int32Array;
  /** Row of each node id, or -1 for a node that was down. */
  readonly rowOf: Int32Array;
  /** Undirected CSR over the rows: a directed link in either direction makes the two rows neighbours. */
  readonly graph: CsrGraph;
  /** Indices (into the window's link arrays) of the links whose ends were both up and differ. */
  readonly links: Int32Array;
  readonly linkFromRow: Int32Array;
  readonly linkToRow: Int32Array;
}

const inputError = (message: string): DetectorError => new DetectorError(DetectorErrorCode.ERR_DETECTOR_INPUT, message);

/** Checks feature names: strings, distinct, at most featureNamesMax of each kind. */
export function checkSchema(what: string, schema: FeatureSchema): void {
  for (const [kind, names] of [['node', schema.nodeFeatureNames], ['link', schema.linkFeatureNames]] as const) {
    if (!Array.isArray(names) || names.length > featureNamesMax) throw inputError(`${what}: expected ${kind}FeatureNames to be an array of at most ${featureNamesMax} names`);
    const seen = new Set<string>();
    names.forEach((name: unknown, i) => {
      if (typeof name !== 'string' || name.length === 0) throw inputError(`${what}: ${kind}FeatureNames[${i}] is ${JSON.stringify(name)}, expected a non-empty string`);
      if (seen.has(name)) throw inputError(`${what}: ${kind} feature ${JSON.stringify(name)} is named twice`);
      seen.add(name);
    });
  }
}

/** Refuses `got` unless its node and link feature names are exactly `expected`'s, in order. */
export function checkFeatureNames(what: string, expected: FeatureSchema, got: FeatureSchema): void {
  for (const kind of ['node', 'link'] as const) {
    const want = kind === 'node' ? expected.nodeFeatureNames : expected.linkFeatureNames;
    const have = kind === 'node' ? got.nodeFeatureNames : got.linkFeatureNames;
    if (want.length === have.length && want.every((name, i) => have[i] === name)) continue;
    throw new DetectorError(
      DetectorErrorCode.ERR_DETECTOR_FEATURE_NAMES,
      `${what}: ${kind} features ${JSON.stringify(have)} differ from the model's ${JSON.stringify(want)}; retrain or use data with the same features`,
    );
  }
}

function checkLength(what: string, name: string, array: ArrayLike<number>, expected: number): void {
  if (array.length !== expected) throw inputError(`${what}: expected ${name} of length ${expected}, got ${array.length}`);
}

function checkFinite(what: string, name: string, values: Float32Array, columns: number): void {
  for (let at = 0; at < values.length; at++) {
    const value = values[at]!;
    if (value - value !== 0) throw inputError(`${what}: ${name} at row ${Math.floor(at / columns)}, column ${at % columns} is ${value}; features must be finite`);
  }
}

function checkLabels(what: string, name: string, labels: Uint8Array): void {
  for (let at = 0; at < labels.length; at++) {
    if (labels[at]! >= faultClassNames.length) throw inputError(`${what}: ${name}[${at}] is ${labels[at]}, not a fault class (0..${faultClassNames.length - 1})`);
  }
}

/** Checks a window against its schema: sizes, array lengths, link endpoints in range, finite features, known fault classes. */
export function checkWindow(what: string, schema: FeatureSchema, window: TelemetryWindow): void {
  const n = window.nodeCount;
  if (!Number.isInteger(n) || n < 0 || n > windowNodesMax) throw inputError(`${what}: expected nodeCount to be an integer in 0..${windowNodesMax}, got ${n}`);
  const links = window.linkFrom.length;
  if (links > windowLinksMax) throw inputError(`${what}: ${links} links exceed windowLinksMax ${windowLinksMax}`);
  checkLength(what, 'alive', window.alive, n);
  checkLength(what, 'nodeFeatures', window.nodeFeatures, n * schema.nodeFeatureNames.length);
  checkLength(what, 'nodeLabels', window.nodeLabels, n);
  checkLength(what, 'linkTo', window.linkTo, links);
  checkLength(what, 'linkFeatures', window.linkFeatures, links * schema.linkFeatureNames.length);
  checkLength(what, 'linkLabels', window.linkLabels, links);
  for (let i = 0; i < links; i++) {
    const from = window.linkFrom[i]!;
    const to = window.linkTo[i]!;
    if (from < 0 || from >= n || to < 0 || to >= n) throw inputError(`${what}: link ${i} (${from} -> ${to}) has an end outside 0..${n - 1}`);
  }
  checkFinite(what, 'nodeFeatures', window.nodeFeatures, schema.nodeFeatureNames.length);
  checkFinite(what, 'linkFeatures', window.linkFeatures, schema.linkFeatureNames.length);
  checkLabels(what, 'nodeLabels', window.nodeLabels);
  checkLabels(what, 'linkLabels', window.linkLabels);
}

/** Checks a dataset's feature names and every window. */
export function checkDataset(what: string, dataset: Dataset): void {
  checkSchema(what, dataset);
  dataset.windows.forEach((window, i) => checkWindow(`${what}: ${dataset.scenario}/${dataset.seed} window ${i}`, dataset, window));
}

/** True for a link the detector and the baselines score: both ends up, not a self-link. */
export function isScoredLink(window: TelemetryWindow, i: number): boolean {
  const from = window.linkFrom[i]!;
  const to = window.linkTo[i]!;
  return from !== to && window.alive[from] === 1 && window.alive[to] === 1;
}

/** The graph of the nodes that were up in `window`; links with a down end, and self-links, are left out. */
export function windowGraph(window: TelemetryWindow): WindowGraph {
  const n = window.nodeCount;
  const rowOf = new Int32Array(n).fill(-1);
  let rows = 0;
  for (let v = 0; v < n; v++) if (window.alive[v] === 1) rowOf[v] = rows++;
  const nodes = new Int32Array(rows);
  for (let v = 0; v < n; v++) if (rowOf[v]! >= 0) nodes[rowOf[v]!] = v;
  const kept: number[] = [];
  for (let i = 0; i < window.linkFrom.length; i++) {
    const from = rowOf[window.linkFrom[i]!]!;
    const to = rowOf[window.linkTo[i]!]!;
    if (from >= 0 && to >= 0 && from !== to) kept.push(i);
  }
  const links = Int32Array.from(kept);
  const linkFromRow = links.map((i) => rowOf[window.linkFrom[i]!]!);
  const linkToRow = links.map((i) => rowOf[window.linkTo[i]!]!);
  const ends = new Int32Array(2 * links.length);
  for (let k = 0; k < links.length; k++) {
    ends[2 * k] = linkFromRow[k]!;
    ends[2 * k + 1] = linkToRow[k]!;
  }
  return { nodes, rowOf, graph: undirectedGraph(rows, ends), links, linkFromRow, linkToRow };
}

/** Names of a node's base features: node.<f>, in.mean.<l>, in.max.<l>, out.mean.<l>, out.max.<l>, degree.in, degree.out. */
export function baseFeatureNames(schema: FeatureSchema): string[] {
  const links = (prefix: string): string[] => schema.linkFeatureNames.map((name) => `${prefix}.${name}`);
  return [...schema.nodeFeatureNames.map((name) => `node.${name}`), ...links('in.mean'), ...links('in.max'), ...links('out.mean'), ...links('out.max'), 'degree.in', 'degree.out'];
}

/** Names of the detector's input columns: the base features, then delta<j>.<base> for each lag j. */
export function inputFeatureNames(schema: FeatureSchema, deltaLags: number): string[] {
  const base = baseFeatureNames(schema);
  const names = [...base];
  for (let lag = 1; lag <= deltaLags; lag++) names.push(...base.map((name) => `delta${lag}.${name}`));
  return names;
}

/**
 * Base features of every node of `window`, [nodeCount x base width] (rows of nodes that were
 * down stay 0). Links with a down end or from a node to itself are left out, as in windowGraph.
 */
export function baseFeatures(schema: FeatureSchema, window: TelemetryWindow): Float32Array {
  const f = schema.nodeFeatureNames.length;
  const l = schema.linkFeatureNames.length;
  const width = f + 4 * l + 2;
  const n = window.nodeCount;
  const out = new Float32Array(n * width);
  for (let v = 0; v < n; v++) if (window.alive[v] === 1) out.set(window.nodeFeatures.subarray(v * f, (v + 1) * f), v * width);
  const inCount = new Int32Array(n);
  const outCount = new Int32Array(n);
  for (let i = 0; i < window.linkFrom.length; i++) {
    const from = window.linkFrom[i]!;
    const to = window.linkTo[i]!;
    if (from === to || window.alive[from] !== 1 || window.alive[to] !== 1) continue;
    // A link is outgoing for its source (columns after the incoming block) and incoming for its target.
    accumulate(out, to * width + f, inCount[to]!, window.linkFeatures, i * l, l);
    accumulate(out, from * width + f + 2 * l, outCount[from]!, window.linkFeatures, i * l, l);
    inCount[to]!++;
    outCount[from]!++;
  }
  for (let v = 0; v < n; v++) {
    const row = v * width;
    finishMeans(out, row + f, inCount[v]!, l);
    finishMeans(out, row + f + 2 * l, outCount[v]!, l);
    out[row + width - 2] = Math.log1p(inCount[v]!);
    out[row + width - 1] = Math.log1p(outCount[v]!);
  }
  return out;
}

/** Adds one link's features into a [sum | max] block; `seen` links were added before. */
function accumulate(out: Float32Array, at: number, seen: number, features: Float32Array, from: number, l: number): void {
  for (let c = 0; c < l; c++) {
    const value = features[from + c]!;
    out[at + c]! += value;
    if (seen === 0 || value > out[at + l + c]!) out[at + l + c] = value;
  }
}

function finishMeans(out: Float32Array, at: number, count: number, l: number): void {
  if (count > 1) for (let c = 0; c < l; c++) out[at + c]! /= count;
}

/**
 * Builds detector input rows for the alive nodes of windows, with base features of recent
 * windows kept, so scoring a run window after window computes each window's base features once.
 */
export class NodeInputBuilder {
  readonly baseNames: readonly string[];
  readonly inputNames: readonly string[];
  readonly baseWidth: number;
  readonly inputDim: number;
  private readonly cache = new Map<TelemetryWindow, Float32Array>();

  /** An input builder for windows of `schema` with `deltaLags` previous windows differenced in. */
  constructor(
    readonly schema: FeatureSchema,
    readonly deltaLags: number,
  ) {
    if (!Number.isInteger(deltaLags) || deltaLags < 0 || deltaLags > deltaLagsMax) {
      throw new DetectorError(DetectorErrorCode.ERR_DETECTOR_ARGUMENT, `NodeInputBuilder: expected deltaLags to be an integer in 0..${deltaLagsMax}, got ${deltaLags}`);
    }
    this.baseNames = baseFeatureNames(schema);
    this.inputNames = inputFeatureNames(schema, deltaLags);
    this.baseWidth = this.baseNames.length;
    this.inputDim = this.inputNames.length;
  }

  /** Base features of `window` (cached for the last few windows). */
  base(window: TelemetryWindow): Float32Array {
    let base = this.cache.get(window);
    if (base !== undefined) return base;
    base = baseFeatures(this.schema, window);
    this.cache.set(window, base);
    if (this.cache.size > this.deltaLags + 2) this.cache.delete(this.cache.keys().next().value!);
    return base;
  }

  /**
   * Raw (unstandardised) inputs of the rows of `graph`, [rows x inputDim]: base features and,
   * for lag j, their change since history[history.length - j] (0 when that window is missing or
   * the node was down in it).
   */
  build(window: TelemetryWindow, history: readonly TelemetryWindow[], graph: WindowGraph): Float32Array {
    const width = this.baseWidth;
    const dim = this.inputDim;
    const base = this.base(window);
    const out = new Float32Array(graph.nodes.length * dim);
    graph.nodes.forEach((v, r) => out.set(base.subarray(v * width, (v + 1) * width), r * dim));
    for (let lag = 1; lag <= this.deltaLags && lag <= history.length; lag++) {
      const previous = history[history.length - lag]!;
      const before = this.base(previous);
      for (let r = 0; r < graph.nodes.length; r++) {
        const v = graph.nodes[r]!;
        if (v >= previous.nodeCount || previous.alive[v] !== 1) continue;
        const at = r * dim + lag * width;
        for (let c = 0; c < width; c++) out[at + c] = base[v * width + c]! - before[v * width + c]!;
      }
    }
    return out;
  }
}

/** Column means and scales fitted on training rows; inputs are standardised as (x - mean) / scale. */
export class Standardizer {
  /** Columns whose standard deviation is below this get scale 1 (they are nearly constant in training). */
  static readonly scaleFloor = 1e-6;

  /** A standardiser from its column means and scales (both finite; scales positive). */
  constructor(
    readonly mean: Float64Array,
    readonly scale: Float64Array,
  ) {}

  /** Fits means and standard deviations on `rows` rows of `columns` values; rows are chunks of [k x columns] matrices. */
  static fit(columns: number, chunks: Iterable<Float32Array>): Standardizer {
    const sum = new Float64Array(columns);
    const squares = new Float64Array(columns);
    let rows = 0;
    for (const chunk of chunks) {
      for (let at = 0; at < chunk.length; at++) {
        const value = chunk[at]!;
        sum[at % columns]! += value;
        squares[at % columns]! += value * value;
      }
      rows += chunk.length / columns;
    }
    const mean = sum.map((s) => (rows === 0 ? 0 : s / rows));
    const scale = squares.map((q, c) => {
      const deviation = Math.sqrt(Math.max(0, rows === 0 ? 0 : q / rows - mean[c]! * mean[c]!));
      return deviation >= Standardizer.scaleFloor ? deviation : 1;
    });
    return new Standardizer(mean, scale);
  }

  /** The standardiser that changes nothing (mean 0, scale 1). */
  static identity(columns: number): Standardizer {
    return new Standardizer(new Float64Array(columns), new Float64Array(columns).fill(1));
  }

  /** Standardises `values` ([k x columns]) in place and returns it. */
  apply(values: Float32Array): Float32Array {
    const columns = this.mean.length;
    for (let at = 0; at < values.length; at++) values[at] = (values[at]! - this.mean[at % columns]!) / this.scale[at % columns]!;
    return values;
  }
}

/** The features of the kept links of `graph`, [links x link width], copied from `window`. */
export function linkRows(window: TelemetryWindow, graph: WindowGraph, width: number): Float32Array {
  const out = new Float32Array(graph.links.length * width);
  graph.links.forEach((i, k) => out.set(window.linkFeatures.subarray(i * width, (i + 1) * width), k * width));
  return out;
}
