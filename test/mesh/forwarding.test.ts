import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeFeedbackPayload,
  encodeFeedbackPayload,
  feedbackPayloadBytes,
  hopLimitDefault,
  isFeedback,
  originate,
  receiveData,
  type ForwardingContext,
} from '../../src/mesh/forwarding.js';
import type { LinkId, Neighbour } from '../../src/mesh/neighbour.js';
import { newMeshStats, type MeshEvent, type MeshStats, type Transmit } from '../../src/mesh/types.js';
import { decodePacket, encodePacket } from '../../src/wire/codec.js';
import { nodeId, type NodeId } from '../../src/wire/ids.js';
import { DataKind, type DataKindValue, type DataTlv } from '../../src/wire/messages.js';

const self = nodeId(0x100);
const peer = nodeId(0x200);
const far = nodeId(0x300);
const linkToPeer = 3 as LinkId;
const linkToFar = 4 as LinkId;

interface FakeNode {
  readonly ctx: ForwardingContext;
  readonly stats: MeshStats;
  readonly transmits: Transmit[];
  readonly events: MeshEvent[];
}


/** A forwarding context for node `self` whose routes map a destination to the link of its next hop. */
function fakeNode(routes: ReadonlyMap<NodeId, LinkId> = new Map()): FakeNode {
  const stats = newMeshStats();
  const transmits: Transmit[] = [];
  const events: MeshEvent[] = [];
  const ctx: ForwardingContext = {
    id: self,
    stats,
    nextHop: (dst) => {
      const link = routes.get(dst);
      return link === undefined ? null : ({ link } as unknown as Neighbour);
    },
    transmit: (transmit) => transmits.push(transmit),
    emit: (event) => events.push(event),
  };
  return { ctx, stats, transmits, events };
}

const routed = new Map<NodeId, LinkId>([
  [peer, linkToPeer],
  [far, linkToFar],
]);

function data(kind: DataKindValue, fields: Partial<Omit<DataTlv, 'type' | 'kind'>> = {}): DataTlv {
  return { type: 'data', kind, hopLimit: 10, src: peer, dst: far, id: 42, payload: Uint8Array.of(1, 2, 3), ...fields };
}

/** Stats that differ from the initial ones. */
function changedStats(stats: MeshStats): Partial<MeshStats> {
  return Object.fromEntries(Object.entries(stats).filter(([, value]) => value !== 0));
}

describe('constants and isFeedback', () => {
  it('default hop limit and feedback payload size', () => {
    expect(hopLimitDefault).toBe(64);
    expect(feedbackPayloadBytes).toBe(5);
  });

  it.each([
    [DataKind.app, false],
    [DataKind.echoRequest, false],
    [DataKind.echoReply, false],
    [DataKind.unreachable, true],
    [DataKind.hopLimitExceeded, true],
  ] as const)('isFeedback(%i) = %s', (kind, expected) => {
    expect(isFeedback(kind)).toBe(expected);
  });
});

describe('feedback payload', () => {
  it('encodes kind then destination, big-endian', () => {
    expect([...encodeFeedbackPayload(DataKind.echoRequest, nodeId(0x01020304))]).toEqual([1, 1, 2, 3, 4]);
    expect([...encodeFeedbackPayload(DataKind.app, nodeId(0xffff_ffff))]).toEqual([0, 0xff, 0xff, 0xff, 0xff]);
  });

  it('decodes what it encodes, for every kind and node id', () => {
    const kind = fc.constantFrom<DataKindValue>(0, 1, 2, 3, 4);
    const id = fc.integer({ min: 1, max: 0xffff_ffff }).map(nodeId);
    fc.assert(
      fc.property(kind, id, (k, dst) => {
        expect(decodeFeedbackPayload(encodeFeedbackPayload(k, dst))).toEqual({ kind: k, dst });
      }),
    );
  });

  it('decodes a payload that is a view into a larger buffer', () => {
    const buffer = Uint8Array.of(9, 9, 9, 4, 0xde, 0xad, 0xbe, 0xef, 9);
    expect(decodeFeedbackPayload(buffer.subarray(3, 8))).toEqual({ kind: 4, dst: 0xdeadbeef });
  });

  it.each([
    ['empty', new Uint8Array(0)],
    ['one byte short', Uint8Array.of(0, 0, 0, 0)],
    ['one byte long', Uint8Array.of(0, 0, 0, 0, 1, 0)],
    ['destination 0', Uint8Array.of(0, 0, 0, 0, 0)],
  ])('rejects a malformed payload: %s', (_name, payload) => {
    expect(decodeFeedbackPayload(payload)).toBeNull();
  });
});

