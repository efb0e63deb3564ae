/** Forged, replayed, misdirected and unsafe messages are refused with named errors, at the server and at clients. */
import { describe, expect, test } from 'vitest';
import { SecAggClient } from '../../../src/fl/secagg/client.js';
import type { SecAggClientId } from '../../../src/fl/secagg/config.js';
import { SecAggError, SecAggErrorCode } from '../../../src/fl/secagg/errors.js';
import { signClientMessage, type ClientMessage, type ForwardedShares, type NeighbourKeys, type ServerMessage, type UnmaskingShares, type UnmaskRequest } from '../../../src/fl/secagg/messages.js';
import { SecAggServer, type Addressed } from '../../../src/fl/secagg/server.js';
import { fieldCodec } from '../../../src/fl/secagg/shamir.js';
import { simulateSecAgg } from '../../../src/fl/secagg/simulate.js';
import { expectCodedError } from '../../coded-error.js';
import { bytes32, fixture, randomFor, type Fixture } from './helpers.js';

/** Clients and a server stepped by hand, with every message kept for replays. */
interface Harness {
  readonly fx: Fixture;
  readonly server: SecAggServer;
  readonly clients: Map<SecAggClientId, SecAggClient>;
  readonly sent: ClientMessage[][];
  readonly received: Addressed[][];
}

function harness(seed: string, n = 6, k = 4): Harness {
  const fx = fixture({ n, k, d: 8, seed });
  const source = randomFor(seed);
  const clients = new Map(fx.clients.map((client) => [client.id, new SecAggClient({ ...client, config: fx.config, random: source(client.id) })]));
  return { fx, server: new SecAggServer(fx.config), clients, sent: [], received: [] };
}

/** Runs the protocol through `rounds` client rounds (1 = advertise only), closing the server round after each. */
function advance(h: Harness, rounds: number): void {
  for (let round = 0; round < rounds; round++) {
    const outgoing: ClientMessage[] = round === 0 ? [...h.clients.values()].map((client) => client.advertiseKeys()) : h.received[round - 1]!.map(({ to, message }) => h.clients.get(to)!.handle(message));
    for (const message of outgoing) h.server.receive(message);
    h.sent.push(outgoing);
    h.received.push([...h.server.closeRound().messages]);
  }
}

function messageFor<M extends ServerMessage>(h: Harness, round: number, to: SecAggClientId): M {
  return h.received[round]!.find((entry) => entry.to === to)!.message as M;
}

