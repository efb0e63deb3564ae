/**
 * The messages of a round, as values (the driver carries them over the mesh's secure channel,
 * which authenticates the sending node, or hands them over in the twin):
 *
 *   coordinator -> participant  RoundConfig        round, model id, strategy, clip norm, deadline
 *   participant -> coordinator  UpdateSubmission   round, model id, update, example count
 *   coordinator -> every node   ModelDistribution  the new version's canonical bytes, which each
 *                                                  node verifies before installing
 */
import type { StrategyRecord } from '../registry/metadata.js';
import type { ModelId } from '../registry/model-id.js';
import type { NodeId } from '../../wire/ids.js';

/** What a selected node is asked to do. */
export interface RoundConfig {
  readonly kind: 'config';
  readonly round: number;
  /** The model the update must be computed against. */
  readonly modelId: ModelId;
  readonly strategy: StrategyRecord;
  /** The L2 bound the server applies to each update, or null when the rule has none. */
  readonly clipNorm: number | null;
  /** Updates arriving at or after this time are refused. */
  readonly deadlineMs: number;
}

/** A participant's update: the difference between its locally trained parameters and the round's model. */
export interface UpdateSubmission {
  readonly kind: 'update';
  readonly round: number;
  readonly modelId: ModelId;
  readonly update: Float32Array;
  /** Local examples it trained on (FedAvg's weight). */
  readonly examples: number;
}

/** A new global model for every node to verify and install. */
export interface ModelDistribution {
  readonly kind: 'model';
  /** encodeVersion(version). */
  readonly version: Uint8Array;
}

/** A message and the node it goes to. */
export interface NodeMessage<M> {
  readonly node: NodeId;
  readonly message: M;
}