describe('originate', () => {
  it('delivers an application datagram to this node locally', () => {
    const node = fakeNode();
    const tlv = data(DataKind.app, { src: self, dst: self, hopLimit: 7 });
    originate(node.ctx, tlv);
    expect(node.transmits).toEqual([]);
    expect(node.events).toEqual([{ kind: 'delivered', src: self, id: 42, payload: tlv.payload, hopLimit: 7 }]);
    expect(changedStats(node.stats)).toEqual({ dataDelivered: 1 });
  });

  it('answers its own ping locally', () => {
    const node = fakeNode();
    originate(node.ctx, data(DataKind.echoRequest, { src: self, dst: self, hopLimit: 3 }));
    expect(node.events).toEqual([{ kind: 'echoReply', from: self, id: 42, hopLimit: hopLimitDefault }]);
    expect(changedStats(node.stats)).toEqual({ dataDelivered: 2 });
  });

  it('reports unreachable locally when there is no route', () => {
    const node = fakeNode();
    originate(node.ctx, data(DataKind.app, { src: self, dst: far }));
    expect(node.transmits).toEqual([]);
    expect(node.events).toEqual([{ kind: 'unreachable', reporter: self, dst: far, id: 42 }]);
    expect(changedStats(node.stats)).toEqual({ dropNoRoute: 1 });
  });

  it.each([DataKind.unreachable, DataKind.hopLimitExceeded])('drops feedback (kind %i) without a route silently', (kind) => {
    const node = fakeNode();
    originate(node.ctx, data(kind, { src: self, dst: far }));
    expect(node.transmits).toEqual([]);
    expect(node.events).toEqual([]);
    expect(changedStats(node.stats)).toEqual({ dropNoRoute: 1 });
  });

  it('sends one packet on the next hop link with the hop limit unchanged', () => {
    const node = fakeNode(routed);
    const tlv = data(DataKind.app, { src: self, dst: far, hopLimit: 1 });
    originate(node.ctx, tlv);
    expect(node.events).toEqual([]);
    expect(node.transmits).toHaveLength(1);
    const transmit = node.transmits[0]!;
    expect(transmit.link).toBe(linkToFar);
    expect(transmit.data).toBe(tlv);
    expect(transmit.bytes).toEqual(encodePacket([tlv]));
    expect(transmit.bytes.length).toBe(1 + 3 + 14 + 3);
    expect(decodePacket(transmit.bytes)).toEqual([tlv]);
    expect(changedStats(node.stats)).toEqual({ dataBytesSent: 21 });
  });
});

