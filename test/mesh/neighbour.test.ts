import { describe, expect, it } from 'vitest';
import { Neighbour, clockUs, type LinkId } from '../../src/mesh/neighbour.js';
import { fastProfile, rfc8966Profile } from '../../src/mesh/profiles.js';
import { nodeId } from '../../src/wire/ids.js';
import { metricInfinity } from '../../src/wire/limits.js';
import { ProbeState, type HelloTlv, type IhuTlv, type ProbeStateValue, type ProbeTlv } from '../../src/wire/messages.js';

const peerA = nodeId(0x0a);
const peerB = nodeId(0x0b);
const link = 7 as LinkId;

function probe(state: ProbeStateValue, fields: Partial<Omit<ProbeTlv, 'type' | 'state'>> = {}): ProbeTlv {
  return { type: 'probe', sender: peerA, state, detectMult: 3, intervalMs: 50, txUs: 0, echoUs: 0, holdUs: 0, ...fields };
}

function hello(seqno: number, fields: Partial<Omit<HelloTlv, 'type' | 'seqno'>> = {}): HelloTlv {
  return { type: 'hello', sender: peerA, seqno, intervalMs: 1000, timestampUs: 0, ...fields };
}

function ihu(fields: Partial<Omit<IhuTlv, 'type'>> = {}): IhuTlv {
  return { type: 'ihu', rxCost: 256, intervalMs: 3000, originUs: 0, holdUs: 0, ...fields };
}

/** A fast-profile neighbour with peer A whose probe session is Up at `nowMs` (evaluated once). */
function upFast(nowMs = 0): Neighbour {
  const neighbour = new Neighbour(link, fastProfile);
  neighbour.notePeer(peerA);
  neighbour.onProbe(nowMs, probe(ProbeState.down));
  neighbour.onProbe(nowMs, probe(ProbeState.init));
  expect(neighbour.evaluate()).toBe('up');
  return neighbour;
}

/** A neighbour in `state` reached through the handshake, without a peer-change reset in between. */
function inState(state: ProbeStateValue): Neighbour {
  const neighbour = new Neighbour(link, fastProfile);
  neighbour.notePeer(peerA);
  if (state !== ProbeState.down) neighbour.onProbe(0, probe(ProbeState.down));
  if (state === ProbeState.up) neighbour.onProbe(0, probe(ProbeState.init));
  expect(neighbour.probeState).toBe(state);
  return neighbour;
}

describe('clockUs', () => {
  it('is microseconds modulo 2^32, rounded', () => {
    expect(clockUs(0)).toBe(0);
    expect(clockUs(1)).toBe(1000);
    expect(clockUs(2.5)).toBe(2500);
    expect(clockUs(0.0004)).toBe(0);
    expect(clockUs(0.0006)).toBe(1);
    expect(clockUs(4294967.295)).toBe(0xffff_ffff);
    expect(clockUs(4294967.296)).toBe(0);
    expect(clockUs(4294968)).toBe(704);
  });
});

describe('Neighbour: initial state', () => {
  it('knows nothing and is not usable', () => {
    const neighbour = new Neighbour(link, fastProfile);
    expect(neighbour.link).toBe(link);
    expect(neighbour.slot).toBe(-1); // no route table column until the node assigns one
    expect(neighbour.peer).toBeNull();
    expect(neighbour.probeState).toBe(ProbeState.down);
    expect(neighbour.usable).toBe(false);
    expect(neighbour.cost).toBe(metricInfinity);
    expect(neighbour.txCost).toBe(metricInfinity);
    expect(neighbour.rttMs).toBeNaN();
    expect(neighbour.nextDeadlineMs()).toBe(Number.POSITIVE_INFINITY);
    expect(neighbour.evaluate()).toBe('none');
    expect(neighbour.probeEcho(5)).toEqual({ state: ProbeState.down, echoUs: 0, holdUs: 0 });
    expect(neighbour.ihuFields(5)).toEqual({ rxCost: 256, originUs: 0, holdUs: 0 });
  });
});

