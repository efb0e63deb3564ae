/** Evaluation measures over predictions for all nodes of a graph. */
import { MlError, MlErrorCode } from './errors.js';

/** Share of `nodes` whose predicted class equals their label (0 for no nodes). */
export function accuracy(predicted: Int32Array, labels: Int32Array, nodes: Int32Array): number {
  if (predicted.length !== labels.length) {
    throw new MlError(MlErrorCode.ERR_ML_SHAPE, `accuracy: expected as many predictions as labels, got ${predicted.length} and ${labels.length}`);
  }
  let correct = 0;
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i]!;
    if (node < 0 || node >= labels.length) throw new MlError(MlErrorCode.ERR_ML_ARGUMENT, `accuracy: nodes[${i}] = ${node} is outside 0..${labels.length - 1}`);
    if (predicted[node] === labels[node]) correct++;
  }
  return nodes.length === 0 ? 0 : correct / nodes.length;
}
