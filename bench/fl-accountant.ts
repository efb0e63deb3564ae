import { composedRdp, noiseMultiplierFor, rdpEpsilon } from '../src/fl/dp/accountant.js';
import { opacusOrders } from '../src/fl/dp/orders.js';

/** The published figures the accountant must reproduce, with where they come from. */
const published = {
  opacusEps: { value: 7.32911117143, source: 'opacus/tests/accountants_test.py test_rdp_accountant: q 0.04, z 1.5, 2250 steps, delta 1e-5, DEFAULT_ALPHAS, improved conversion' },
  rdpOrder5: { value: 2.18075656e-3, source: 'dp_accounting rdp_privacy_accountant_test.py test_compute_rdp_poisson_sampled_gaussian: q 0.01, z 2.5, 50 steps' },
  rdpOrder50: { value: 2.38460375e-2, source: 'same test, order 50' },
  rdpOrder100: { value: 167.416308, source: 'same test, order 100' },
} as const;

/** How long the timing loop runs, and how many calls warm the JIT first. */
const timingMs = 2000;
const warmupCalls = 5;

const opacusQuery = { q: 0.04, noiseMultiplier: 1.5, steps: 2250, delta: 1e-5, orders: opacusOrders } as const;

/** Mean wall time of one 2250-step epsilon computation (151 orders, 99 of them fractional). */
function msPerCall(): { ms: number; calls: number } {
  for (let call = 0; call < warmupCalls; call++) rdpEpsilon(opacusQuery);
  let calls = 0;
  const started = performance.now();
  while (performance.now() - started < timingMs) {
    rdpEpsilon(opacusQuery);
    calls++;
  }
  return { ms: (performance.now() - started) / calls, calls };
}

/** Epsilon at delta 1e-5 against steps for the Opacus setting, by both conversions. */
function epsilonVsSteps(): { steps: number; epsilon: number; order: number; classicEpsilon: number; classicOrder: number }[] {
  return [1, 10, 100, 250, 500, 1000, 2250, 5000, 10_000, 22_500].map((steps) => {
    const improved = rdpEpsilon({ ...opacusQuery, steps });
    const classic = rdpEpsilon({ ...opacusQuery, steps, conversion: 'classic' });
    return { steps, epsilon: round(improved.epsilon), order: improved.order, classicEpsilon: round(classic.epsilon), classicOrder: classic.order };
  });
}

function round(value: number, digits = 6): number {
  return Number(value.toPrecision(digits));
}

/** The accountant against Opacus and Google dp_accounting figures, its speed, and an epsilon-vs-steps table. */
export async function run(): Promise<{ figures: Record<string, number | null>; details: unknown }> {
  const opacus = rdpEpsilon(opacusQuery);
  const [order5, order50, order100] = composedRdp([{ q: 0.01, noiseMultiplier: 2.5, steps: 50 }], [5, 50, 100]);
  const ours = { opacusEps: opacus.epsilon, rdpOrder5: order5!, rdpOrder50: order50!, rdpOrder100: order100! };
  const relErrors = Object.fromEntries(Object.entries(ours).map(([name, value]) => [name, Math.abs(value - published[name as keyof typeof published].value) / published[name as keyof typeof published].value]));
  const timing = msPerCall();
  const figures = {
    ...ours,
    maxRelErrorVsPublished: Math.max(...Object.values(relErrors)),
    accountantMsPerCall: round(timing.ms, 4),
  };
  const details = {
    published,
    relErrors,
    opacusBestOrder: opacus.order,
    opacusClassicEps: rdpEpsilon({ ...opacusQuery, conversion: 'classic' }).epsilon,
    noiseMultiplierForEps8At2250Steps: noiseMultiplierFor({ targetEpsilon: 8, delta: 1e-5, q: 0.04, steps: 2250, orders: opacusOrders }),
    timing: { calls: timing.calls, note: 'mean wall time of rdpEpsilon for the Opacus case (151 orders, 99 fractional) after a warm-up, one thread' },
    epsilonVsSteps: { q: 0.04, noiseMultiplier: 1.5, delta: 1e-5, orders: 'opacusOrders', rows: epsilonVsSteps() },
  };
  return await Promise.resolve({ figures, details });
}
