/**
 * The GraphSAGE anomaly detector over telemetry windows. For each window it builds the graph of
 * the nodes that were up (directed links as undirected neighbours), gives each node its own
 * features plus the mean and maximum of its incoming and outgoing links' features and its
 * degrees (and their change since the previous window), standardised with statistics fitted on
 * the training windows, and runs a GraphSAGE model whose head gives each node an anomaly score
 * (sigmoid: any fault vs healthy) and a suspected cause (softmax over the fault classes). An
 * edge head (a logistic layer over both ends' embeddings and the link's features, trained after
 * the node model on its frozen embeddings) scores each directed link the same way. Thresholds
 * are calibrated on validation windows. See docs/detector.md.
 */
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import type { BinaryMetrics } from '../ml/classification.js';
import type { DetectorCalibration } from './class-calibration.js';
import { Workspace } from '../ml/engine.js';
import { denseFeatures } from '../ml/features.js';
import type { GraphSage } from '../ml/model.js';
import { seededRandom } from '../ml/random.js';
import type { Dataset, TelemetryWindow } from '../telemetry/types.js';
import { EdgeHead, edgeInputs, trainEdgeHead, type EdgeBatch } from './detector-edge.js';
import { DetectorError, DetectorErrorCode, detectorHeaderBytesMax, detectorModelBytesMax, isDetectorError } from './detector-errors.js';
import { checkDataset, checkFeatureNames, checkWindow, isScoredLink, linkRows, NodeInputBuilder, Standardizer, type FeatureSchema } from './detector-features.js';
import { decodeDetector, encodeDetector, type DetectorParts } from './detector-format.js';
import { countClasses, faultClassCount, lossWeights, scoresOfLogits } from './detector-loss.js';
import { historyOf, prepareWindow, runModel, trainNodeModel, windowRefs, type EpochRecord, type PreparedWindow, type WindowRef } from './detector-train.js';
import { checkRowWeighting, isNeutral, neutralRowWeighting, rowWeights } from './detector-row-weights.js';
import { calibrateScored, scoreAll, type Scorer, type WindowScores } from './evaluation.js';

/** Training settings; everything but the seed has a default (detectorDefaults). */
export interface DetectorOptions {
  /** Seeds initialisation, window order and dropout: the same data and seed give the same detector. */
  readonly seed: number;
  readonly hiddenDims?: readonly number[];
  readonly l2Normalize?: boolean;
  /** How many previous windows' differences join a node's input (0..deltaLagsMax). */
  readonly deltaLags?: number;
  readonly learningRate?: number;
  readonly weightDecay?: number;
  readonly dropout?: number;
  /** Windows per mini-batch. */
  readonly batchWindows?: number;
  readonly epochsMax?: number;
  /** Epochs without a better validation loss before training stops. */
  readonly patience?: number;
  /** Weight of the fault-class part of the loss against the anomaly part. */
  readonly classLossWeight?: number;
  /** Cap on the weight of a faulty item against a healthy one (class imbalance). */
  readonly faultyWeightMax?: number;
  readonly edgeLearningRate?: number;
  readonly edgeEpochsMax?: number;
  readonly edgePatience?: number;
  /** How node and link thresholds are chosen on the validation windows. */
  readonly calibration?: DetectorCalibration;
  /** Healthy node-windows this many windows after the node's own fault are left out of the node model's loss (detector-row-weights.ts). */
  readonly afterFaultWindows?: number;
  /** Loss factor of a healthy node-window next to a fault (detector-row-weights.ts). */
  readonly nearFaultHealthyWeight?: number;
}

/** The defaults of DetectorOptions. */
export const detectorDefaults = {
  hiddenDims: [32] as readonly number[],
  l2Normalize: false,
  deltaLags: 1,
  learningRate: 0.005,
  weightDecay: 1e-4,
  dropout: 0.1,
  batchWindows: 4,
  epochsMax: 80,
  patience: 12,
  classLossWeight: 0.5,
  faultyWeightMax: 50,
  edgeLearningRate: 0.02,
  edgeEpochsMax: 40,
  edgePatience: 5,
  calibration: { objective: 'f1' } as DetectorCalibration,
  afterFaultWindows: neutralRowWeighting.afterFaultWindows,
  nearFaultHealthyWeight: neutralRowWeighting.nearFaultHealthyWeight,
} as const;

