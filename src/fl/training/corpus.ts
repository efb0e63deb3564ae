/**
 * The training windows as the detector reads them, and each client's share of them. Building a
 * window's input rows (its own features, its links' means and maxima, the change since the
 * previous window) is the detector's own code (src/mapek); it is done once per window here and
 * shared by every client of the simulation, while a client only ever trains on the rows of the
 * nodes it owns (the rows of their neighbours enter only as GraphSAGE context, as they would
 * reach a node through its Hellos). Standardisation statistics and class counts are summed
 * from per-client moments, the way a federation computes them without pooling rows: sums and
 * counts are all the server learns, and the result equals a fit on the pooled rows.
 */
import { countClasses, faultClassCount } from '../../mapek/detector-loss.js';
import { Standardizer, type NodeInputBuilder, type WindowGraph } from '../../mapek/detector-features.js';
import { historyOf, prepareWindow } from '../../mapek/detector-train.js';
import type { Dataset } from '../../telemetry/types.js';
import { dataError, requireInteger } from './errors.js';

/** One training window: its graph over the nodes that were up, an input row and a class per row. */
export interface CorpusWindow {
  /** Index of the window's dataset in the training datasets. */
  readonly dataset: number;
  readonly graph: WindowGraph;
  /** [rows x inputDim]: raw until standardiseCorpus, standardised after. */
  readonly input: Float32Array;
  /** FaultClass value of each row. */
  readonly labels: Uint8Array;
}

/** Every training window, prepared once. */
export interface TrainingCorpus {
  readonly inputDim: number;
  readonly windows: readonly CorpusWindow[];
}

/** A client's local data: the corpus windows it has rows in, and those rows. */
export interface ClientShard {
  readonly client: number;
  /** Corpus window indices, ascending. */
  readonly windows: Int32Array;
  /** rows[i]: the rows of windows[i] the client owns (ascending). */
  readonly rows: readonly Int32Array[];
  /** Rows over all its windows: the client's example count. */
  readonly examples: number;
  /** Rows per FaultClass value. */
  readonly classCounts: Float64Array;
}

/** Per-column sums of a client's raw input rows: what it reports for the federated standardisation. */
export interface InputMoments {
  readonly rows: number;
  readonly sum: Float64Array;
  readonly squares: Float64Array;
}

/**
 * Prepares every `stride`-th window of every dataset (its history still the windows right
 * before it, so the change columns are those of the full run); raw, unstandardised inputs.
 */
export function buildCorpus(datasets: readonly Dataset[], builder: NodeInputBuilder, stride = 1): TrainingCorpus {
  requireInteger('buildCorpus', 'stride', stride, 1, 1_000_000);
  const identity = Standardizer.identity(builder.inputDim);
  const windows: CorpusWindow[] = [];
  datasets.forEach((dataset, d) => {
    for (let index = 0; index < dataset.windows.length; index += stride) {
      const prepared = prepareWindow(builder, identity, dataset.windows[index]!, historyOf({ dataset, index }, builder.deltaLags));
      windows.push({ dataset: d, graph: prepared.graph, input: prepared.input, labels: prepared.labels });
    }
  });
  if (windows.length === 0) throw dataError('buildCorpus: the training datasets hold no window');
  return { inputDim: builder.inputDim, windows };
}

/** A shard from the rows `owns(window, row)` selects in each corpus window. */
function shardOf(corpus: TrainingCorpus, client: number, owns: (window: CorpusWindow, row: number) => boolean): ClientShard {
  const windows: number[] = [];
  const rows: Int32Array[] = [];
  const classCounts = new Float64Array(faultClassCount + 1);
  let examples = 0;
  corpus.windows.forEach((window, w) => {
    const owned = Int32Array.from({ length: window.labels.length }, (_, row) => row).filter((row) => owns(window, row));
    if (owned.length === 0) return;
    windows.push(w);
    rows.push(owned);
    examples += owned.length;
    countClasses(Uint8Array.from(owned, (row) => window.labels[row]!), classCounts);
  });
  return { client, windows: Int32Array.from(windows), rows, examples, classCounts };
}

/**
 * Each client's shard: client k owns the rows of the nodes v with owners[dataset][v] === k
 * (owners from regionPartition, one array per training dataset).
 */
export function clientShards(corpus: TrainingCorpus, owners: readonly Int32Array[], clients: number): ClientShard[] {
  const shards = Array.from({ length: clients }, (_, client) => shardOf(corpus, client, (window, row) => owners[window.dataset]![window.graph.nodes[row]!] === client));
  const empty = shards.find((shard) => shard.examples === 0);
  if (empty !== undefined) throw dataError(`clientShards: client ${empty.client} owns no row of any training window`);
  return shards;
}

/** The pooled data as one shard: every row of every window (the centralised baseline's data). */
export function pooledShard(corpus: TrainingCorpus): ClientShard {
  return shardOf(corpus, -1, () => true);
}

/** The sums a client reports for the standardisation: row count and per-column sum and sum of squares over its rows. */
export function inputMoments(corpus: TrainingCorpus, shard: ClientShard): InputMoments {
  const dim = corpus.inputDim;
  const sum = new Float64Array(dim);
  const squares = new Float64Array(dim);
  shard.windows.forEach((w, i) => {
    const input = corpus.windows[w]!.input;
    for (const row of shard.rows[i]!) {
      for (let c = 0; c < dim; c++) {
        const value = input[row * dim + c]!;
        sum[c]! += value;
        squares[c]! += value * value;
      }
    }
  });
  return { rows: shard.examples, sum, squares };
}

/** The standardiser of the summed moments: the same means and scales as Standardizer.fit on the pooled rows. */
export function standardizerFromMoments(moments: readonly InputMoments[], dim: number): Standardizer {
  const sum = new Float64Array(dim);
  const squares = new Float64Array(dim);
  let rows = 0;
  for (const m of moments) {
    rows += m.rows;
    for (let c = 0; c < dim; c++) {
      sum[c]! += m.sum[c]!;
      squares[c]! += m.squares[c]!;
    }
  }
  if (rows === 0) throw dataError('standardizerFromMoments: no rows were reported');
  const mean = sum.map((s) => s / rows);
  const scale = squares.map((q, c) => {
    const deviation = Math.sqrt(Math.max(0, q / rows - mean[c]! * mean[c]!));
    return deviation >= Standardizer.scaleFloor ? deviation : 1;
  });
  return new Standardizer(mean, scale);
}

/** Standardises every corpus window's input rows in place (each client would do the same to its neighbourhood). */
export function standardiseCorpus(corpus: TrainingCorpus, standardizer: Standardizer): void {
  for (const window of corpus.windows) standardizer.apply(window.input);
}

/** The class counts summed over the clients' reports. */
export function summedClassCounts(shards: readonly ClientShard[]): Float64Array {
  const counts = new Float64Array(faultClassCount + 1);
  for (const shard of shards) shard.classCounts.forEach((count, c) => (counts[c]! += count));
  return counts;
}