describe('Neighbour: BFD-like three-way handshake (fast profile)', () => {
  it.each([
    // [local, remote, next local]
    [ProbeState.down, ProbeState.down, ProbeState.init],
    [ProbeState.down, ProbeState.init, ProbeState.up],
    [ProbeState.down, ProbeState.up, ProbeState.down], // a Down session ignores Up (RFC 5880 6.8.6)
    [ProbeState.init, ProbeState.down, ProbeState.init],
    [ProbeState.init, ProbeState.init, ProbeState.up],
    [ProbeState.init, ProbeState.up, ProbeState.up],
    [ProbeState.up, ProbeState.down, ProbeState.down],
    [ProbeState.up, ProbeState.init, ProbeState.up],
    [ProbeState.up, ProbeState.up, ProbeState.up],
  ] as const)('local %i + remote %i -> %i', (local, remote, next) => {
    const neighbour = inState(local);
    neighbour.onProbe(10, probe(remote));
    expect(neighbour.probeState).toBe(next);
  });

  it('comes up in two probes from Down, at nominal cost before any Hello or IHU', () => {
    const neighbour = new Neighbour(link, fastProfile);
    expect(neighbour.notePeer(peerA)).toBe(false);
    neighbour.onProbe(100, probe(ProbeState.down));
    expect(neighbour.probeState).toBe(ProbeState.init);
    expect(neighbour.evaluate()).toBe('none');
    expect(neighbour.usable).toBe(false);
    neighbour.onProbe(120, probe(ProbeState.up));
    expect(neighbour.evaluate()).toBe('up');
    expect(neighbour.usable).toBe(true);
    expect(neighbour.cost).toBe(256);
    expect(neighbour.evaluate()).toBe('none');
  });

  it('goes Down when the peer says Down, reporting peer-down once', () => {
    const neighbour = upFast();
    neighbour.onProbe(10, probe(ProbeState.down));
    expect(neighbour.probeState).toBe(ProbeState.down);
    expect(neighbour.evaluate()).toBe('down');
    expect(neighbour.usable).toBe(false);
    expect(neighbour.cost).toBe(metricInfinity);
    expect(neighbour.downReason()).toBe('peer-down');
    // The reason is consumed; without one, lost Hellos are blamed.
    expect(neighbour.downReason()).toBe('hello-loss');
    expect(neighbour.evaluate()).toBe('none');
  });

  it('needs no peer id for the session but is never usable without one', () => {
    const neighbour = new Neighbour(link, fastProfile);
    neighbour.onProbe(0, probe(ProbeState.init));
    expect(neighbour.probeState).toBe(ProbeState.up);
    expect(neighbour.evaluate()).toBe('none');
    expect(neighbour.usable).toBe(false);
  });

  it('a flap between two evaluations is not reported and leaves no stale reason', () => {
    const neighbour = upFast();
    neighbour.onProbe(10, probe(ProbeState.down)); // Down
    neighbour.onProbe(11, probe(ProbeState.down)); // Init
    neighbour.onProbe(12, probe(ProbeState.up)); // Up
    expect(neighbour.evaluate()).toBe('none');
    expect(neighbour.downReason()).toBe('hello-loss');
  });
});

describe('Neighbour: detection time', () => {
  it('is detectMult * interval as the peer advertises, and each probe restarts it', () => {
    const neighbour = upFast(1000);
    expect(neighbour.nextDeadlineMs()).toBe(1150);
    neighbour.onProbe(1040, probe(ProbeState.up, { detectMult: 5, intervalMs: 20 }));
    expect(neighbour.nextDeadlineMs()).toBe(1140);
    neighbour.expire(1139);
    expect(neighbour.probeState).toBe(ProbeState.up);
    expect(neighbour.evaluate()).toBe('none');
  });

  it('times out to Down with reason probe-timeout', () => {
    const neighbour = upFast(1000);
    neighbour.expire(1149);
    expect(neighbour.probeState).toBe(ProbeState.up);
    neighbour.expire(1150);
    expect(neighbour.probeState).toBe(ProbeState.down);
    expect(neighbour.nextDeadlineMs()).toBe(Number.POSITIVE_INFINITY);
    expect(neighbour.evaluate()).toBe('down');
    expect(neighbour.downReason()).toBe('probe-timeout');
  });

  it('times out from Init too, which was never usable', () => {
    const neighbour = inState(ProbeState.init);
    neighbour.expire(150);
    expect(neighbour.probeState).toBe(ProbeState.down);
    expect(neighbour.evaluate()).toBe('none');
  });

  it('a timeout while already Down records no reason', () => {
    const neighbour = new Neighbour(link, fastProfile);
    neighbour.notePeer(peerA);
    neighbour.onProbe(0, probe(ProbeState.up)); // ignored by a Down session, but arms the timer
    expect(neighbour.nextDeadlineMs()).toBe(150);
    neighbour.expire(150);
    expect(neighbour.nextDeadlineMs()).toBe(Number.POSITIVE_INFINITY);
    expect(neighbour.probeState).toBe(ProbeState.down);
    expect(neighbour.downReason()).toBe('hello-loss');
  });

  it('recovers through the handshake after a timeout', () => {
    const neighbour = upFast(0);
    neighbour.expire(150);
    expect(neighbour.evaluate()).toBe('down');
    neighbour.onProbe(200, probe(ProbeState.down));
    neighbour.onProbe(210, probe(ProbeState.init));
    expect(neighbour.evaluate()).toBe('up');
    expect(neighbour.cost).toBe(256);
  });
});

