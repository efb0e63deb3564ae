/**
 * A GraphSAGE model: its architecture and its parameters in one flat Float32Array, with
 * inference over all nodes of a graph (`logits`, `predict`, `classify`, `embed`). Training
 * lives in train.ts, file I/O in format.ts.
 */
import { fullGraphBlocks } from './block.js';
import { checkConfig, layerViews, namedViews, parameterLayout, type GraphSageConfig, type LayerViews, type ParameterEntry } from './config.js';
import { forward, Workspace } from './engine.js';
import { MlError, MlErrorCode } from './errors.js';
import { checkFeatures, type Features } from './features.js';
import { checkGraph, type CsrGraph } from './graph.js';
import { softmaxRowsInPlace, sigmoidInPlace } from './heads.js';
import { uniform01, type RandomSource } from './random.js';

/** Mean-aggregator GraphSAGE with all parameters in one flat vector (see config.ts for the layout). */
export class GraphSage {
  /** Every parameter, layer after layer; the named views below alias it. */
  readonly parameters: Float32Array;
  /** Per-layer views (self weight, neighbour weight, bias) into `parameters`. */
  readonly layers: readonly LayerViews[];
  private readonly views: ReadonlyMap<string, Float32Array>;

  private constructor(
    readonly config: GraphSageConfig,
    parameters: Float32Array,
  ) {
    this.parameters = parameters;
    this.layers = layerViews(config, parameters);
    this.views = namedViews(config, parameters);
  }

  /** A new model with Glorot-uniform weights (drawn from `random`, so a seed fixes them) and zero biases. */
  static create(config: GraphSageConfig, random: RandomSource): GraphSage {
    const model = new GraphSage(checkConfig(config), new Float32Array(parameterLayout(config).count));
    for (const layer of model.layers) {
      const limit = Math.sqrt(6 / (layer.inputDim + layer.outputDim));
      for (const weight of [layer.selfWeight, layer.neighbourWeight]) {
        for (let at = 0; at < weight.length; at++) weight[at] = (2 * uniform01(random) - 1) * limit;
      }
    }
    return model;
  }

  /** A model for `config` holding a copy of `parameters` (for example an aggregated federated update). */
  static fromParameters(config: GraphSageConfig, parameters: Float32Array): GraphSage {
    const count = parameterLayout(checkConfig(config)).count;
    if (parameters.length !== count) {
      throw new MlError(MlErrorCode.ERR_ML_SHAPE, `GraphSage.fromParameters: expected ${count} parameters for this architecture, got ${parameters.length}`);
    }
    return new GraphSage(config, parameters.slice());
  }

  /** Names, shapes and offsets of the parameters in the flat vector. */
  parameterEntries(): readonly ParameterEntry[] {
    return parameterLayout(this.config).entries;
  }

  /** The named parameter (`layer0.selfWeight`, `layer1.bias`, ...) as a view that aliases `parameters`. */
  parameter(name: string): Float32Array {
    const view = this.views.get(name);
    if (view === undefined) {
      throw new MlError(MlErrorCode.ERR_ML_ARGUMENT, `GraphSage.parameter: no parameter named ${JSON.stringify(name)}; names are ${[...this.views.keys()].join(', ')}`);
    }
    return view;
  }

  /** Logits of every node of `graph`, [nodeCount x outputDim] row-major, with the full neighbourhood and no dropout. */
  logits(graph: CsrGraph, features: Features): Float32Array {
    return this.infer('GraphSage.logits', graph, features).output;
  }

  /** Class probabilities (softmax head) or per-output probabilities (sigmoid head) of every node, [nodeCount x outputDim]. */
  predict(graph: CsrGraph, features: Features): Float32Array {
    const output = this.infer('GraphSage.predict', graph, features).output;
    if (this.config.head === 'softmax') softmaxRowsInPlace(output, graph.nodeCount, this.config.outputDim);
    else sigmoidInPlace(output, output.length);
    return output;
  }

  /** The most likely class of every node (the argmax of its logits). */
  classify(graph: CsrGraph, features: Features): Int32Array {
    return argmaxRows(this.logits(graph, features), graph.nodeCount, this.config.outputDim);
  }

  /** Every node's representation from the last hidden layer (after ReLU and L2 normalisation), [nodeCount x last hidden width]; for detectors that score embeddings. */
  embed(graph: CsrGraph, features: Features): Float32Array {
    const width = this.config.hiddenDims.at(-1);
    if (width === undefined) throw new MlError(MlErrorCode.ERR_ML_ARGUMENT, 'GraphSage.embed: the model has no hidden layer to take embeddings from');
    const ws = this.infer('GraphSage.embed', graph, features).ws;
    return ws.pre[this.layers.length - 2]!.subarray(0, graph.nodeCount * width);
  }

  private infer(what: string, graph: CsrGraph, features: Features): { output: Float32Array; ws: Workspace } {
    checkGraph(graph);
    checkFeatures(what, features, graph.nodeCount, this.config.inputDim);
    // A fresh workspace per call: inference allocates its outputs anyway, and callers may keep them.
    const ws = new Workspace();
    forward(this.layers, this.config.l2Normalize, fullGraphBlocks(graph, this.layers.length), features, ws, null);
    const output = ws.pre[this.layers.length - 1]!.subarray(0, graph.nodeCount * this.config.outputDim);
    return { output, ws };
  }
}

/** Index of the largest value of each of the first `rows` rows (first index on ties). */
export function argmaxRows(m: Float32Array, rows: number, width: number): Int32Array {
  const result = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < width; c++) if (m[r * width + c]! > m[r * width + best]!) best = c;
    result[r] = best;
  }
  return result;
}
