import { describe, expect, it } from 'vitest';
import { ed25519Signer } from '../../src/crypto/curve25519.js';
import { createCa, issueSvid, nodeKeysFromSeeds } from '../../src/identity/ca.js';
import { nodeIdOfSpiffeId, parseSpiffeId } from '../../src/identity/spiffe-id.js';
import { validateSvid } from '../../src/identity/svid.js';
import type { LinkId } from '../../src/mesh/neighbour.js';
import { decodeReportMessage, encodeBundle, encodeCertificateFragments, reportsPerBundleMax, reportWindowMs } from '../../src/mapek/report-codec.js';
import {
  bundlesPerLinkPerWindowMax,
  certificateRequestsMax,
  certificateRetryMs,
  ReportExchange,
  reportWindowOf,
  type CertifiedKey,
  type LinkPeer,
  type LinkSend,
} from '../../src/mapek/report-exchange.js';
import type { TransitReport } from '../../src/mapek/transit-accounting.js';
import { formatNodeId, nodeId, type NodeId } from '../../src/wire/ids.js';
import { seeded } from '../seeded.js';

/**
 * The report exchange between real identities (a mesh CA, SVIDs, Ed25519 signatures): D - X - N
 * in a line, so that D's reports about X reach N only through X, the suspect.
 */

const trustDomain = 'reports.test';
const t0 = 1_800_000_000_000;
const window0 = reportWindowOf(t0);
const { ca } = createCa(trustDomain, t0 - 60_000, seeded('reports ca'));

interface Identity {
  readonly id: NodeId;
  readonly certificate: Uint8Array;
  readonly sign: (message: Uint8Array) => Uint8Array;
}

function identity(id: number): Identity {
  const random = seeded(`reports node ${id}`);
  const keys = nodeKeysFromSeeds(random(32), random(32), random(32));
  const certificate = issueSvid(ca, `/node/${formatNodeId(nodeId(id))}`, keys.publicKeys, t0 - 60_000, random, 3600_000);
  return { id: nodeId(id), certificate, sign: ed25519Signer(keys.ed25519PrivateKey) };
}

const D = identity(1);
const X = identity(2);
const N = identity(3);
const M = identity(4);
const everyone = [D, X, N, M];

function verifyCertificate(certificate: Uint8Array, nowMs: number): CertifiedKey {
  const svid = validateSvid(certificate, [ca.anchor], trustDomain, nowMs);
  return { node: nodeIdOfSpiffeId(parseSpiffeId(svid.spiffeId)), publicKey: svid.ed25519PublicKey, notAfterMs: svid.notAfterMs };
}

/** The exchange of `self`, whose sessions hold the certificates of `neighbours`. */
function exchangeOf(self: Identity, neighbours: readonly Identity[]): ReportExchange {
  const certificates = new Map([self, ...neighbours].map((node) => [node.id, node.certificate]));
  return new ReportExchange({ self: self.id, sign: self.sign, verifyCertificate, certificateOf: (node) => certificates.get(node) ?? null });
}

const link = (n: number): LinkId => n as LinkId;
/** D's links: 0 to X. X's links: 0 to D, 1 to N. N's links: 1 to X. */
const linksOfD: LinkPeer[] = [{ link: link(0), peer: X.id }];
const linksOfX: LinkPeer[] = [
  { link: link(0), peer: D.id },
  { link: link(1), peer: N.id },
];
const linksOfN: LinkPeer[] = [{ link: link(1), peer: X.id }];

function reportsOf(reporter: Identity, subjects: readonly Identity[], handedTo = 100, receivedFrom = 90): TransitReport[] {
  return subjects.map((subject) => ({ reporter: reporter.id, subject: subject.id, handedTo, receivedFrom, sent: handedTo, received: receivedFrom }));
}

function nowIn(window: number): number {
  return window * reportWindowMs + 500;
}