/** What training did: loss per epoch, the epochs kept, and the calibration on validation windows. */
export interface DetectorTrainingReport {
  readonly trainWindows: number;
  readonly validationWindows: number;
  readonly nodeEpochs: readonly EpochRecord[];
  readonly nodeBestEpoch: number;
  readonly edgeEpochs: readonly EpochRecord[];
  readonly edgeBestEpoch: number;
  /** Measures at the chosen thresholds on the validation windows (null: no scored links there). */
  readonly nodeCalibration: BinaryMetrics;
  readonly linkCalibration: BinaryMetrics | null;
}

/** A window's scores with the detector's per-class probabilities. */
export interface DetectorWindowScores extends WindowScores {
  readonly nodeCauses: Uint8Array;
  readonly linkCauses: Uint8Array;
  /** [nodeCount x faultClassCount]: probability of FaultClass value c + 1 in column c (NaN rows for nodes that were down). */
  readonly nodeClassScores: Float32Array;
  /** [links x faultClassCount], likewise. */
  readonly linkClassScores: Float32Array;
}

function argument(message: string): DetectorError {
  return new DetectorError(DetectorErrorCode.ERR_DETECTOR_ARGUMENT, message);
}

/** Options with defaults filled in, range-checked. */
function resolveOptions(options: DetectorOptions): Required<DetectorOptions> {
  const o = { ...detectorDefaults, ...options } as Required<DetectorOptions>;
  const positiveInteger = ['batchWindows', 'epochsMax', 'patience', 'edgeEpochsMax', 'edgePatience'] as const;
  for (const name of positiveInteger) if (!Number.isInteger(o[name]) || o[name] < 1) throw argument(`AnomalyDetector.train: expected ${name} to be a positive integer, got ${o[name]}`);
  if (o.hiddenDims.length === 0) throw argument('AnomalyDetector.train: expected at least one hidden layer (the edge head reads the last one)');
  if (!(o.dropout >= 0 && o.dropout < 1)) throw argument(`AnomalyDetector.train: expected dropout in [0, 1), got ${o.dropout}`);
  checkRowWeighting('AnomalyDetector.train', o);
  return o;
}

/** Checks the datasets and that they all share the first one's feature names; returns those names. */
function commonSchema(train: readonly Dataset[], validation: readonly Dataset[]): FeatureSchema {
  if (train.length === 0 || validation.length === 0) throw argument(`AnomalyDetector.train: expected training and validation datasets, got ${train.length} and ${validation.length}`);
  const schema: FeatureSchema = { nodeFeatureNames: [...train[0]!.nodeFeatureNames], linkFeatureNames: [...train[0]!.linkFeatureNames] };
  for (const dataset of [...train, ...validation]) {
    checkDataset('AnomalyDetector.train', dataset);
    checkFeatureNames(`AnomalyDetector.train: ${dataset.scenario}/${dataset.seed}`, schema, dataset);
  }
  return schema;
}

/** The trained GraphSAGE anomaly detector (see the file comment); a Scorer for evaluation. */
export class AnomalyDetector implements Scorer {
  readonly name = 'graphsage';
  readonly schema: FeatureSchema;
  readonly deltaLags: number;
  readonly model: GraphSage;
  readonly nodeThreshold: number;
  readonly linkThreshold: number;
  readonly edgeHead: EdgeHead;
  readonly nodeStandardizer: Standardizer;
  readonly linkStandardizer: Standardizer;
  private readonly builder: NodeInputBuilder;
  private readonly ws = new Workspace();

  /** A detector from its parts (as training or a file produce them). */
  constructor(readonly parts: DetectorParts) {
    this.schema = parts.schema;
    this.deltaLags = parts.deltaLags;
    this.model = parts.model;
    this.nodeThreshold = parts.nodeThreshold;
    this.linkThreshold = parts.linkThreshold;
    this.builder = new NodeInputBuilder(parts.schema, parts.deltaLags);
    this.nodeStandardizer = new Standardizer(parts.nodeMean, parts.nodeScale);
    this.linkStandardizer = new Standardizer(parts.linkMean, parts.linkScale);
    this.edgeHead = new EdgeHead(2 * this.hiddenDim + parts.schema.linkFeatureNames.length, parts.edgeParameters);
  }

