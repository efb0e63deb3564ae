import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DirectoryStore } from '../../../src/node/fl-registry-store.js';
import { eventKey, MemoryStore } from '../../../src/fl/registry/store.js';

const directory = (): string => mkdtempSync(join(tmpdir(), 'x0t-fl-store-'));

describe('registry stores', () => {
  it('number events so that keys sort as numbers', () => {
    expect(eventKey(1)).toBe('00000001');
    expect([eventKey(10), eventKey(9)].sort()).toEqual([eventKey(9), eventKey(10)]);
  });

  it('in memory: copies bytes in and out, never overwrites, names missing entries', () => {
    const store = new MemoryStore();
    const bytes = Uint8Array.of(1, 2, 3);
    store.write('versions', 'k', bytes);
    bytes[0] = 9;
    const read = store.read('versions', 'k');
    expect(Array.from(read)).toEqual([1, 2, 3]);
    read[1] = 9;
    expect(Array.from(store.read('versions', 'k'))).toEqual([1, 2, 3]);
    expect(store.keys('versions')).toEqual(['k']);
    expect(store.keys('events')).toEqual([]);
    expect(() => store.write('versions', 'k', bytes)).toThrow(/memory:versions\/k exists already; the store never overwrites/);
    expect(() => store.read('events', 'x')).toThrow(/memory:events\/x: no such entry/);
  });

  it('on disk: one file per entry, atomic, never overwritten, temporary files ignored', () => {
    const dir = join(directory(), 'registry');
    const store = new DirectoryStore(dir);
    expect(store.keys('versions')).toEqual([]);
    store.write('versions', 'abc', Uint8Array.of(7));
    store.write('events', eventKey(1), Uint8Array.of(8));
    expect(Array.from(store.read('versions', 'abc'))).toEqual([7]);
    expect(store.locate('events', eventKey(1))).toBe(join(dir, 'events', '00000001.json'));
    writeFileSync(join(dir, 'versions', 'abc.x0tm.tmp-1-0'), 'half');
    writeFileSync(join(dir, 'versions', 'notes.txt'), 'x');
    expect(store.keys('versions')).toEqual(['abc']);
    expect(() => store.write('versions', 'abc', Uint8Array.of(9))).toThrow(/cannot write .*abc.x0tm \(the file exists already/);
    expect(readdirSync(join(dir, 'versions')).sort()).toEqual(['abc.x0tm', 'abc.x0tm.tmp-1-0', 'notes.txt']);
  });

  it('on disk: names a file it cannot read, and cleans up after a failed write', () => {
    const dir = directory();
    const store = new DirectoryStore(dir);
    mkdirSync(join(dir, 'versions', 'dir.x0tm'), { recursive: true });
    expect(() => store.read('versions', 'dir')).toThrow(new RegExp(`corrupt registry file ${join(dir, 'versions', 'dir.x0tm')}: cannot read it`));
    expect(() => store.read('versions', 'missing')).toThrow(/missing.x0tm: cannot read it/);
    mkdirSync(join(dir, 'events'));
    writeFileSync(join(dir, 'events', 'big.json'), new Uint8Array(5000));
    expect(() => store.read('events', 'big')).toThrow(/5000 bytes, more than any events file \(4096\)/);
    const blocked = join(directory(), 'file');
    writeFileSync(blocked, 'not a directory');
    expect(() => new DirectoryStore(blocked).write('events', 'x', Uint8Array.of(1))).toThrow(/cannot write/);
  });
});