/** Runs one window's exchange: D publishes, X relays, N asks X for D's certificate if it must; returns what N accepted. */
function runWindow(window: number, nodes: { d: ReportExchange; x: ReportExchange; n: ReportExchange }): TransitReport[] {
  const now = nowIn(window);
  const accepted: TransitReport[] = [];
  const fromD = nodes.d.publish(now, window, reportsOf(D, [X]), linksOfD);
  for (const send of fromD) {
    const atX = nodes.x.receive(now, { link: send.link, peer: D.id }, send.bytes, linksOfX);
    for (const relay of atX.sends) deliverToN(now, relay, nodes, accepted);
  }
  return accepted;
}

function deliverToN(now: number, send: LinkSend, nodes: { x: ReportExchange; n: ReportExchange }, accepted: TransitReport[]): void {
  expect(send.link).toBe(link(1));
  const atN = nodes.n.receive(now, { link: link(1), peer: X.id }, send.bytes, linksOfN);
  if (atN.accepted !== null) accepted.push(...atN.accepted.reports);
  for (const back of atN.sends) {
    const atX = nodes.x.receive(now, { link: link(1), peer: N.id }, back.bytes, linksOfX);
    for (const answer of atX.sends) deliverToN(now, answer, nodes, accepted);
  }
}

function line(): { d: ReportExchange; x: ReportExchange; n: ReportExchange } {
  return { d: exchangeOf(D, [X]), x: exchangeOf(X, [D, N]), n: exchangeOf(N, [X]) };
}