describe('Neighbour: cost and hysteresis', () => {
  it('uses the transmit cost from IHUs and ignores changes smaller than 16', () => {
    const neighbour = upFast();
    neighbour.onIhu(0, ihu({ rxCost: 271 }));
    expect(neighbour.txCost).toBe(271);
    expect(neighbour.evaluate()).toBe('none'); // 271 - 256 = 15
    expect(neighbour.cost).toBe(256);
    neighbour.onIhu(0, ihu({ rxCost: 272 }));
    expect(neighbour.evaluate()).toBe('cost'); // 16
    expect(neighbour.cost).toBe(272);
    neighbour.onIhu(0, ihu({ rxCost: 257 }));
    expect(neighbour.evaluate()).toBe('none'); // -15
    expect(neighbour.cost).toBe(272);
    neighbour.onIhu(0, ihu({ rxCost: 256 }));
    expect(neighbour.evaluate()).toBe('cost'); // -16
    expect(neighbour.cost).toBe(256);
    neighbour.onIhu(0, ihu({ rxCost: 100 })); // below nominal counts as nominal
    expect(neighbour.evaluate()).toBe('none');
    expect(neighbour.cost).toBe(256);
  });

  it('with probes, an expired IHU falls back to the nominal transmit cost', () => {
    const neighbour = upFast(0);
    neighbour.onIhu(0, ihu({ rxCost: 1024, intervalMs: 3000 }));
    expect(neighbour.evaluate()).toBe('cost');
    expect(neighbour.cost).toBe(1024);
    expect(neighbour.nextDeadlineMs()).toBe(150);
    neighbour.onProbe(10_400, probe(ProbeState.up)); // keeps the session alive to 10 550
    expect(neighbour.nextDeadlineMs()).toBe(10_500); // IHU: 3000 ms * expiry factor 3.5
    neighbour.expire(10_499);
    expect(neighbour.txCost).toBe(1024);
    neighbour.expire(10_500);
    expect(neighbour.txCost).toBe(metricInfinity);
    expect(neighbour.nextDeadlineMs()).toBe(10_550);
    expect(neighbour.evaluate()).toBe('cost');
    expect(neighbour.cost).toBe(256);
    expect(neighbour.usable).toBe(true);
  });

  it('an RTT penalty below the hysteresis is held back until the smoothed RTT crosses it', () => {
    const neighbour = upFast(1000);
    // Sample 1: 21 ms, penalty 15.
    neighbour.onProbe(1000, probe(ProbeState.up, { echoUs: clockUs(979) }));
    expect(neighbour.rttMs).toBe(21);
    expect(neighbour.evaluate()).toBe('none');
    expect(neighbour.cost).toBe(256);
    // Sample 2: 27.4 ms, smoothed 21 + 6.4 / 8 = 21.8 ms, penalty 16.
    neighbour.onProbe(1100, probe(ProbeState.up, { echoUs: clockUs(1000), holdUs: 72_600 }));
    expect(neighbour.rttMs).toBeCloseTo(21.8, 9);
    expect(neighbour.evaluate()).toBe('cost');
    expect(neighbour.cost).toBe(272);
  });

  it('reports a cost change to and from infinity while usable', () => {
    const neighbour = upFast(0);
    neighbour.onHello(0, hello(0, { intervalMs: 1000 }));
    expect(neighbour.evaluate()).toBe('none');
    // Probes keep the session Up while all 16 Hellos in the window are missed.
    for (let i = 0; i < 16; i++) {
      const nowMs = 1500 + i * 1000;
      neighbour.onProbe(nowMs, probe(ProbeState.up));
      neighbour.expire(nowMs);
    }
    expect(neighbour.ihuFields(17_000).rxCost).toBe(metricInfinity);
    expect(neighbour.evaluate()).toBe('cost');
    expect(neighbour.cost).toBe(metricInfinity);
    expect(neighbour.usable).toBe(true);
    neighbour.onHello(17_000, hello(17)); // 1 of the last 16
    expect(neighbour.evaluate()).toBe('cost');
    expect(neighbour.cost).toBe(4096);
  });
});