describe('the server rejects', () => {
  test('a forged signature, a tampered body and a message signed by another client', () => {
    const h = harness('forge');
    advance(h, 2);
    const [first, second] = [...h.clients.values()];
    const masked = first!.handle(messageFor(h, 1, first!.id));
    const tampered = { ...masked, masked: (masked as { masked: Uint32Array }).masked.map((word, index) => (index === 0 ? word ^ 1 : word)) } as ClientMessage;
    expectCodedError(() => h.server.receive(tampered), SecAggError, SecAggErrorCode.ERR_SECAGG_SIGNATURE, `maskedInput from client ${first!.id}: the signature does not verify`);
    const { signature: _signature, ...unsigned } = masked;
    const impostor = signClientMessage(unsigned, h.fx.signingKeys.get(second!.id)!);
    expectCodedError(() => h.server.receive(impostor), SecAggError, SecAggErrorCode.ERR_SECAGG_SIGNATURE, 'roster key');
    h.server.receive(masked);
    expectCodedError(() => h.server.receive(masked), SecAggError, SecAggErrorCode.ERR_SECAGG_MESSAGE, 'a second maskedInput message (replay)');
  });

  test('a message replayed from another round or another session, or re-labelled with another round', () => {
    const h = harness('replay');
    advance(h, 2);
    const oldAdvert = h.sent[0]![0]!;
    expectCodedError(() => h.server.receive(oldAdvert), SecAggError, SecAggErrorCode.ERR_SECAGG_ROUND, `advertiseKeys from client ${oldAdvert.sender} is for round 0`);
    const relabelled = { ...h.sent[1]![0]!, round: 2 } as unknown as ClientMessage;
    expectCodedError(() => h.server.receive(relabelled), SecAggError, SecAggErrorCode.ERR_SECAGG_MESSAGE, 'round 2 expects maskedInput, got shareKeys');
    const otherSession = harness('replay-other');
    advance(otherSession, 2);
    const foreign = [...otherSession.clients.values()][0]!.handle(messageFor(otherSession, 1, [...otherSession.clients.keys()][0]!));
    expectCodedError(() => h.server.receive(foreign), SecAggError, SecAggErrorCode.ERR_SECAGG_ROUND, 'belongs to another session');
    // Same session and sender, body copied into a round-2 frame: the round is signed, so the signature fails.
    const first = [...h.clients.values()][0]!;
    const masked = first.handle(messageFor(h, 1, first.id));
    const moved = { ...h.sent[1]![0]!, kind: 'maskedInput', round: 2, masked: (masked as { masked: Uint32Array }).masked, sender: h.sent[1]![0]!.sender } as unknown as ClientMessage;
    expectCodedError(() => h.server.receive(moved), SecAggError, SecAggErrorCode.ERR_SECAGG_SIGNATURE, 'signature does not verify');
  });

  test('senders outside the roster or the round, wrong lengths and wrong recipients', () => {
    const h = harness('shape');
    const first = [...h.clients.values()][0]!;
    const advert = first.advertiseKeys();
    const key = h.fx.signingKeys.get(first.id)!;
    const { signature: _s, ...unsigned } = advert;
    expectCodedError(() => h.server.receive(signClientMessage({ ...unsigned, sender: 999 as SecAggClientId }, key)), SecAggError, SecAggErrorCode.ERR_SECAGG_MESSAGE, 'client 999: not in the roster');
    expectCodedError(() => h.server.receive(signClientMessage({ ...unsigned, maskPublicKey: new Uint8Array(31) }, key)), SecAggError, SecAggErrorCode.ERR_SECAGG_MESSAGE, 'not 32 bytes');
    const late = harness('shape');
    late.server.receive([...late.clients.values()][1]!.advertiseKeys());
    for (const client of [...late.clients.values()].slice(2)) late.server.receive(client.advertiseKeys());
    const step = late.server.closeRound();
    expect(late.server.waitingFor()).toHaveLength(step.messages.length);
    const outsider = [...late.clients.values()][0]!;
    outsider.advertiseKeys();
    const neighbourKeys = step.messages[0]!.message as NeighbourKeys;
    const shares = late.clients.get(step.messages[0]!.to)!.handle(neighbourKeys);
    const { signature: _t, ...shareUnsigned } = shares;
    expectCodedError(() => late.server.receive(signClientMessage({ ...shareUnsigned, sender: outsider.id }, late.fx.signingKeys.get(outsider.id)!)), SecAggError, SecAggErrorCode.ERR_SECAGG_MESSAGE, 'did not answer the previous round');
    const shareKeys = shareUnsigned as Extract<ClientMessage, { kind: 'shareKeys' }>;
    const senderKey = late.fx.signingKeys.get(shares.sender)!;
    expectCodedError(() => late.server.receive(signClientMessage({ ...shareKeys, shares: shareKeys.shares.slice(1) }, senderKey)), SecAggError, SecAggErrorCode.ERR_SECAGG_MESSAGE, 'expected one per neighbour that advertised keys');
    const short = shareKeys.shares.map((entry, index) => (index === 0 ? { ...entry, ciphertext: entry.ciphertext.slice(1) } : entry));
    expectCodedError(() => late.server.receive(signClientMessage({ ...shareKeys, shares: short }, senderKey)), SecAggError, SecAggErrorCode.ERR_SECAGG_MESSAGE, 'bytes, expected 90');
  });

  test('a masked input of the wrong length and unmasking shares that do not match the request', () => {
    const h = harness('lengths');
    advance(h, 2);
    const first = [...h.clients.values()][0]!;
    const masked = first.handle(messageFor(h, 1, first.id));
    const { signature: _s, ...unsigned } = masked;
    const key = h.fx.signingKeys.get(first.id)!;
    expectCodedError(() => h.server.receive(signClientMessage({ ...unsigned, masked: new Uint32Array(3) } as typeof unsigned, key)), SecAggError, SecAggErrorCode.ERR_SECAGG_MESSAGE, 'masked input of length 3, expected 8');
    for (const client of h.clients.values()) h.server.receive(client === first ? masked : client.handle(messageFor(h, 1, client.id)));
    const requests = h.server.closeRound().messages;
    const reply = first.handle(requests.find((entry) => entry.to === first.id)!.message) as UnmaskingShares;
    const { signature: _r, ...replyUnsigned } = reply;
    expectCodedError(() => h.server.receive(signClientMessage({ ...replyUnsigned, selfMaskShares: replyUnsigned.selfMaskShares.slice(1) }, key)), SecAggError, SecAggErrorCode.ERR_SECAGG_MESSAGE, 'self-mask shares do not match the request');
    const notAnElement = replyUnsigned.selfMaskShares.map((entry) => ({ ...entry, share: new Uint8Array(33).fill(0xff) }));
    expectCodedError(() => h.server.receive(signClientMessage({ ...replyUnsigned, selfMaskShares: notAnElement }, key)), SecAggError, SecAggErrorCode.ERR_SECAGG_MESSAGE, 'not field elements');
  });

  test('anything after the result or after an abort', () => {
    const h = harness('after');
    advance(h, 3);
    const answers = h.received[2]!.map(({ to, message }) => h.clients.get(to)!.handle(message));
    expect(h.server.waitingFor()).toHaveLength(answers.length);
    for (const answer of answers) h.server.receive(answer);
    const result = h.server.closeRound();
    expect(result.result).not.toBeNull();
    expect(h.server.round).toBe(4);
    expect(h.server.waitingFor()).toEqual([]);
    expectCodedError(() => h.server.closeRound(), SecAggError, SecAggErrorCode.ERR_SECAGG_ROUND, 'after round 3 closed');
    expectCodedError(() => h.server.receive(answers[0]!), SecAggError, SecAggErrorCode.ERR_SECAGG_ROUND, 'after round 3 closed');
    const aborted = harness('aborted');
    expectCodedError(() => aborted.server.closeRound(), SecAggError, SecAggErrorCode.ERR_SECAGG_BELOW_THRESHOLD, 'server round 0: 0 clients answered');
    expectCodedError(() => aborted.server.receive([...aborted.clients.values()][0]!.advertiseKeys()), SecAggError, SecAggErrorCode.ERR_SECAGG_ROUND, 'after the aggregation aborted');
  });

  test('a wrong mask-key share from a malicious neighbour is caught against the advertised key', () => {
    const { config, clients, signingKeys } = fixture({ n: 5, k: 4, threshold: 3, d: 4, seed: 'bad-share' });
    const ids = clients.map((client) => client.id);
    const rewrite = (message: ClientMessage): ClientMessage => {
      if (message.kind !== 'unmaskingShares' || message.maskKeyShares.length === 0) return message;
      const { signature: _s, ...unsigned } = message;
      const maskKeyShares = unsigned.maskKeyShares.map((entry) => ({ ...entry, share: fieldCodec.encode(fieldCodec.decode(entry.share) + 1n) }));
      return signClientMessage({ ...unsigned, maskKeyShares }, signingKeys.get(message.sender)!);
    };
    expectCodedError(
      () => simulateSecAgg({ config, clients, randomFor: randomFor('bad-share'), dropouts: new Map([[ids[4]!, 2]]), rewrite }),
      SecAggError,
      SecAggErrorCode.ERR_SECAGG_RECONSTRUCTION,
      `client ${ids[4]}'s`,
    );
  });
});

