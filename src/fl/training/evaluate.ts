/**
 * From trained flat parameters to the detector's own measures. The parameters become an
 * AnomalyDetector (src/mapek) with the setup's standardisation; its node threshold is
 * calibrated on validation windows the server holds (maximum F1, as the detector does) and it is
 * evaluated by the detector's evaluation code on held-out test data. Only the node model is
 * trained federatedly, so the measures are of node items; the edge head is left at zero (every
 * link scores 0.5) and link measures are not reported.
 */
import { AnomalyDetector } from '../../mapek/detector.js';
import { Standardizer } from '../../mapek/detector-features.js';
import { EdgeHead } from '../../mapek/detector-edge.js';
import { evaluate, type BinaryReport } from '../../mapek/evaluation.js';
import { GraphSage } from '../../ml/model.js';
import type { Dataset } from '../../telemetry/types.js';
import type { TrainingSetup } from './setup.js';

/** The node measures of one trained model on the test data. */
export interface ModelEvaluation {
  /** F1 of node items (faulty = any fault class) at the calibrated threshold. */
  readonly nodeF1: number;
  readonly nodePrecision: number;
  readonly nodeRecall: number;
  readonly nodeAuroc: number | null;
  readonly nodeThreshold: number;
  /** One-vs-healthy node F1 of grey and black holes (null when the test data hold none). */
  readonly greyholeF1: number | null;
  readonly blackholeF1: number | null;
}

/** An uncalibrated detector (thresholds 0.5) over `parameters`, with a zero edge head. */
export function detectorOf(setup: TrainingSetup, parameters: Float32Array): AnomalyDetector {
  const linkDim = setup.schema.linkFeatureNames.length;
  const hiddenDim = setup.modelConfig.hiddenDims.at(-1)!;
  const identity = Standardizer.identity(linkDim);
  return new AnomalyDetector({
    schema: setup.schema,
    deltaLags: setup.deltaLags,
    nodeMean: setup.standardizer.mean,
    nodeScale: setup.standardizer.scale,
    linkMean: identity.mean,
    linkScale: identity.scale,
    nodeThreshold: 0.5,
    linkThreshold: 0.5,
    model: GraphSage.fromParameters(setup.modelConfig, parameters),
    edgeParameters: new Float32Array(EdgeHead.parameterCount(2 * hiddenDim + linkDim)),
  });
}

function f1Of(report: BinaryReport | null | undefined): number | null {
  return report === null || report === undefined ? null : report.f1;
}

/** Calibrates the node threshold on `validation` and measures node detection on `test`. */
export function evaluateParameters(setup: TrainingSetup, parameters: Float32Array, validation: readonly Dataset[], test: readonly Dataset[]): ModelEvaluation {
  const { detector } = detectorOf(setup, parameters).calibrated(validation, { objective: 'f1' });
  const report = evaluate(detector, test);
  const node = report.overall.node;
  return {
    nodeF1: node?.f1 ?? 0,
    nodePrecision: node?.precision ?? 0,
    nodeRecall: node?.recall ?? 0,
    nodeAuroc: node?.auroc ?? null,
    nodeThreshold: detector.nodeThreshold,
    greyholeF1: f1Of(report.perClass['greyHole']?.node),
    blackholeF1: f1Of(report.perClass['blackHole']?.node),
  };
}
