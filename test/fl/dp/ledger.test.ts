/** The budget ledger: spends what the accountant says, refuses the round that would pass the budget, and records nothing then. */
import { describe, expect, test } from 'vitest';
import { composedEpsilon, rdpEpsilon } from '../../../src/fl/dp/accountant.js';
import { DpError, DpErrorCode, isDpError } from '../../../src/fl/dp/errors.js';
import { PrivacyLedger } from '../../../src/fl/dp/ledger.js';
import { opacusOrders } from '../../../src/fl/dp/orders.js';
import { expectCodedError } from '../../coded-error.js';

describe('PrivacyLedger', () => {
  test('spent equals the accountant over the same rounds; entries keep the history', () => {
    const ledger = new PrivacyLedger({ epsilonBudget: 10, delta: 1e-5, orders: opacusOrders });
    expect(ledger.spent().epsilon).toBe(0);
    ledger.record({ q: 0.04, noiseMultiplier: 1.5, steps: 1000 });
    const after = ledger.record({ q: 0.04, noiseMultiplier: 1.5, steps: 1250 });
    expect(after.epsilon).toBeCloseTo(7.32911117143, 9);
    expect(ledger.spent().epsilon).toBe(after.epsilon);
    expect(ledger.entries.map((entry) => entry.steps)).toEqual([1000, 1250]);
    expect(ledger.entries[1]!.epsilonAfter).toBe(after.epsilon);
    expect(ledger.remaining()).toBeCloseTo(10 - 7.32911117143, 9);
    expect(ledger.summary()).toEqual({ epsilonBudget: 10, delta: 1e-5, epsilonSpent: after.epsilon, order: 3.9, rounds: 2, steps: 2250 });
  });

  test('heterogeneous rounds and another delta agree with composedEpsilon', () => {
    const ledger = new PrivacyLedger({ epsilonBudget: 50, delta: 1e-5 });
    const rounds = [
      { q: 0.1, noiseMultiplier: 1, steps: 10 },
      { q: 0.05, noiseMultiplier: 2, steps: 40 },
      { q: 0.2, noiseMultiplier: 0.8, steps: 3 },
    ];
    for (const round of rounds) ledger.record(round);
    expect(ledger.spent(1e-3)).toEqual(composedEpsilon(rounds, 1e-3));
    expect(ledger.preview({ q: 0.1, noiseMultiplier: 1, steps: 1 }).epsilon).toBeGreaterThan(ledger.spent().epsilon);
    expect(ledger.entries).toHaveLength(3);
  });

  test('a round that would pass the budget is refused with the figures, and nothing is recorded', () => {
    const ledger = new PrivacyLedger({ epsilonBudget: 3, delta: 1e-5 });
    const round = { q: 0.04, noiseMultiplier: 1.5, steps: 100 };
    let rounds = 0;
    let refusal: unknown;
    try {
      for (;;) {
        ledger.record(round);
        rounds++;
      }
    } catch (error) {
      refusal = error;
    }
    expect(isDpError(refusal, DpErrorCode.ERR_DP_BUDGET_EXCEEDED)).toBe(true);
    expect((refusal as Error).message).toMatch(/PrivacyLedger\.record: round \(q 0\.04, noiseMultiplier 1\.5, steps 100\) would take epsilon from [\d.]+ to [\d.]+, over the budget 3 at delta 0\.00001/);
    expect(ledger.entries).toHaveLength(rounds);
    expect(ledger.spent().epsilon).toBeLessThanOrEqual(3);
    expect(rdpEpsilon({ ...round, steps: 100 * (rounds + 1), delta: 1e-5 }).epsilon).toBeGreaterThan(3);
    expect(ledger.remaining()).toBeGreaterThanOrEqual(0);
  });

  test('bad configuration and rounds are refused', () => {
    expectCodedError(() => new PrivacyLedger({ epsilonBudget: 0, delta: 1e-5 }), DpError, DpErrorCode.ERR_DP_PARAMETER, 'PrivacyLedger: expected epsilonBudget a finite number > 0, got 0');
    expectCodedError(() => new PrivacyLedger({ epsilonBudget: 1, delta: 2 }), DpError, DpErrorCode.ERR_DP_PARAMETER, 'expected delta in (0, 1), got 2');
    expectCodedError(() => new PrivacyLedger({ epsilonBudget: 1, delta: 1e-5, orders: [0.9] }), DpError, DpErrorCode.ERR_DP_PARAMETER, 'orders[0]');
    const ledger = new PrivacyLedger({ epsilonBudget: 1, delta: 1e-5, conversion: 'classic' });
    expectCodedError(() => ledger.record({ q: 0.1, noiseMultiplier: 1, steps: 0.5 }), DpError, DpErrorCode.ERR_DP_PARAMETER, 'PrivacyLedger.record: expected steps an integer >= 0, got 0.5');
    expectCodedError(() => ledger.spent(0), DpError, DpErrorCode.ERR_DP_PARAMETER, 'PrivacyLedger.spent: expected delta in (0, 1), got 0');
    expect(isDpError(new Error('x'))).toBe(false);
  });
});
