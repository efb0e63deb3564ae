import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { advanceFeasibility, isFeasible, type FeasibilityDistance } from '../../src/mesh/feasibility.js';
import { seqnoNewer, seqnoPlus } from '../../src/mesh/seqno.js';
import { metricInfinity } from '../../src/wire/limits.js';

const u16 = fc.integer({ min: 0, max: 0xffff });
const finiteMetric = fc.integer({ min: 0, max: metricInfinity - 1 });
const fdArb: fc.Arbitrary<FeasibilityDistance | null> = fc.option(fc.record({ seqno: u16, metric: finiteMetric }));

describe('isFeasible: RFC 8966 3.5.1 vectors', () => {
  const fd: FeasibilityDistance = { seqno: 10, metric: 500 };

  it('is feasible when no distance is recorded', () => {
    expect(isFeasible(null, 0, 0)).toBe(true);
    expect(isFeasible(null, 0x8000, metricInfinity - 1)).toBe(true);
  });

  it('treats a retraction as always feasible', () => {
    expect(isFeasible(fd, 9, metricInfinity)).toBe(true); // older seqno
    expect(isFeasible(fd, 10, metricInfinity)).toBe(true); // equal seqno, larger metric
    expect(isFeasible(fd, 10 + 0x8000, metricInfinity)).toBe(true); // half-way
    expect(isFeasible(null, 3, metricInfinity)).toBe(true);
  });

  it('accepts a newer seqno even with a larger metric', () => {
    expect(isFeasible(fd, 11, 501)).toBe(true);
    expect(isFeasible(fd, 11, metricInfinity - 1)).toBe(true);
    expect(isFeasible(fd, 10 + 0x7fff, 0xfffe)).toBe(true);
  });

  it('accepts a newer seqno across the wrap', () => {
    const nearWrap: FeasibilityDistance = { seqno: 0xffff, metric: 100 };
    expect(isFeasible(nearWrap, 0, 200)).toBe(true);
    expect(isFeasible(nearWrap, 0x7ffe, 200)).toBe(true);
  });

  it('with an equal seqno, needs a strictly smaller metric', () => {
    expect(isFeasible(fd, 10, 499)).toBe(true);
    expect(isFeasible(fd, 10, 0)).toBe(true);
    expect(isFeasible(fd, 10, 500)).toBe(false);
    expect(isFeasible(fd, 10, 501)).toBe(false);
  });

  it('rejects an older seqno even with a smaller metric', () => {
    expect(isFeasible(fd, 9, 0)).toBe(false);
    expect(isFeasible(fd, 10 - 0x7fff + 0x10000, 0)).toBe(false);
    expect(isFeasible({ seqno: 0, metric: 100 }, 0xffff, 0)).toBe(false);
  });

  it('rejects a seqno half-way from the distance in either direction', () => {
    expect(isFeasible({ seqno: 0, metric: 500 }, 0x8000, 0)).toBe(false);
    expect(isFeasible({ seqno: 0x8000, metric: 500 }, 0, 0)).toBe(false);
    expect(isFeasible({ seqno: 0x8001, metric: 500 }, 1, 0)).toBe(false);
  });
});

describe('advanceFeasibility vectors', () => {
  const fd: FeasibilityDistance = { seqno: 10, metric: 500 };

  it('records the first advertised distance', () => {
    expect(advanceFeasibility(null, 7, 300)).toEqual({ seqno: 7, metric: 300 });
  });

  it('ignores a retraction', () => {
    expect(advanceFeasibility(null, 7, metricInfinity)).toBeNull();
    expect(advanceFeasibility(fd, 11, metricInfinity)).toBe(fd);
  });

  it('moves to a newer seqno even with a larger metric', () => {
    expect(advanceFeasibility(fd, 11, 900)).toEqual({ seqno: 11, metric: 900 });
    expect(advanceFeasibility({ seqno: 0xffff, metric: 5 }, 0, 6)).toEqual({ seqno: 0, metric: 6 });
  });

  it('with an equal seqno, lowers the metric only', () => {
    expect(advanceFeasibility(fd, 10, 499)).toEqual({ seqno: 10, metric: 499 });
    expect(advanceFeasibility(fd, 10, 500)).toBe(fd);
    expect(advanceFeasibility(fd, 10, 501)).toBe(fd);
  });

  it('keeps the distance for an older or half-way seqno', () => {
    expect(advanceFeasibility(fd, 9, 0)).toBe(fd);
    expect(advanceFeasibility(fd, 10 + 0x8000, 0)).toBe(fd);
  });
});

describe('feasibility properties', () => {
  it('advancing changes the distance exactly when the update is feasible, and never loosens it', () => {
    fc.assert(
      fc.property(fdArb, u16, finiteMetric, (fd, seqno, metric) => {
        const next = advanceFeasibility(fd, seqno, metric);
        expect(next !== fd).toBe(isFeasible(fd, seqno, metric));
        if (next !== fd) expect(next).toEqual({ seqno, metric });
        if (fd !== null && next !== fd) {
          // Stricter: a newer seqno, or the same seqno with a smaller metric.
          expect(seqnoNewer(next!.seqno, fd.seqno) || (next!.seqno === fd.seqno && next!.metric < fd.metric)).toBe(true);
        }
        // Once advertised, the same (seqno, metric) is no longer feasible: a node cannot
        // accept its own advertisement back.
        expect(isFeasible(next, seqno, metric)).toBe(false);
      }),
    );
  });

  it('a retraction never changes the distance', () => {
    fc.assert(
      fc.property(fdArb, u16, (fd, seqno) => {
        expect(advanceFeasibility(fd, seqno, metricInfinity)).toBe(fd);
        expect(isFeasible(fd, seqno, metricInfinity)).toBe(true);
      }),
    );
  });

  it('within a window of seqnos, every update feasible after advancing was feasible before', () => {
    // Modulo 2^16 "newer" is not transitive over long distances, so monotonicity is stated for
    // seqnos within a short window after a random base.
    const offset = fc.integer({ min: 0, max: 200 });
    const advert = fc.tuple(offset, finiteMetric);
    fc.assert(
      fc.property(u16, fc.array(advert, { maxLength: 30 }), advert, (base, adverts, [probeOffset, probeMetric]) => {
        let fd: FeasibilityDistance | null = null;
        const probeSeqno = seqnoPlus(base, probeOffset);
        for (const [advertOffset, advertMetric] of adverts) {
          const next = advanceFeasibility(fd, seqnoPlus(base, advertOffset), advertMetric);
          if (isFeasible(next, probeSeqno, probeMetric)) expect(isFeasible(fd, probeSeqno, probeMetric)).toBe(true);
          fd = next;
        }
      }),
    );
  });

  it('over increasing seqnos the distance only climbs: seqno up, or same seqno and metric down', () => {
    fc.assert(
      fc.property(u16, fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), finiteMetric), { maxLength: 50 }), (base, steps) => {
        let unwrapped = 0;
        let fd: FeasibilityDistance | null = null;
        let fdUnwrapped = -1;
        for (const [delta, metric] of steps) {
          unwrapped += delta;
          const next = advanceFeasibility(fd, seqnoPlus(base, unwrapped), metric);
          const climbs = fd === null || unwrapped > fdUnwrapped || metric < fd.metric;
          expect(next !== fd).toBe(climbs);
          if (climbs) fdUnwrapped = unwrapped;
          fd = next;
        }
      }),
    );
  });
});