describe('receiveData', () => {
  it('delivers an application datagram addressed here, with the hop limit it arrived with', () => {
    const node = fakeNode(routed);
    const tlv = data(DataKind.app, { dst: self, hopLimit: 1 });
    receiveData(node.ctx, tlv);
    expect(node.transmits).toEqual([]);
    expect(node.events).toEqual([{ kind: 'delivered', src: peer, id: 42, payload: tlv.payload, hopLimit: 1 }]);
    expect(changedStats(node.stats)).toEqual({ dataDelivered: 1 });
  });

  it('answers an echo request with an echo reply to its source', () => {
    const node = fakeNode(routed);
    const request = data(DataKind.echoRequest, { src: far, dst: self, hopLimit: 2, id: 9 });
    receiveData(node.ctx, request);
    const reply: DataTlv = { type: 'data', kind: DataKind.echoReply, hopLimit: 64, src: self, dst: far, id: 9, payload: request.payload };
    expect(node.events).toEqual([]);
    expect(node.transmits).toEqual([{ link: linkToFar, bytes: encodePacket([reply]), data: reply }]);
    expect(changedStats(node.stats)).toEqual({ dataDelivered: 1, dataBytesSent: 21 });
  });

  it('reports an echo reply addressed here', () => {
    const node = fakeNode();
    receiveData(node.ctx, data(DataKind.echoReply, { src: far, dst: self, hopLimit: 60, id: 5 }));
    expect(node.events).toEqual([{ kind: 'echoReply', from: far, id: 5, hopLimit: 60 }]);
    expect(changedStats(node.stats)).toEqual({ dataDelivered: 1 });
  });

  it('forwards with the hop limit decremented', () => {
    const node = fakeNode(routed);
    const tlv = data(DataKind.app, { src: peer, dst: far, hopLimit: 2 });
    receiveData(node.ctx, tlv);
    const forwarded: DataTlv = { ...tlv, hopLimit: 1 };
    expect(node.events).toEqual([]);
    expect(node.transmits).toEqual([{ link: linkToFar, bytes: encodePacket([forwarded]), data: forwarded }]);
    expect(tlv.hopLimit).toBe(2); // the received TLV is not mutated
    expect(changedStats(node.stats)).toEqual({ dataForwarded: 1, dataBytesSent: 21 });
  });

  it('forwards feedback addressed elsewhere like any datagram', () => {
    const node = fakeNode(routed);
    const tlv = data(DataKind.unreachable, { src: peer, dst: far, hopLimit: 64, payload: encodeFeedbackPayload(DataKind.app, self) });
    receiveData(node.ctx, tlv);
    expect(node.transmits.map((t) => [t.link, t.data?.hopLimit])).toEqual([[linkToFar, 63]]);
  });

  it.each([1, 0])('with hop limit %i, drops it and sends hopLimitExceeded back to the source', (hopLimit) => {
    const node = fakeNode(routed);
    receiveData(node.ctx, data(DataKind.app, { src: peer, dst: far, hopLimit, id: 77 }));
    const feedback: DataTlv = {
      type: 'data',
      kind: DataKind.hopLimitExceeded,
      hopLimit: 64,
      src: self,
      dst: peer,
      id: 77,
      payload: Uint8Array.of(DataKind.app, 0, 0, 3, 0),
    };
    expect(node.events).toEqual([]);
    expect(node.transmits).toEqual([{ link: linkToPeer, bytes: encodePacket([feedback]), data: feedback }]);
    expect(changedStats(node.stats)).toEqual({ dropHopLimit: 1, dataBytesSent: 1 + 3 + 14 + 5 });
  });

  it('sends unreachable back to the source when there is no route on', () => {
    const node = fakeNode(new Map([[peer, linkToPeer]]));
    receiveData(node.ctx, data(DataKind.echoRequest, { src: peer, dst: far, hopLimit: 30, id: 8 }));
    const feedback: DataTlv = {
      type: 'data',
      kind: DataKind.unreachable,
      hopLimit: 64,
      src: self,
      dst: peer,
      id: 8,
      payload: encodeFeedbackPayload(DataKind.echoRequest, far),
    };
    expect(node.events).toEqual([]);
    expect(node.transmits).toEqual([{ link: linkToPeer, bytes: encodePacket([feedback]), data: feedback }]);
    expect(changedStats(node.stats)).toEqual({ dropNoRoute: 1, dataBytesSent: 23 });
  });

  it('drops feedback it cannot route back, without an event', () => {
    const node = fakeNode();
    receiveData(node.ctx, data(DataKind.app, { src: peer, dst: far }));
    expect(node.transmits).toEqual([]);
    expect(node.events).toEqual([]);
    // One drop for the datagram, one for the feedback about it.
    expect(changedStats(node.stats)).toEqual({ dropNoRoute: 2 });
  });

  it.each([DataKind.unreachable, DataKind.hopLimitExceeded])('never sends feedback about feedback (kind %i)', (kind) => {
    const payload = encodeFeedbackPayload(DataKind.app, self);
    const expired = fakeNode(routed);
    receiveData(expired.ctx, data(kind, { src: peer, dst: nodeId(0x999), hopLimit: 1, payload }));
    expect(expired.transmits).toEqual([]);
    expect(expired.events).toEqual([]);
    expect(changedStats(expired.stats)).toEqual({ dropHopLimit: 1 });

    const unroutable = fakeNode(routed);
    receiveData(unroutable.ctx, data(kind, { src: peer, dst: nodeId(0x999), hopLimit: 10, payload }));
    expect(unroutable.transmits).toEqual([]);
    expect(unroutable.events).toEqual([]);
    expect(changedStats(unroutable.stats)).toEqual({ dropNoRoute: 1 });
  });

  it('reports feedback addressed here with the reporter and the original destination', () => {
    const node = fakeNode();
    receiveData(node.ctx, data(DataKind.unreachable, { src: peer, dst: self, id: 11, payload: encodeFeedbackPayload(DataKind.app, far) }));
    receiveData(node.ctx, data(DataKind.hopLimitExceeded, { src: far, dst: self, id: 12, payload: encodeFeedbackPayload(DataKind.echoRequest, peer) }));
    expect(node.events).toEqual([
      { kind: 'unreachable', reporter: peer, dst: far, id: 11 },
      { kind: 'hopLimitExceeded', reporter: far, dst: peer, id: 12 },
    ]);
    expect(changedStats(node.stats)).toEqual({ dataDelivered: 2 });
  });

  it('ignores feedback addressed here with a malformed payload', () => {
    const node = fakeNode();
    receiveData(node.ctx, data(DataKind.unreachable, { dst: self, payload: Uint8Array.of(0, 0, 0, 3) }));
    receiveData(node.ctx, data(DataKind.hopLimitExceeded, { dst: self, payload: Uint8Array.of(0, 0, 0, 0, 0) }));
    expect(node.events).toEqual([]);
    expect(changedStats(node.stats)).toEqual({ dataDelivered: 2 });
  });

  it('feedback about a datagram this node sent comes straight back to it', () => {
    // A datagram from this node that expired here (a loop through this node) is reported locally.
    const node = fakeNode(routed);
    receiveData(node.ctx, data(DataKind.app, { src: self, dst: far, hopLimit: 1, id: 3 }));
    expect(node.transmits).toEqual([]);
    expect(node.events).toEqual([{ kind: 'hopLimitExceeded', reporter: self, dst: far, id: 3 }]);
    expect(changedStats(node.stats)).toEqual({ dropHopLimit: 1, dataDelivered: 1 });
  });
});