describe('Neighbour: Hello timers', () => {
  it('counts a Hello missed 1.5 intervals after the last, then one per interval', () => {
    const neighbour = new Neighbour(link, rfc8966Profile);
    neighbour.notePeer(peerA);
    neighbour.onHello(0, hello(0, { intervalMs: 1000 }));
    expect(neighbour.nextDeadlineMs()).toBe(1500);
    neighbour.expire(1499);
    expect(neighbour.ihuFields(1499).rxCost).toBe(256);
    neighbour.expire(1500);
    expect(neighbour.ihuFields(1500).rxCost).toBe(512); // 1 of 2
    expect(neighbour.nextDeadlineMs()).toBe(2500);
    neighbour.expire(3500); // two more: 1 of 4
    expect(neighbour.ihuFields(3500).rxCost).toBe(1024);
    expect(neighbour.nextDeadlineMs()).toBe(4500);
  });

  it('stops the Hello timer once every Hello in the window is missed', () => {
    const neighbour = new Neighbour(link, rfc8966Profile);
    neighbour.notePeer(peerA);
    neighbour.onHello(0, hello(0, { intervalMs: 1000 }));
    neighbour.expire(1e9);
    expect(neighbour.nextDeadlineMs()).toBe(Number.POSITIVE_INFINITY);
    expect(neighbour.ihuFields(1e9).rxCost).toBe(metricInfinity);
  });

  it('restarts the timer on each Hello', () => {
    const neighbour = new Neighbour(link, rfc8966Profile);
    neighbour.notePeer(peerA);
    neighbour.onHello(0, hello(0, { intervalMs: 1000 }));
    neighbour.onHello(900, hello(1, { intervalMs: 2000 }));
    expect(neighbour.nextDeadlineMs()).toBe(3900);
  });
});

describe('Neighbour: RTT (RFC 9616)', () => {
  it('samples from the probe echo minus the hold time, smoothed with gain 1/8', () => {
    const neighbour = upFast(1000);
    neighbour.onProbe(1000, probe(ProbeState.up, { echoUs: clockUs(990), holdUs: 2000 }));
    expect(neighbour.rttMs).toBe(8);
    neighbour.onProbe(2000, probe(ProbeState.up, { echoUs: clockUs(1960) }));
    expect(neighbour.rttMs).toBe(12); // 8 + (40 - 8) / 8
    neighbour.onProbe(3000, probe(ProbeState.up, { echoUs: 0, holdUs: 5 })); // no echo: no sample
    expect(neighbour.rttMs).toBe(12);
  });

  it('samples from the IHU origin and hold times', () => {
    const neighbour = upFast(0);
    neighbour.onIhu(1050, ihu({ originUs: clockUs(1000), holdUs: 20_000 }));
    expect(neighbour.rttMs).toBe(30);
    expect(neighbour.evaluate()).toBe('cost');
    expect(neighbour.cost).toBe(256 + 27); // round(150 * 20 / 110)
    neighbour.onIhu(1100, ihu({ originUs: 0, holdUs: 0 })); // no origin: no sample
    expect(neighbour.rttMs).toBe(30);
  });

  it('samples across the wrap of the 32-bit microsecond clock', () => {
    const neighbour = upFast(4294967);
    neighbour.onProbe(4294968, probe(ProbeState.up, { echoUs: clockUs(4294967) }));
    expect(neighbour.rttMs).toBe(1);
  });

  it('believes samples up to 10 s and ignores larger or negative ones', () => {
    const neighbour = upFast(0);
    neighbour.onIhu(20_000, ihu({ originUs: clockUs(10_000) - 1000, holdUs: 0 })); // 10.001 s
    expect(neighbour.rttMs).toBeNaN();
    neighbour.onIhu(20_000, ihu({ originUs: clockUs(19_000), holdUs: 2_000_000 })); // hold longer than elapsed
    expect(neighbour.rttMs).toBeNaN();
    neighbour.onIhu(20_000, ihu({ originUs: clockUs(10_000), holdUs: 0 })); // exactly 10 s
    expect(neighbour.rttMs).toBe(10_000);
  });
});