describe('the report exchange', () => {
  it('carries a reporter\'s signed reports two hops: the relay checks them with the session\'s certificate, the far node fetches it once', () => {
    const nodes = line();
    // The first bundle from an unknown reporter two hops away is dropped: the judge reads it as a missing reporter.
    expect(runWindow(window0, nodes)).toEqual([]);
    expect(nodes.x.stats).toMatchObject({ accepted: 1, relayed: 1, certificatesLearned: 1, certificatesSent: 1 });
    expect(nodes.n.stats).toMatchObject({ accepted: 0, unknownKey: 1, certificatesRequested: 1, certificatesLearned: 1 });
    // Next window: the key is known, nothing is asked.
    expect(runWindow(window0 + 1, nodes)).toEqual(reportsOf(D, [X]));
    expect(nodes.n.stats).toMatchObject({ accepted: 1, certificatesRequested: 1 });
    expect(nodes.d.stats.published).toBe(2);
  });

  it('drops a report the relay altered or forged, and still takes the genuine copy after it', () => {
    const nodes = line();
    runWindow(window0, nodes);
    const now = nowIn(window0 + 1);
    const genuine = nodes.d.publish(now, window0 + 1, reportsOf(D, [X], 100, 10), linksOfD)[0]!.bytes;
    // X makes its shortfall disappear: received-from 10 becomes 100 (the last byte of the count).
    const altered = genuine.slice();
    altered[11 + 8 + 3] = 100;
    expect(nodes.n.receive(now, { link: link(1), peer: X.id }, altered, linksOfN).accepted).toBeNull();
    // X signs a report in D's name with its own key.
    const forged = encodeBundle(D.id, window0 + 1, 0, reportsOf(D, [X], 100, 100), X.sign);
    expect(nodes.n.receive(now, { link: link(1), peer: X.id }, forged, linksOfN).accepted).toBeNull();
    expect(nodes.n.stats.forged).toBe(2);
    const accepted = nodes.n.receive(now, { link: link(1), peer: X.id }, genuine, linksOfN).accepted;
    expect(accepted?.reports).toEqual(reportsOf(D, [X], 100, 10));
    // A replay, and an old window, are dropped.
    expect(nodes.n.receive(now, { link: link(1), peer: X.id }, genuine, linksOfN).accepted).toBeNull();
    expect(nodes.n.receive(nowIn(window0 + 5), { link: link(1), peer: X.id }, genuine, linksOfN).accepted).toBeNull();
    expect(nodes.n.stats).toMatchObject({ duplicate: 1, stale: 1 });
  });

  it('relays only what it got from the reporter itself, never back to the reporter, and never its own reports', () => {
    const nodes = line();
    const now = nowIn(window0);
    const ownOfN = nodes.n.publish(now, window0, reportsOf(N, [X]), linksOfN);
    expect(ownOfN).toHaveLength(1);
    const atX = nodes.x.receive(now, { link: link(1), peer: N.id }, ownOfN[0]!.bytes, linksOfX);
    expect(atX.sends).toEqual([{ link: link(0), bytes: ownOfN[0]!.bytes }]);
    // D gets N's bundle relayed: it asks X for N's certificate, and does not relay it on.
    const atD = nodes.d.receive(now, { link: link(0), peer: X.id }, ownOfN[0]!.bytes, linksOfD);
    expect(atD.sends.map((send) => decodeReportMessage(send.bytes).kind)).toEqual(['certificateRequest']);
    // N's own bundle coming back is a duplicate.
    expect(nodes.n.receive(now, { link: link(1), peer: X.id }, ownOfN[0]!.bytes, linksOfN).accepted).toBeNull();
    expect(nodes.n.stats.duplicate).toBe(1);
  });

  it('splits a node with many neighbours into parts, each signed and accepted on its own', () => {
    const many = Array.from({ length: reportsPerBundleMax + 3 }, (_, i) => ({ reporter: D.id, subject: 100 + i, handedTo: 1, receivedFrom: 1, sent: 1, received: 1 }));
    const d = exchangeOf(D, [X]);
    const x = exchangeOf(X, [D, N]);
    const now = nowIn(window0);
    const sends = d.publish(now, window0, many, linksOfD);
    expect(sends).toHaveLength(2);
    const accepted = sends.map((send) => x.receive(now, { link: link(0), peer: D.id }, send.bytes, linksOfX).accepted!);
    expect(accepted.map((bundle) => [bundle.part, bundle.reports.length])).toEqual([
      [0, reportsPerBundleMax],
      [1, 3],
    ]);
    const tooMany = Array.from({ length: 8 * reportsPerBundleMax + 1 }, (_, i) => ({ ...many[0]!, subject: 100 + i }));
    expect(d.publish(now, window0 + 1, tooMany, linksOfD)).toHaveLength(8);
    expect(d.stats.unpublished).toBe(1);
  });

  it('caps the bundles one link can make it check per window, and counts malformed messages', () => {
    const x = exchangeOf(X, [D, N]);
    const now = nowIn(window0);
    for (let i = 0; i < bundlesPerLinkPerWindowMax + 5; i++) {
      const bytes = encodeBundle(D.id, window0, i % 8, reportsOf(D, [X], 1, i), M.sign);
      x.receive(now, { link: link(0), peer: D.id }, bytes, linksOfX);
    }
    expect(x.stats).toMatchObject({ forged: bundlesPerLinkPerWindowMax, overBudget: 5 });
    x.receive(now, { link: link(0), peer: D.id }, Uint8Array.of(0x81, 1), linksOfX);
    expect(x.stats.malformed).toBe(1);
  });

  it('learns a key only from a certificate that verifies and names the reporter; fragments nobody asked for are dropped', () => {
    const n = exchangeOf(N, [X]);
    const now = nowIn(window0);
    const fromD = encodeBundle(D.id, window0, 0, reportsOf(D, [X]), D.sign);
    const ask = n.receive(now, { link: link(1), peer: X.id }, fromD, linksOfN);
    expect(ask.sends).toHaveLength(1);
    // Asked again within the retry interval: no second request.
    expect(n.receive(now + 1, { link: link(1), peer: X.id }, encodeBundle(D.id, window0, 1, reportsOf(D, [X]), D.sign), linksOfN).sends).toEqual([]);
    // X answers with M's certificate in D's name: refused.
    for (const fragment of encodeCertificateFragments(D.id, M.certificate)) n.receive(now, { link: link(1), peer: X.id }, fragment, linksOfN);
    expect(n.stats).toMatchObject({ certificatesRefused: 1, certificatesLearned: 0 });
    // Garbage in the place of a certificate, asked for again after the retry interval: refused too.
    const later = now + certificateRetryMs;
    expect(n.receive(later, { link: link(1), peer: X.id }, fromD, linksOfN).sends).toHaveLength(1);
    for (const fragment of encodeCertificateFragments(D.id, new Uint8Array(1500).fill(9))) n.receive(later, { link: link(1), peer: X.id }, fragment, linksOfN);
    expect(n.stats.certificatesRefused).toBe(2);
    // Fragments of a certificate nobody asked for, or from another link, are dropped unread.
    for (const fragment of encodeCertificateFragments(M.id, M.certificate)) n.receive(later, { link: link(1), peer: X.id }, fragment, linksOfN);
    expect(n.stats.unsolicited).toBe(encodeCertificateFragments(M.id, M.certificate).length);
  });

  it('re-fetches a key once its certificate expired, answers a request at most once per half interval, and bounds the requests in flight', () => {
    // Keys whose certificates run out after 3 windows.
    const shortLived = (certificate: Uint8Array, nowMs: number): CertifiedKey => ({ ...verifyCertificate(certificate, nowMs), notAfterMs: nowMs + 3 * reportWindowMs });
    const certificates = new Map([X, D].map((node) => [node.id, node.certificate]));
    const nodes = { d: exchangeOf(D, [X]), x: exchangeOf(X, [D, N]), n: new ReportExchange({ self: N.id, sign: N.sign, verifyCertificate: shortLived, certificateOf: (node) => certificates.get(node) ?? null }) };
    runWindow(window0, nodes);
    expect(runWindow(window0 + 1, nodes)).toHaveLength(1);
    expect(nodes.n.stats.certificatesRequested).toBe(1);
    expect(runWindow(window0 + 4, nodes)).toEqual([]);
    expect(nodes.n.stats.certificatesRequested).toBe(2);
    expect(runWindow(window0 + 5, nodes)).toHaveLength(1);

    const x = exchangeOf(X, [D, N]);
    const request = (at: number): number => x.receive(at, { link: link(1), peer: N.id }, Uint8Array.of(0x82, 0, 0, 0, D.id), linksOfX).sends.length;
    expect(request(t0)).toBeGreaterThan(1);
    expect(request(t0 + 10)).toBe(0);
    expect(request(t0 + certificateRetryMs / 2)).toBeGreaterThan(1);
    // A certificate it does not hold is not answered.
    expect(x.receive(t0, { link: link(1), peer: N.id }, Uint8Array.of(0x82, 0, 0, 0, 99), linksOfX).sends).toEqual([]);

    const n = exchangeOf(N, [X]);
    let asked = 0;
    for (let i = 0; i < certificateRequestsMax + 3; i++) {
      asked += n.receive(t0, { link: link(1), peer: X.id }, encodeBundle(nodeId(1000 + i), window0, 0, reportsOf(D, [X]).map((r) => ({ ...r, reporter: 1000 + i })), D.sign), linksOfN).sends.length;
    }
    expect(asked).toBe(certificateRequestsMax);
    // Publishing forgets requests nobody answered.
    n.publish(t0 + 2 * certificateRetryMs, window0 + 4, reportsOf(N, [X]), linksOfN);
    expect(n.receive(t0 + 2 * certificateRetryMs, { link: link(1), peer: X.id }, encodeBundle(nodeId(2000), window0 + 4, 0, reportsOf(D, [X]).map((r) => ({ ...r, reporter: 2000 })), D.sign), linksOfN).sends).toHaveLength(1);
  });

  it('gives no key for a direct neighbour whose certificate it does not hold', () => {
    const x = new ReportExchange({ self: X.id, sign: X.sign, verifyCertificate, certificateOf: () => null });
    const bytes = encodeBundle(D.id, window0, 0, reportsOf(D, [X]), D.sign);
    expect(x.receive(nowIn(window0), { link: link(0), peer: D.id }, bytes, linksOfX).accepted).toBeNull();
    expect(x.stats.unknownKey).toBe(1);
    expect(everyone).toHaveLength(4);
  });
});
