import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SourceIndex, sourceIndexInitialCapacity } from '../../src/mesh/source-index.js';
import { nodeId, nodeIdMax, type NodeId } from '../../src/wire/ids.js';

type Op = { readonly kind: 'add' | 'delete' | 'get'; readonly source: number };

// Few distinct keys so that re-adds, deletes of held keys and probe collisions are common;
// the large ones exercise keys above 2^31 (stored as negative int32).
const sourceArbitrary = fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(nodeIdMax, nodeIdMax - 1, 0x8000_0000, 0x7fff_ffff));
const opArbitrary: fc.Arbitrary<Op> = fc.record({ kind: fc.constantFrom('add' as const, 'delete' as const, 'get' as const), source: sourceArbitrary });

describe('SourceIndex', () => {
  it('agrees with a Map, insertion order included, under adds, deletes and lookups', () => {
    fc.assert(
      fc.property(fc.array(opArbitrary, { maxLength: 400 }), (ops) => {
        const index = new SourceIndex();
        const model = new Map<NodeId, number>();
        let nextSlot = 0;
        for (const op of ops) {
          const source = nodeId(op.source);
          if (op.kind === 'add' && !model.has(source)) {
            index.add(source, nextSlot);
            model.set(source, nextSlot++);
          } else if (op.kind === 'delete') {
            expect(index.delete(source)).toBe(model.delete(source));
          }
          expect(index.get(source)).toBe(model.get(source) ?? -1);
          expect(index.size).toBe(model.size);
        }
        expect([...index.slots()]).toEqual([...model.values()]);
        for (const [source, slot] of model) expect(index.get(source)).toBe(slot);
      }),
    );
  });

  it('grows far beyond its initial capacity and finds every source', () => {
    const index = new SourceIndex();
    const count = 40 * sourceIndexInitialCapacity;
    for (let i = 0; i < count; i++) index.add(nodeId(i * 7919 + 1), i);
    expect(index.size).toBe(count);
    for (let i = 0; i < count; i++) expect(index.get(nodeId(i * 7919 + 1))).toBe(i);
    expect(index.get(nodeId(2))).toBe(-1);
    expect(index.slots()).toEqual(Array.from({ length: count }, (_, i) => i));
  });

  it('answers -1 and false for a source it never held', () => {
    const index = new SourceIndex();
    expect(index.get(nodeId(5))).toBe(-1);
    expect(index.delete(nodeId(5))).toBe(false);
    index.add(nodeId(5), 0);
    expect(index.delete(nodeId(6))).toBe(false);
    expect(index.slots()).toEqual([0]);
  });

  it('keeps probe runs that wrap around the end of the table intact when deleting', () => {
    // Sources whose probing starts at the last pair of a new (16-pair) table, so that their
    // run wraps around to the start; deleting from it must shift the wrapped entries back.
    const homeOfLast = (source: number): boolean => Math.imul(source, 0x9e37_79b1) >>> 28 === sourceIndexInitialCapacity - 1;
    const colliding: NodeId[] = [];
    for (let source = 1; colliding.length < 5; source++) if (homeOfLast(source)) colliding.push(nodeId(source));
    const index = new SourceIndex();
    colliding.forEach((source, slot) => index.add(source, slot));
    expect(index.delete(colliding[0]!)).toBe(true);
    expect(index.delete(colliding[2]!)).toBe(true);
    expect(colliding.map((source) => index.get(source))).toEqual([-1, 1, -1, 3, 4]);
    expect(index.slots()).toEqual([1, 3, 4]);
  });
});
