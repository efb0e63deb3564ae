/**
 * The architecture of a GraphSAGE model and the layout of its parameters in one flat
 * Float32Array. Layer k has a self weight [in x out], a neighbour weight [in x out] and a bias
 * [out], stored in that order, layer after layer; every parameter is a named view into the
 * flat vector, so federated learning can average, clip or mask the vector directly while the
 * model reads its matrices through the views.
 */
import { MlError, MlErrorCode } from './errors.js';
import { layersMax, layerWidthMax, parameterCountMax } from './limits.js';

/** Output head: softmax with cross-entropy (one class per node) or sigmoid with binary cross-entropy (binary or multi-label). */
export type Head = 'softmax' | 'sigmoid';

/** What a GraphSAGE model is: its widths, its head, and whether hidden outputs are L2-normalised. */
export interface GraphSageConfig {
  /** Features per node. */
  readonly inputDim: number;
  /** Width of each hidden layer; K = hiddenDims.length + 1 layers (hops) in all. */
  readonly hiddenDims: readonly number[];
  /** Classes (softmax) or independent outputs (sigmoid). */
  readonly outputDim: number;
  readonly head: Head;
  /** Scale every hidden layer's output row to unit L2 norm (Hamilton et al., Algorithm 1 line 7). */
  readonly l2Normalize: boolean;
}

/** One named parameter: its shape ([rows, columns] for weights, [width] for biases) and place in the flat vector. */
export interface ParameterEntry {
  readonly name: string;
  readonly shape: readonly number[];
  readonly offset: number;
  readonly length: number;
}

/** The three parameters of one layer, as views into a flat vector (parameters or gradients). */
export interface LayerViews {
  readonly inputDim: number;
  readonly outputDim: number;
  /** [inputDim x outputDim], row-major: applied to the node's own representation. */
  readonly selfWeight: Float32Array;
  /** [inputDim x outputDim], row-major: applied to the mean of its neighbours' representations. */
  readonly neighbourWeight: Float32Array;
  /** [outputDim]. */
  readonly bias: Float32Array;
}

function checkWidth(what: string, value: number): void {
  if (!Number.isInteger(value) || value < 1 || value > layerWidthMax) {
    throw new MlError(MlErrorCode.ERR_ML_ARGUMENT, `GraphSageConfig: expected ${what} to be an integer in 1..${layerWidthMax}, got ${value}`);
  }
}

/** Checks a config (widths, layer count, head, parameter count) and returns it; called by every constructor. */
export function checkConfig(config: GraphSageConfig): GraphSageConfig {
  checkWidth('inputDim', config.inputDim);
  checkWidth('outputDim', config.outputDim);
  if (!Array.isArray(config.hiddenDims) || config.hiddenDims.length + 1 > layersMax) {
    throw new MlError(MlErrorCode.ERR_ML_ARGUMENT, `GraphSageConfig: expected hiddenDims to be an array of at most ${layersMax - 1} widths, got ${String(config.hiddenDims)}`);
  }
  config.hiddenDims.forEach((width, k) => checkWidth(`hiddenDims[${k}]`, width));
  if (config.head !== 'softmax' && config.head !== 'sigmoid') {
    throw new MlError(MlErrorCode.ERR_ML_ARGUMENT, `GraphSageConfig: expected head 'softmax' or 'sigmoid', got ${String(config.head)}`);
  }
  if (typeof config.l2Normalize !== 'boolean') {
    throw new MlError(MlErrorCode.ERR_ML_ARGUMENT, `GraphSageConfig: expected l2Normalize to be a boolean, got ${String(config.l2Normalize)}`);
  }
  if (config.head === 'softmax' && config.outputDim < 2) {
    throw new MlError(MlErrorCode.ERR_ML_ARGUMENT, `GraphSageConfig: a softmax head needs outputDim >= 2, got ${config.outputDim}`);
  }
  const count = parameterLayout(config).count;
  if (count > parameterCountMax) {
    throw new MlError(MlErrorCode.ERR_ML_ARGUMENT, `GraphSageConfig: ${count} parameters exceed parameterCountMax ${parameterCountMax}`);
  }
  return config;
}

/** Layer widths [inputDim, ...hiddenDims, outputDim]: layer k maps widths[k] to widths[k + 1]. */
export function layerWidths(config: GraphSageConfig): number[] {
  return [config.inputDim, ...config.hiddenDims, config.outputDim];
}

/** Names, shapes and offsets of every parameter (`layer0.selfWeight`, `layer0.neighbourWeight`, `layer0.bias`, `layer1.selfWeight`, ...) and the total count. */
export function parameterLayout(config: GraphSageConfig): { readonly entries: readonly ParameterEntry[]; readonly count: number } {
  const widths = layerWidths(config);
  const entries: ParameterEntry[] = [];
  let offset = 0;
  const add = (name: string, shape: readonly number[]): void => {
    const length = shape.reduce((product, n) => product * n, 1);
    entries.push({ name, shape, offset, length });
    offset += length;
  };
  for (let k = 0; k + 1 < widths.length; k++) {
    add(`layer${k}.selfWeight`, [widths[k]!, widths[k + 1]!]);
    add(`layer${k}.neighbourWeight`, [widths[k]!, widths[k + 1]!]);
    add(`layer${k}.bias`, [widths[k + 1]!]);
  }
  return { entries, count: offset };
}

/** Per-layer views into `flat` (parameters or gradients, same layout); they alias the flat vector. */
export function layerViews(config: GraphSageConfig, flat: Float32Array): LayerViews[] {
  const { entries, count } = parameterLayout(config);
  if (flat.length !== count) {
    throw new MlError(MlErrorCode.ERR_ML_SHAPE, `layerViews: expected a flat vector of ${count} parameters for this architecture, got ${flat.length}`);
  }
  const widths = layerWidths(config);
  const view = (entry: ParameterEntry): Float32Array => flat.subarray(entry.offset, entry.offset + entry.length);
  const layers: LayerViews[] = [];
  for (let k = 0; k + 1 < widths.length; k++) {
    layers.push({
      inputDim: widths[k]!,
      outputDim: widths[k + 1]!,
      selfWeight: view(entries[3 * k]!),
      neighbourWeight: view(entries[3 * k + 1]!),
      bias: view(entries[3 * k + 2]!),
    });
  }
  return layers;
}

/** Every parameter by name as a view into `flat`; writing through a view writes the flat vector. */
export function namedViews(config: GraphSageConfig, flat: Float32Array): ReadonlyMap<string, Float32Array> {
  const { entries, count } = parameterLayout(config);
  if (flat.length !== count) {
    throw new MlError(MlErrorCode.ERR_ML_SHAPE, `namedViews: expected a flat vector of ${count} parameters for this architecture, got ${flat.length}`);
  }
  return new Map(entries.map((entry) => [entry.name, flat.subarray(entry.offset, entry.offset + entry.length)]));
}