describe('a client rejects', () => {
  test('a forged neighbour advertisement, a replayed or foreign one, a non-neighbour and a duplicate', () => {
    const h = harness('client-keys', 7, 4);
    advance(h, 1);
    const [id, client] = [...h.clients.entries()][0]!;
    const message = messageFor<NeighbourKeys>(h, 0, id);
    const [firstKey] = message.keys;
    const forged = { ...firstKey!, maskPublicKey: bytes32('server-chosen key') };
    expectCodedError(() => client.handle({ ...message, keys: [forged, ...message.keys.slice(1)] }), SecAggError, SecAggErrorCode.ERR_SECAGG_SIGNATURE, `the key advertisement of client ${firstKey!.sender} has a bad signature`);
    expectCodedError(() => client.handle({ ...message, keys: [firstKey!, ...message.keys] }), SecAggError, SecAggErrorCode.ERR_SECAGG_MESSAGE, 'is listed twice');
    const stranger = h.sent[0]!.find((advert) => advert.sender !== id && !message.keys.some((key) => key.sender === advert.sender))!;
    expectCodedError(() => client.handle({ ...message, keys: [...message.keys, stranger as (typeof message.keys)[number]] }), SecAggError, SecAggErrorCode.ERR_SECAGG_MESSAGE, `client ${stranger.sender} is not a neighbour`);
    expectCodedError(() => client.handle({ ...message, keys: [{ ...firstKey!, sessionId: bytes32('x') }] }), SecAggError, SecAggErrorCode.ERR_SECAGG_ROUND, 'is not a round-0 message of this session');
    expectCodedError(() => client.handle({ ...message, sessionId: bytes32('other') }), SecAggError, SecAggErrorCode.ERR_SECAGG_ROUND, 'belongs to another session');
    expectCodedError(() => client.handle({ kind: 'unmaskRequest', sessionId: message.sessionId, round: 3, survivors: [], dropped: [] }), SecAggError, SecAggErrorCode.ERR_SECAGG_ROUND, 'unmaskRequest for round 3 arrived in phase advertised (expected round 1)');
    expectCodedError(() => client.handle({ ...message, kind: 'forwardedShares' } as unknown as ServerMessage), SecAggError, SecAggErrorCode.ERR_SECAGG_MESSAGE, 'round 1 expects neighbourKeys, got forwardedShares');
    expectCodedError(() => client.advertiseKeys(), SecAggError, SecAggErrorCode.ERR_SECAGG_ROUND, 'advertiseKeys for round 0');
    // The genuine message still works: the refusals changed nothing.
    expect(client.handle(message).kind).toBe('shareKeys');
  });

  test('tampered, misdirected, duplicated or foreign ciphertexts', () => {
    const h = harness('client-shares', 7, 4);
    advance(h, 2);
    const [id, client] = [...h.clients.entries()][0]!;
    const message = messageFor<ForwardedShares>(h, 1, id);
    const [first, second] = message.shares;
    const flipped = first!.ciphertext.map((byte, index) => (index === 0 ? byte ^ 1 : byte));
    expectCodedError(() => client.handle({ ...message, shares: [{ ...first!, ciphertext: flipped }] }), SecAggError, SecAggErrorCode.ERR_SECAGG_CIPHERTEXT, `client ${id} cannot open the shares from client ${first!.sender}`);
    expectCodedError(() => client.handle({ ...message, shares: [{ ...first!, sender: second!.sender }] }), SecAggError, SecAggErrorCode.ERR_SECAGG_CIPHERTEXT, `from client ${second!.sender}`);
    expectCodedError(() => client.handle({ ...message, shares: [first!, first!] }), SecAggError, SecAggErrorCode.ERR_SECAGG_MESSAGE, 'twice');
    expectCodedError(() => client.handle({ ...message, shares: [{ ...first!, sender: 9999 as SecAggClientId }] }), SecAggError, SecAggErrorCode.ERR_SECAGG_MESSAGE, 'shares from client 9999, which is not a neighbour');
    // A ciphertext meant for another client of the same sender does not open here either.
    const other = [...h.received[1]!].find((entry) => entry.to !== id && (entry.message as ForwardedShares).shares.some((share) => share.sender === first!.sender))!;
    const misdirected = (other.message as ForwardedShares).shares.find((share) => share.sender === first!.sender)!;
    expectCodedError(() => client.handle({ ...message, shares: [misdirected] }), SecAggError, SecAggErrorCode.ERR_SECAGG_CIPHERTEXT, 'cannot open');
    expect(client.handle(message).kind).toBe('maskedInput');
  });

  test('an unmasking request that asks for both secrets of a neighbour, names a stranger, or leaves fewer than t survivors', () => {
    const h = harness('client-unmask', 7, 4);
    advance(h, 3);
    const [id, client] = [...h.clients.entries()][0]!;
    const request = messageFor<UnmaskRequest>(h, 2, id);
    const victim = request.survivors[0]!;
    expectCodedError(() => client.handle({ ...request, dropped: [victim] }), SecAggError, SecAggErrorCode.ERR_SECAGG_UNMASK_REQUEST, `client ${victim} is listed twice (as survivor and dropout, or repeated); refusing to reveal both secrets`);
    expectCodedError(() => client.handle({ ...request, dropped: [12345 as SecAggClientId] }), SecAggError, SecAggErrorCode.ERR_SECAGG_UNMASK_REQUEST, 'client 12345 is not a neighbour');
    expectCodedError(() => client.handle({ ...request, survivors: request.survivors.slice(0, 2), dropped: [] }), SecAggError, SecAggErrorCode.ERR_SECAGG_BELOW_THRESHOLD, 'round 3: 2 neighbours survived, below the threshold 3');
    const reply = client.handle(request) as UnmaskingShares;
    expect(reply.selfMaskShares.map((entry) => entry.owner)).toEqual(request.survivors);
    // Answered once: a second request (say, claiming the survivors dropped) is refused.
    expectCodedError(() => client.handle({ ...request, survivors: [], dropped: request.survivors }), SecAggError, SecAggErrorCode.ERR_SECAGG_ROUND, 'arrived in phase done');
  });

  test('a low-order X25519 key from a neighbour', () => {
    const h = harness('low-order', 6, 4);
    advance(h, 1);
    const [id, client] = [...h.clients.entries()][0]!;
    const message = messageFor<NeighbourKeys>(h, 0, id);
    const first = message.keys[0]!;
    const { signature: _s, ...unsigned } = first;
    // The all-zero point has order 1: X25519 with it yields zero, which node:crypto refuses.
    const lowOrder = signClientMessage({ ...unsigned, cipherPublicKey: new Uint8Array(32) }, h.fx.signingKeys.get(first.sender)!);
    expectCodedError(() => client.handle({ ...message, keys: [lowOrder, ...message.keys.slice(1)] }), SecAggError, SecAggErrorCode.ERR_SECAGG_MESSAGE, `client ${first.sender} advertised an unusable X25519 key`);
  });
});