  /** Width of the node embeddings the edge head reads. */
  get hiddenDim(): number {
    return this.model.config.hiddenDims.at(-1)!;
  }

  /**
   * Trains a detector on `train` and calibrates its thresholds on `validation` (datasets with
   * the same feature names): standardisation, the node model with early stopping, the edge head,
   * then the thresholds.
   */
  static train(train: readonly Dataset[], validation: readonly Dataset[], options: DetectorOptions): { detector: AnomalyDetector; report: DetectorTrainingReport } {
    const o = resolveOptions(options);
    const schema = commonSchema(train, validation);
    const random = seededRandom(o.seed);
    const builder = new NodeInputBuilder(schema, o.deltaLags);
    const trainRefs = windowRefs(train);
    const validationRefs = windowRefs(validation);
    const { nodeStandardizer, linkStandardizer, nodeCounts, linkCounts } = fitInputs(builder, trainRefs);
    if (nodeCounts[0] === sum(nodeCounts)) throw argument('AnomalyDetector.train: the training windows hold no faulty node of a node that was up; nothing to learn from');
    const prepare = trainingPreparation(builder, nodeStandardizer, o);
    const nodeWeights = lossWeights(nodeCounts, o.faultyWeightMax, o.classLossWeight);
    const nodeRun = trainNodeModel(trainRefs, validationRefs, prepare, nodeWeights, o, random, builder.inputDim);
    const hiddenDim = o.hiddenDims.at(-1)!;
    const linkDim = schema.linkFeatureNames.length;
    const ws = new Workspace();
    const batchOf = (ref: WindowRef): EdgeBatch => {
      const prepared = prepare(ref);
      const rows = prepared.graph.nodes.length;
      const { hidden } = runModel(nodeRun.model, prepared.graph.graph, denseFeatures(rows, builder.inputDim, prepared.input), ws);
      const links = linkStandardizer.apply(linkRows(prepared.window, prepared.graph, linkDim));
      const labels = Uint8Array.from(prepared.graph.links, (i) => prepared.window.linkLabels[i]!);
      return { rows: labels.length, inputs: edgeInputs(hidden, hiddenDim, prepared.graph, links, linkDim), labels };
    };
    const edgeOptions = { learningRate: o.edgeLearningRate, weightDecay: o.weightDecay, batchWindows: o.batchWindows, epochsMax: o.edgeEpochsMax, patience: o.edgePatience };
    const edgeRun = trainEdgeHead(trainRefs, validationRefs, batchOf, 2 * hiddenDim + linkDim, lossWeights(linkCounts, o.faultyWeightMax, o.classLossWeight), edgeOptions, random);
    const uncalibrated = new AnomalyDetector({
      schema,
      deltaLags: o.deltaLags,
      nodeMean: nodeStandardizer.mean,
      nodeScale: nodeStandardizer.scale,
      linkMean: linkStandardizer.mean,
      linkScale: linkStandardizer.scale,
      nodeThreshold: 0.5,
      linkThreshold: 0.5,
      model: nodeRun.model,
      edgeParameters: edgeRun.head.parameters,
    });
    const { detector, nodeCalibration, linkCalibration } = uncalibrated.calibrated(validation, o.calibration);
    const report = {
      trainWindows: trainRefs.length,
      validationWindows: validationRefs.length,
      nodeEpochs: nodeRun.epochs,
      nodeBestEpoch: nodeRun.bestEpoch,
      edgeEpochs: edgeRun.epochs,
      edgeBestEpoch: edgeRun.bestEpoch,
      nodeCalibration,
      linkCalibration,
    };
    return { detector, report };
  }

  /** A copy with thresholds chosen on the scores of `validation` (see Calibration). */
  calibrated(validation: readonly Dataset[], calibration: DetectorCalibration): { detector: AnomalyDetector; nodeCalibration: BinaryMetrics; linkCalibration: BinaryMetrics | null } {
    const { nodeCalibration, linkCalibration } = calibrateScored('AnomalyDetector.calibrated', scoreAll(this, validation), calibration);
    const detector = this.withThresholds(nodeCalibration.threshold, linkCalibration?.threshold ?? this.linkThreshold);
    return { detector, nodeCalibration, linkCalibration };
  }

