import { describe, expect, it } from 'vitest';
import { createMetrics, recoveryBucketsS } from '../../src/api/metrics.js';
import { FakeBackend, peerA, peerB } from './fake-backend.js';
import { asAdmin, testApi } from './helpers.js';

/** The samples of one scrape as `series -> value`, HELP and TYPE lines left out. */
function samples(text: string): Map<string, number> {
  const map = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    map.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return map;
}

async function scrape(app: ReturnType<typeof testApi>['app']): Promise<Map<string, number>> {
  const response = await app.inject({ url: '/metrics', headers: asAdmin });
  expect(response.statusCode).toBe(200);
  expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return samples(response.body);
}

describe('GET /metrics', () => {
  it('exports links, routes, counters and the recovery histogram with the backend values', async () => {
    const { app } = testApi();
    const first = await scrape(app);
    const expected: [string, number][] = [
      ['x0t_links_up', 1],
      ['x0t_links_down', 2],
      [`x0t_link_rtt_seconds{peer="${peerA}",link="1"}`, 0.00125],
      [`x0t_link_rtt_seconds{peer="${peerB}",link="2"}`, 0],
      [`x0t_link_loss_ratio{peer="${peerA}",link="1"}`, 0.0625],
      [`x0t_link_loss_ratio{peer="${peerB}",link="2"}`, 1],
      [`x0t_link_cost{peer="${peerA}",link="1"}`, 96],
      [`x0t_link_cost{peer="${peerB}",link="2"}`, 65535],
      ['x0t_routes', 2],
      ['x0t_routes_with_alternate', 1],
      ['x0t_handshakes_total{result="completed"}', 4],
      ['x0t_handshakes_total{result="refused"}', 1],
      ['x0t_credentials_refused_total', 2],
      ['x0t_rekeys_total', 3],
      ['x0t_packets_forwarded_total', 100],
      ['x0t_packets_delivered_total', 50],
      ['x0t_packets_dropped_total{reason="noRoute"}', 5],
      ['x0t_packets_dropped_total{reason="hopLimit"}', 1],
      ['x0t_policy_denies_total{action="transit"}', 2],
      ['x0t_control_bytes_sent_total', 12_345],
      ['x0t_control_packets_sent_total', 123],
      ['x0t_probes_spared_total', 45],
      ['x0t_data_bytes_sent_total', 67_890],
      ['x0t_mapek_incidents{state="confirmed"}', 1],
      ['x0t_mapek_decisions_total{decision="actionStarted"}', 1],
      ['x0t_mapek_reports_total{outcome="accepted"}', 12],
      ['x0t_mapek_reports_total{outcome="forged"}', 1],
      ['x0t_tcp_connections_refused_total{reason="perAddress"}', 3],
      ['x0t_tcp_connections_refused_total{reason="total"}', 0],
      ['x0t_tcp_connections{direction="accepted"}', 2],
      ['x0t_tcp_connections{direction="dialled"}', 1],
      ['x0t_revocation_list_age_seconds', 12.5],
      ['x0t_revocation_list_stale', 0],
      ['x0t_new_peers_refused_total', 6],
      // Samples 40, 180, 900 and 7000 ms.
      ['x0t_recovery_seconds_bucket{le="0.05"}', 1],
      ['x0t_recovery_seconds_bucket{le="0.1"}', 1],
      ['x0t_recovery_seconds_bucket{le="0.25"}', 2],
      ['x0t_recovery_seconds_bucket{le="0.5"}', 2],
      ['x0t_recovery_seconds_bucket{le="1"}', 3],
      ['x0t_recovery_seconds_bucket{le="2.5"}', 3],
      ['x0t_recovery_seconds_bucket{le="5"}', 3],
      ['x0t_recovery_seconds_bucket{le="+Inf"}', 4],
      ['x0t_recovery_seconds_count', 4],
    ];
    for (const [series, value] of expected) expect(first.get(series), series).toBe(value);
    expect(first.get('x0t_recovery_seconds_sum')).toBeCloseTo(8.12, 10);
    // The link without an authenticated peer has no per-link series.
    expect([...first.keys()].filter((k) => k.startsWith('x0t_link_rtt_seconds'))).toHaveLength(2);
    expect(recoveryBucketsS[0]).toBe(0.05);
    expect(recoveryBucketsS.at(-1)).toBe(5);
  });

  it('grows counters by the delta between scrapes, adds new label values and follows a reset', async () => {
    const { app, backend } = testApi();
    await scrape(app);
    backend.counterValues = {
      ...backend.counterValues,
      handshakesCompleted: 10,
      packetsForwarded: 250,
      packetsDropped: { noRoute: 9, hopLimit: 1, tooLarge: 4 },
      dataBytesSent: 70_000,
    };
    backend.recoverySamples = [300];
    const second = await scrape(app);
    expect(second.get('x0t_handshakes_total{result="completed"}')).toBe(10);
    expect(second.get('x0t_handshakes_total{result="refused"}')).toBe(1);
    expect(second.get('x0t_packets_forwarded_total')).toBe(250);
    expect(second.get('x0t_packets_dropped_total{reason="noRoute"}')).toBe(9);
    expect(second.get('x0t_packets_dropped_total{reason="tooLarge"}')).toBe(4);
    expect(second.get('x0t_data_bytes_sent_total')).toBe(70_000);
    expect(second.get('x0t_recovery_seconds_count')).toBe(5);
    expect(second.get('x0t_recovery_seconds_bucket{le="0.5"}')).toBe(3);
    // Unchanged totals stay; a third scrape without change reads the same.
    const third = await scrape(app);
    expect(third.get('x0t_packets_forwarded_total')).toBe(250);
    expect(third.get('x0t_recovery_seconds_count')).toBe(5);
    // A total that went down (backend restarted its counter) restarts the series at the new total.
    backend.counterValues = { ...backend.counterValues, packetsForwarded: 7, packetsDropped: { noRoute: 2, hopLimit: 1, tooLarge: 4 } };
    const fourth = await scrape(app);
    expect(fourth.get('x0t_packets_forwarded_total')).toBe(7);
    expect(fourth.get('x0t_packets_dropped_total{reason="noRoute"}')).toBe(2);
    expect(fourth.get('x0t_packets_dropped_total{reason="tooLarge"}')).toBe(4);
  });

  it('ignores values that are not finite or negative', async () => {
    const { app, backend } = testApi();
    backend.counterValues = { ...backend.counterValues, rekeys: Number.NaN, packetsDropped: { noRoute: -1 } };
    backend.recoverySamples = [Number.POSITIVE_INFINITY, -5, 20];
    const first = await scrape(app);
    expect(first.get('x0t_rekeys_total')).toBe(0);
    expect(first.has('x0t_packets_dropped_total{reason="noRoute"}')).toBe(false);
    expect(first.get('x0t_recovery_seconds_count')).toBe(1);
  });

  it('drops the series of links that went away', async () => {
    const { app, backend } = testApi();
    await scrape(app);
    backend.neighbourList = backend.neighbourList.slice(1);
    const after = await scrape(app);
    expect(after.has(`x0t_link_cost{peer="${peerA}",link="1"}`)).toBe(false);
    expect(after.get(`x0t_link_cost{peer="${peerB}",link="2"}`)).toBe(65535);
    expect(after.get('x0t_links_up')).toBe(0);
  });

  it('keeps one registry per API, so two nodes in one process do not clash, and adds process metrics on request', async () => {
    const plain = testApi();
    const withProcess = testApi({ processMetrics: true });
    const a = await scrape(plain.app);
    const b = await scrape(withProcess.app);
    expect(a.get('x0t_links_up')).toBe(1);
    expect(b.get('x0t_links_up')).toBe(1);
    expect([...a.keys()].some((k) => k.startsWith('x0t_process_'))).toBe(false);
    expect([...b.keys()].some((k) => k.startsWith('x0t_process_cpu_user_seconds_total'))).toBe(true);
  });

  it('createMetrics works on its own, with its registry exposed', async () => {
    const metrics = createMetrics(new FakeBackend());
    expect(metrics.contentType).toMatch(/^text\/plain/);
    expect(samples(await metrics.render()).get('x0t_routes')).toBe(2);
    expect(await metrics.registry.getSingleMetricAsString('x0t_rekeys_total')).toContain('x0t_rekeys_total 3');
  });
});
