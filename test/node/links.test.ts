import { describe, expect, it } from 'vitest';
import { endpointOf, LinkTable, provisionalIdleMs, provisionalLinksMax } from '../../src/node/links.js';

describe('LinkTable', () => {
  it('finds a link by transport, host and port, and by no partial match', () => {
    const table = new LinkTable();
    const a = table.addConfigured(endpointOf('udp', '10.0.0.1', 7400), 0);
    const b = table.addConfigured(endpointOf('udp', '10.0.0.1', 7401), 0);
    const c = table.addConfigured(endpointOf('tcp', '10.0.0.1', 7400), 0);
    expect(new Set([a.link, b.link, c.link]).size).toBe(3);
    expect(table.find(endpointOf('udp', '10.0.0.1', 7400))).toBe(a);
    expect(table.find(endpointOf('udp', '::ffff:10.0.0.1', 7401))).toBe(b);
    expect(table.find(endpointOf('tcp', '10.0.0.1', 7400))).toBe(c);
    expect(table.find(endpointOf('udp', '10.0.0.2', 7400))).toBeUndefined();
    expect(table.find(endpointOf('tcp', '10.0.0.1', 7401))).toBeUndefined();
    // Configured links are idempotent.
    expect(table.addConfigured(endpointOf('udp', '10.0.0.1', 7400), 5)).toBe(a);
  });

  it('forgets an expired provisional link entirely, keeps its neighbours on the same host, and admits a bounded number', () => {
    const table = new LinkTable();
    const kept = table.admit(endpointOf('udp', '10.0.0.9', 1), 0)!;
    const idle = table.admit(endpointOf('udp', '10.0.0.9', 2), 0)!;
    kept.lastHeardAtMs = provisionalIdleMs;
    expect(table.expire(provisionalIdleMs, () => false)).toEqual([idle.link]);
    expect(table.find(endpointOf('udp', '10.0.0.9', 2))).toBeUndefined();
    expect(table.find(endpointOf('udp', '10.0.0.9', 1))).toBe(kept);
    expect(table.get(idle.link)).toBeUndefined();
    for (let port = 3; table.admit(endpointOf('udp', '10.0.0.9', port), 0) !== null; port++) expect(port).toBeLessThan(3 + provisionalLinksMax);
    expect(table.all()).toHaveLength(provisionalLinksMax);
  });
});