  /** The same detector flagging at other thresholds. */
  withThresholds(nodeThreshold: number, linkThreshold: number): AnomalyDetector {
    if (!Number.isFinite(nodeThreshold) || !Number.isFinite(linkThreshold)) throw argument(`AnomalyDetector.withThresholds: expected finite thresholds, got ${nodeThreshold} and ${linkThreshold}`);
    return new AnomalyDetector({ ...this.parts, nodeThreshold, linkThreshold });
  }

  /** Scores every window of `dataset`, each with the windows before it as history; refuses other feature names. */
  scoreDataset(dataset: Dataset): DetectorWindowScores[] {
    checkFeatureNames(`AnomalyDetector.scoreDataset: ${dataset.scenario}/${dataset.seed}`, this.schema, dataset);
    checkDataset('AnomalyDetector.scoreDataset', dataset);
    return dataset.windows.map((window, index) => this.score(window, historyOf({ dataset, index }, this.deltaLags)));
  }

  /**
   * Scores one window of telemetry with the model's feature names; `history` holds the windows
   * before it, oldest first (only the last deltaLags are read; fewer is allowed).
   */
  scoreWindow(window: TelemetryWindow, history: readonly TelemetryWindow[] = []): DetectorWindowScores {
    const recent = history.slice(Math.max(0, history.length - this.deltaLags));
    checkWindow('AnomalyDetector.scoreWindow', this.schema, window);
    recent.forEach((previous, i) => checkWindow(`AnomalyDetector.scoreWindow: history[${history.length - recent.length + i}]`, this.schema, previous));
    return this.score(window, recent);
  }

  private score(window: TelemetryWindow, history: readonly TelemetryWindow[]): DetectorWindowScores {
    return this.scorePrepared(this.prepare(window, history));
  }

  /** The window's graph and standardised node inputs (unchecked: callers check the window). */
  prepare(window: TelemetryWindow, history: readonly TelemetryWindow[]): PreparedWindow {
    return prepareWindow(this.builder, this.nodeStandardizer, window, history);
  }

  /**
   * Scores a window prepared by `prepare` of this detector or of one with the same feature
   * names, deltaLags and node standardisation (an ensemble's members share one preparation).
   */
  scorePrepared(prepared: PreparedWindow): DetectorWindowScores {
    const { graph, window } = prepared;
    const rows = graph.nodes.length;
    const links = window.linkFrom.length;
    const nodeScores = new Float32Array(window.nodeCount).fill(Number.NaN);
    const nodeClassScores = new Float32Array(window.nodeCount * faultClassCount).fill(Number.NaN);
    const linkScores = new Float32Array(links).fill(Number.NaN);
    const linkClassScores = new Float32Array(links * faultClassCount).fill(Number.NaN);
    if (rows > 0) {
      const { logits, hidden } = runModel(this.model, graph.graph, denseFeatures(rows, this.builder.inputDim, prepared.input), this.ws);
      scoresOfLogits(logits, rows, nodeScores, nodeClassScores, graph.nodes);
      const linkDim = this.schema.linkFeatureNames.length;
      const standardized = this.linkStandardizer.apply(linkRows(window, graph, linkDim));
      const edgeLogits = this.edgeHead.linkLogits(hidden, this.hiddenDim, graph, standardized, linkDim);
      scoresOfLogits(edgeLogits, graph.links.length, linkScores, linkClassScores, graph.links);
    }
    return { nodeScores, linkScores, nodeClassScores, linkClassScores, nodeCauses: causes(nodeClassScores, window.nodeCount), linkCauses: causes(linkClassScores, links) };
  }

  /** The detector as file bytes (detector-format.ts). */
  encode(): Uint8Array {
    return encodeDetector(this.parts);
  }

  /** A detector from file bytes; with `expected`, refuses a model trained on other feature names (ERR_DETECTOR_FEATURE_NAMES). */
  static decode(bytes: Uint8Array, expected?: FeatureSchema): AnomalyDetector {
    return new AnomalyDetector(decodeDetector(bytes, expected));
  }

