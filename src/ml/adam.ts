/**
 * Adam (Kingma and Ba 2015) over a flat parameter vector, with optional L2 weight decay added
 * to the gradient as torch.optim.Adam's `weight_decay` does, so figures compare with PyTorch
 * runs at the same settings. Moments are float32 like the parameters.
 */
import { MlError, MlErrorCode } from './errors.js';

/** Adam's hyper-parameters; all but learningRate have the paper's defaults. */
export interface AdamOptions {
  readonly learningRate: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly epsilon?: number;
  /** Coefficient of the L2 penalty added to every gradient (0 = none). */
  readonly weightDecay?: number;
}

function checkRange(name: string, value: number, lo: number, hi: number, hiOpen: boolean): number {
  if (!(value >= lo && (hiOpen ? value < hi : value <= hi))) {
    throw new MlError(MlErrorCode.ERR_ML_ARGUMENT, `Adam: expected ${name} in [${lo}, ${hi}${hiOpen ? ')' : ']'}, got ${value}`);
  }
  return value;
}

/** An Adam optimiser for a flat vector of `size` parameters. */
export class Adam {
  readonly learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  /** First and second moment estimates, one per parameter. */
  readonly m: Float32Array;
  readonly v: Float32Array;
  /** Steps taken so far. */
  steps = 0;

  /** Checks the hyper-parameters and allocates zeroed moments. */
  constructor(size: number, options: AdamOptions) {
    this.learningRate = checkRange('learningRate', options.learningRate, 0, 1e3, false);
    this.beta1 = checkRange('beta1', options.beta1 ?? 0.9, 0, 1, true);
    this.beta2 = checkRange('beta2', options.beta2 ?? 0.999, 0, 1, true);
    this.epsilon = checkRange('epsilon', options.epsilon ?? 1e-8, 0, 1, false);
    this.weightDecay = checkRange('weightDecay', options.weightDecay ?? 0, 0, 1, false);
    this.m = new Float32Array(size);
    this.v = new Float32Array(size);
  }

  /** One update of `parameters` from `gradients` (same layout); allocates nothing. */
  step(parameters: Float32Array, gradients: Float32Array): void {
    if (parameters.length !== this.m.length || gradients.length !== this.m.length) {
      throw new MlError(MlErrorCode.ERR_ML_SHAPE, `Adam.step: expected ${this.m.length} parameters and gradients, got ${parameters.length} and ${gradients.length}`);
    }
    this.steps++;
    const { beta1, beta2, epsilon, weightDecay, m, v } = this;
    const stepSize = this.learningRate / (1 - beta1 ** this.steps);
    const secondCorrection = 1 / (1 - beta2 ** this.steps);
    for (let at = 0; at < parameters.length; at++) {
      const g = gradients[at]! + weightDecay * parameters[at]!;
      const mAt = (m[at] = beta1 * m[at]! + (1 - beta1) * g);
      const vAt = (v[at] = beta2 * v[at]! + (1 - beta2) * g * g);
      parameters[at]! -= (stepSize * mAt) / (Math.sqrt(vAt * secondCorrection) + epsilon);
    }
  }
}
