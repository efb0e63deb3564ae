/**
 * Lists of RDP orders. The minimum over orders is only as good as the grid, so the defaults of
 * the two reference accountants are kept here verbatim as data (they are facts to reproduce,
 * not code): Opacus's RDPAccountant.DEFAULT_ALPHAS and dp_accounting's DEFAULT_RDP_ORDERS.
 */

/** 1.1, 1.2, ..., 10.9: the fractional grid both references start with. */
function tenthsFrom1To11(): number[] {
  return Array.from({ length: 99 }, (_, index) => 1 + (index + 1) / 10);
}

function integers(from: number, toInclusive: number): number[] {
  return Array.from({ length: toInclusive - from + 1 }, (_, index) => from + index);
}

/** Opacus's default orders: 1.1..10.9 in steps of 0.1, then the integers 12..63. */
export const opacusOrders: readonly number[] = Object.freeze([...tenthsFrom1To11(), ...integers(12, 63)]);

/** Google dp_accounting's default orders: 1.1..10.9 in steps of 0.1, the integers 11..63, then 128, 256, 512, 1024. */
export const dpAccountingOrders: readonly number[] = Object.freeze([...tenthsFrom1To11(), ...integers(11, 63), 128, 256, 512, 1024]);

/** The orders this module uses when none are given: dp_accounting's, the wider grid (high orders help at small epsilon). */
export const defaultOrders: readonly number[] = dpAccountingOrders;