  /** Writes the detector to `path` atomically (a temporary file renamed over it). */
  async save(path: string): Promise<void> {
    const temporary = `${path}.tmp-${process.pid}`;
    await writeFile(temporary, this.encode());
    await rename(temporary, path);
  }

  /** Reads a detector file (see decode; ERR_DETECTOR_READ when it cannot be read). */
  static async load(path: string, expected?: FeatureSchema): Promise<AnomalyDetector> {
    const bytesMax = 20 + detectorHeaderBytesMax + detectorModelBytesMax + 32;
    let bytes: Uint8Array;
    try {
      const size = (await stat(path)).size;
      if (size > bytesMax) throw new DetectorError(DetectorErrorCode.ERR_DETECTOR_FORMAT, `AnomalyDetector.load: ${path} has ${size} bytes, more than any detector file (${bytesMax})`);
      bytes = new Uint8Array(await readFile(path));
    } catch (error) {
      if (isDetectorError(error)) throw error;
      throw new DetectorError(DetectorErrorCode.ERR_DETECTOR_READ, `AnomalyDetector.load: cannot read ${path} (${(error as Error).message})`);
    }
    return AnomalyDetector.decode(bytes, expected);
  }
}

/**
 * How training prepares a window: as scoring does, plus each row's loss factor when the
 * weighting of detector-row-weights.ts changes any (it reads the labels of the windows before).
 */
function trainingPreparation(builder: NodeInputBuilder, standardizer: Standardizer, o: Required<DetectorOptions>): (ref: WindowRef) => PreparedWindow {
  return (ref) => {
    const prepared = prepareWindow(builder, standardizer, ref.dataset.windows[ref.index]!, historyOf(ref, o.deltaLags));
    if (isNeutral(o)) return prepared;
    return { ...prepared, rowWeights: rowWeights(prepared.window, prepared.graph, historyOf(ref, o.afterFaultWindows), o) };
  };
}

function sum(values: Float64Array): number {
  return values.reduce((a, b) => a + b, 0);
}

/** The most likely fault class (FaultClass value) of each row of class scores; 0 for unscored rows. */
export function causes(classScores: Float32Array, rows: number): Uint8Array {
  // A local copy: the imported binding is a getter under some loaders, and this loop is hot.
  const width = faultClassCount;
  const out = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    const at = r * width;
    let best = 0;
    for (let c = 1; c < width; c++) if (classScores[at + c]! > classScores[at + best]!) best = c;
    out[r] = Number.isNaN(classScores[at]) ? 0 : best + 1;
  }
  return out;
}

/** Standardisation statistics and class counts of the training windows. */
function fitInputs(builder: NodeInputBuilder, refs: readonly WindowRef[]): { nodeStandardizer: Standardizer; linkStandardizer: Standardizer; nodeCounts: Float64Array; linkCounts: Float64Array } {
  const nodeCounts = new Float64Array(faultClassCount + 1);
  const linkCounts = new Float64Array(faultClassCount + 1);
  const linkDim = builder.schema.linkFeatureNames.length;
  const identity = Standardizer.identity(builder.inputDim);
  const nodeRows = function* (): Generator<Float32Array> {
    for (const ref of refs) {
      const window = ref.dataset.windows[ref.index]!;
      const prepared = prepareWindow(builder, identity, window, historyOf(ref, builder.deltaLags));
      countClasses(prepared.labels, nodeCounts);
      yield prepared.input;
    }
  };
  const linkRowsOf = function* (): Generator<Float32Array> {
    for (const ref of refs) {
      const window = ref.dataset.windows[ref.index]!;
      const kept = Int32Array.from({ length: window.linkFrom.length }, (_, i) => i).filter((i) => isScoredLink(window, i));
      countClasses(Uint8Array.from(kept, (i) => window.linkLabels[i]!), linkCounts);
      const rows = new Float32Array(kept.length * linkDim);
      kept.forEach((i, k) => rows.set(window.linkFeatures.subarray(i * linkDim, (i + 1) * linkDim), k * linkDim));
      yield rows;
    }
  };
  const nodeStandardizer = Standardizer.fit(builder.inputDim, nodeRows());
  const linkStandardizer = Standardizer.fit(linkDim, linkRowsOf());
  return { nodeStandardizer, linkStandardizer, nodeCounts, linkCounts };
}