describe('Neighbour: rfc8966 profile (no probes)', () => {
  function rfcNeighbour(): Neighbour {
    const neighbour = new Neighbour(link, rfc8966Profile);
    neighbour.notePeer(peerA);
    return neighbour;
  }

  it('ignores the probe session for liveness', () => {
    const neighbour = rfcNeighbour();
    neighbour.onProbe(0, probe(ProbeState.init));
    expect(neighbour.probeState).toBe(ProbeState.up);
    expect(neighbour.evaluate()).toBe('none');
  });

  it('comes up with a Hello and an IHU, not with either alone', () => {
    const helloOnly = rfcNeighbour();
    helloOnly.onHello(0, hello(0, { intervalMs: 4000 }));
    expect(helloOnly.evaluate()).toBe('none');

    const ihuOnly = rfcNeighbour();
    ihuOnly.onIhu(0, ihu({ intervalMs: 12_000 }));
    expect(ihuOnly.evaluate()).toBe('none');

    helloOnly.onIhu(0, ihu({ rxCost: 512, intervalMs: 12_000 }));
    expect(helloOnly.evaluate()).toBe('up');
    // No probes: the transmit cost is the IHU's, and nothing else is assumed.
    expect(helloOnly.cost).toBe(512);
    expect(helloOnly.nextDeadlineMs()).toBe(6000);
  });

  it('an IHU saying the peer hears nothing keeps the neighbour down', () => {
    const neighbour = rfcNeighbour();
    neighbour.onHello(0, hello(0, { intervalMs: 4000 }));
    neighbour.onIhu(0, ihu({ rxCost: metricInfinity, intervalMs: 12_000 }));
    expect(neighbour.evaluate()).toBe('none');
  });

  it('stays up on 2 of the last 3 Hellos and goes down on 1 of 3 with reason hello-loss', () => {
    const neighbour = rfcNeighbour();
    for (let seqno = 0; seqno < 3; seqno++) neighbour.onHello(seqno * 4000, hello(seqno, { intervalMs: 4000 }));
    neighbour.onIhu(8000, ihu({ intervalMs: 12_000 }));
    expect(neighbour.evaluate()).toBe('up');
    expect(neighbour.cost).toBe(256);
    expect(neighbour.nextDeadlineMs()).toBe(14_000);
    neighbour.expire(14_000); // last three: 1 1 0
    expect(neighbour.evaluate()).toBe('cost');
    expect(neighbour.cost).toBe(341); // floor(256 * 4 / 3)
    neighbour.expire(18_000); // last three: 1 0 0
    expect(neighbour.evaluate()).toBe('down');
    expect(neighbour.cost).toBe(metricInfinity);
    expect(neighbour.downReason()).toBe('hello-loss');
  });

  it('goes down when the IHU expires after 3.5 IHU intervals, with reason ihu-expired', () => {
    const neighbour = rfcNeighbour();
    neighbour.onIhu(0, ihu({ intervalMs: 12_000 }));
    for (let seqno = 0; seqno <= 10; seqno++) neighbour.onHello(seqno * 4000, hello(seqno, { intervalMs: 4000 }));
    expect(neighbour.evaluate()).toBe('up');
    expect(neighbour.nextDeadlineMs()).toBe(42_000); // IHU before the next Hello at 46 000
    neighbour.expire(41_999);
    expect(neighbour.evaluate()).toBe('none');
    neighbour.expire(42_000);
    expect(neighbour.txCost).toBe(metricInfinity);
    expect(neighbour.nextDeadlineMs()).toBe(46_000);
    expect(neighbour.evaluate()).toBe('down');
    expect(neighbour.downReason()).toBe('ihu-expired');
  });

  it('a fresh IHU brings it back', () => {
    const neighbour = rfcNeighbour();
    neighbour.onHello(0, hello(0, { intervalMs: 4000 }));
    neighbour.onIhu(0, ihu({ intervalMs: 1000 }));
    expect(neighbour.evaluate()).toBe('up');
    neighbour.expire(3500);
    expect(neighbour.evaluate()).toBe('down');
    neighbour.onIhu(3600, ihu({ rxCost: 300, intervalMs: 1000 }));
    expect(neighbour.evaluate()).toBe('up');
    expect(neighbour.cost).toBe(300);
  });
});

