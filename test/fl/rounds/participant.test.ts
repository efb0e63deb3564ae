import { describe, expect, it } from 'vitest';
import type { RoundConfig } from '../../../src/fl/rounds/messages.js';
import { RoundParticipant } from '../../../src/fl/rounds/participant.js';
import { createVersion, encodeVersion, type ModelVersion } from '../../../src/fl/registry/version.js';
import type { NodeId } from '../../../src/wire/ids.js';
import { chain, draft, stranger, trust } from '../registry/fixtures.js';

const [first, second, third] = chain(3) as [ModelVersion, ModelVersion, ModelVersion];
const self = 7 as NodeId;
const config = (round: number, modelId = first.id, deadlineMs = 1000): RoundConfig => ({
  kind: 'config',
  round,
  modelId,
  strategy: { name: 'fedAvg', params: {} },
  clipNorm: 2,
  deadlineMs,
});
const length = first.parameters.length;

describe('a round participant', () => {
  it('asks its driver to train on a copy of the round model, then submits the update tagged with round and model', () => {
    const participant = new RoundParticipant({ self, trust, current: first });
    const step = participant.handle(10, { kind: 'config', config: config(1) });
    expect(step.train).toEqual({ round: 1, parameters: first.parameters, clipNorm: 2, deadlineMs: 1000 });
    expect(step.train!.parameters).not.toBe(first.parameters);
    const update = new Float32Array(length).fill(0.25);
    const sent = participant.handle(20, { kind: 'trained', round: 1, update, examples: 12 });
    expect(sent).toEqual({ submit: { kind: 'update', round: 1, modelId: first.id, update, examples: 12 }, train: null, install: null, refused: null });
    expect(participant.handle(30, { kind: 'trained', round: 1, update, examples: 12 }).refused?.code).toBe('ERR_FL_ROUND_STALE');
  });

  it('refuses configurations for another model, replayed or late ones', () => {
    const empty = new RoundParticipant({ self, trust, current: null });
    expect(empty.handle(0, { kind: 'config', config: config(1) }).refused?.message).toMatch(/installed here: none/);
    const participant = new RoundParticipant({ self, trust, current: first });
    expect(participant.handle(0, { kind: 'config', config: config(1, second.id) }).refused).toMatchObject({ code: 'ERR_FL_ROUND_MODEL', message: expect.stringMatching(/node 7: round 1 trains model/) as unknown });
    expect(participant.handle(1000, { kind: 'config', config: config(1) }).refused?.code).toBe('ERR_FL_ROUND_LATE');
    expect(participant.handle(0, { kind: 'config', config: config(2) }).train?.round).toBe(2);
    expect(participant.handle(0, { kind: 'config', config: config(2) }).refused?.code).toBe('ERR_FL_ROUND_STALE');
    expect(participant.handle(0, { kind: 'config', config: config(1) }).refused?.code).toBe('ERR_FL_ROUND_STALE');
  });

  it('drops an update that is late or malformed, naming why', () => {
    const participant = new RoundParticipant({ self, trust, current: first });
    participant.handle(0, { kind: 'config', config: config(1) });
    expect(participant.handle(1000, { kind: 'trained', round: 1, update: new Float32Array(length), examples: 1 }).refused?.code).toBe('ERR_FL_ROUND_LATE');
    participant.handle(0, { kind: 'config', config: config(2) });
    expect(participant.handle(5, { kind: 'trained', round: 2, update: new Float32Array(3), examples: 1 }).refused?.code).toBe('ERR_FL_ROUND_LENGTH');
    expect(participant.handle(5, { kind: 'trained', round: 9, update: new Float32Array(length), examples: 1 }).refused?.message).toMatch(/trained for round 9, no such round is open here/);
  });

  it('installs a distributed model only after verifying it against its current one', () => {
    const participant = new RoundParticipant({ self, trust, current: first });
    participant.handle(0, { kind: 'config', config: config(1) });
    expect(participant.handle(1, { kind: 'model', distribution: { kind: 'model', version: encodeVersion(third) } }).refused?.code).toBe('ERR_FL_VERSION_PARENT');
    const forged = createVersion(draft(1, first.id), stranger);
    expect(participant.handle(1, { kind: 'model', distribution: { kind: 'model', version: encodeVersion(forged) } }).refused?.code).toBe('ERR_FL_VERSION_SIGNATURE');
    const tampered = encodeVersion(second);
    tampered[tampered.length - 4000]! ^= 1;
    expect(participant.handle(1, { kind: 'model', distribution: { kind: 'model', version: tampered } }).refused?.code).toBe('ERR_FL_VERSION_PARAMETERS');
    expect(participant.handle(1, { kind: 'model', distribution: { kind: 'model', version: new Uint8Array(3) } }).refused?.code).toBe('ERR_FL_VERSION_FORMAT');
    expect(participant.current).toBe(first);
    const installed = participant.handle(2, { kind: 'model', distribution: { kind: 'model', version: encodeVersion(second) } });
    expect(installed.install?.id).toBe(second.id);
    expect(participant.current?.id).toBe(second.id);
    // The round configured for the first model cannot produce a useful update any more.
    expect(participant.handle(3, { kind: 'trained', round: 1, update: new Float32Array(length), examples: 1 }).refused?.code).toBe('ERR_FL_ROUND_STALE');
    expect(() => participant.handle(4, { kind: 'model', distribution: { kind: 'model', version: null as unknown as Uint8Array } })).toThrow(TypeError);
  });
});
