import { describe, expect, it } from 'vitest';
import { addVethPair, deleteNamespacesWithPrefix, inNamespace, run, runPrefix, subnet30 } from '../../src/node/netns.js';
import { vethName } from '../../src/node/netns-topology.js';

/** The parts of the namespace helpers that need no root: names, addresses, argument checks. */
describe('network namespace helpers', () => {
  it('number /30 subnets in a 10.x.0.0/16 block and refuse numbers out of range', () => {
    expect(subnet30(1, 0)).toEqual(['10.1.0.1', '10.1.0.2']);
    expect(subnet30(1, 63)).toEqual(['10.1.0.253', '10.1.0.254']);
    expect(subnet30(1, 64)).toEqual(['10.1.1.1', '10.1.1.2']);
    expect(subnet30(200, 16_383)).toEqual(['10.200.255.253', '10.200.255.254']);
    expect(() => subnet30(1, 16_384)).toThrow(/index 0..16383/);
    expect(() => subnet30(256, 0)).toThrow(/second octet 0..255/);
    expect(() => subnet30(1, 1.5)).toThrow(/got 1 and 1.5/);
  });

  it('make run prefixes short enough for interface names and unique per run', () => {
    const prefixes = new Set(Array.from({ length: 20 }, () => runPrefix()));
    expect(prefixes.size).toBe(20);
    for (const prefix of prefixes) expect(prefix).toMatch(/^x0t[0-9a-f]{6}$/);
    expect(`${runPrefix()}m99`.length).toBeLessThanOrEqual(15);
    expect(vethName(12)).toBe('to12');
  });

  it('wrap commands for a namespace, or leave them alone for this one', () => {
    expect(inNamespace('x0tabc-1', ['nft', 'list', 'tables'])).toEqual(['ip', 'netns', 'exec', 'x0tabc-1', 'nft', 'list', 'tables']);
    expect(inNamespace(null, ['nft'])).toEqual(['nft']);
  });

  it('refuse interface names the kernel would refuse, and prefixes that could match other runs', async () => {
    await expect(addVethPair({ ns: null, name: 'sixteen-chars-xx', address: '10.1.0.1' }, { ns: null, name: 'b', address: '10.1.0.2' })).rejects.toThrow(/1..15 characters/);
    await expect(addVethPair({ ns: null, name: 'a', address: '10.1.0.1' }, { ns: null, name: 'has space', address: '10.1.0.2' })).rejects.toThrow(/"has space"/);
    await expect(deleteNamespacesWithPrefix('x')).rejects.toThrow(/run prefix of 4\+ characters/);
  });

  it('run a command and report its stderr when it fails', async () => {
    expect(await run([process.execPath, '-e', 'process.stdin.pipe(process.stdout)'], 'echoed')).toBe('echoed');
    await expect(run([process.execPath, '-e', 'console.error("broken"); process.exit(3)'])).rejects.toThrow(/: broken$/);
  });
});