describe('Neighbour: peer identity', () => {
  it('notePeer reports only a replacement, and a replacement resets everything', () => {
    const neighbour = upFast(1000);
    neighbour.onHello(1000, hello(0, { timestampUs: 55 }));
    neighbour.onIhu(1000, ihu({ rxCost: 600, originUs: clockUs(990) }));
    neighbour.onProbe(1000, probe(ProbeState.up, { txUs: 99 }));
    expect(neighbour.evaluate()).toBe('cost');
    expect(neighbour.notePeer(peerA)).toBe(false);
    expect(neighbour.usable).toBe(true);

    expect(neighbour.notePeer(peerB)).toBe(true);
    expect(neighbour.peer).toBe(peerB);
    expect(neighbour.probeState).toBe(ProbeState.down);
    expect(neighbour.usable).toBe(false);
    expect(neighbour.cost).toBe(metricInfinity);
    expect(neighbour.txCost).toBe(metricInfinity);
    expect(neighbour.rttMs).toBeNaN();
    expect(neighbour.nextDeadlineMs()).toBe(Number.POSITIVE_INFINITY);
    expect(neighbour.probeEcho(1100)).toEqual({ state: ProbeState.down, echoUs: 0, holdUs: 0 });
    expect(neighbour.ihuFields(1100)).toEqual({ rxCost: 256, originUs: 0, holdUs: 0 });
    // The node reports the old peer as changed; evaluate has nothing more to say.
    expect(neighbour.evaluate()).toBe('none');
    expect(neighbour.downReason()).toBe('hello-loss');
  });

  it('remove forgets the peer, and the next peer learnt is not a replacement', () => {
    const neighbour = upFast(0);
    neighbour.remove();
    expect(neighbour.peer).toBeNull();
    expect(neighbour.usable).toBe(false);
    expect(neighbour.probeState).toBe(ProbeState.down);
    expect(neighbour.evaluate()).toBe('none');
    expect(neighbour.notePeer(peerB)).toBe(false);
    expect(neighbour.peer).toBe(peerB);
  });
});

describe('Neighbour: fields of outgoing probes and IHUs', () => {
  it('probeEcho echoes the last probe heard and how long it was held', () => {
    const neighbour = new Neighbour(link, fastProfile);
    neighbour.notePeer(peerA);
    neighbour.onProbe(100, probe(ProbeState.down, { txUs: 777_777 }));
    expect(neighbour.probeEcho(103.5)).toEqual({ state: ProbeState.init, echoUs: 777_777, holdUs: 3500 });
    neighbour.onProbe(110, probe(ProbeState.init, { txUs: 888_888 }));
    expect(neighbour.probeEcho(110)).toEqual({ state: ProbeState.up, echoUs: 888_888, holdUs: 0 });
  });

  it('ihuFields gives the receive cost and the last Hello timestamp with its hold time', () => {
    const neighbour = new Neighbour(link, rfc8966Profile);
    neighbour.notePeer(peerA);
    neighbour.onHello(2000, hello(9, { intervalMs: 4000, timestampUs: 123_456 }));
    expect(neighbour.ihuFields(2010)).toEqual({ rxCost: 256, originUs: 123_456, holdUs: 10_000 });
    neighbour.onHello(6000, hello(11, { intervalMs: 4000, timestampUs: 4_123_456 })); // 10 missed
    expect(neighbour.ihuFields(6000)).toEqual({ rxCost: 384, originUs: 4_123_456, holdUs: 0 });
  });
});
