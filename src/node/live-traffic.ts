import type { RouteInfo } from '../api/backend.js';
import type { LocalCluster } from './cluster.js';

/**
 * Constant-rate flows between nodes of a LocalCluster, sent through the nodes' HTTP API and
 * received on their event streams, and the recovery each flow sees when a fault hits: from
 * the fault instant to the first delivered packet sent after it (on loopback, sent after it
 * means it took a path that avoids the failed element).
 */

/** Packets per second of each flow (10 ms measurement grain). */
export const flowRatePerS = 100;

/** One flow: from node `src` to node `dst` (cluster indices). */
export interface Flow {
  readonly id: number;
  readonly src: number;
  readonly dst: number;
}

/** What one flow saw of one fault. */
export interface FlowRecovery {
  readonly flow: Flow;
  /** Fault to the first delivered packet sent after it; null when none arrived. */
  readonly recoveryMs: number | null;
  /** Packets sent in the second after the fault that never arrived. */
  readonly lost: number;
}

/** The path from `src` to `dst` by following each node's selected next hop (indices), or null. */
export function pathOf(tables: readonly (readonly RouteInfo[])[], nodeIds: readonly string[], src: number, dst: number): number[] | null {
  const path = [src];
  for (let at = src; at !== dst; ) {
    const next = tables[at]?.find((route) => route.dst === nodeIds[dst])?.nextHop;
    const index = next === undefined || next === null ? -1 : nodeIds.indexOf(next);
    if (index < 0 || path.includes(index)) return null;
    path.push(index);
    at = index;
  }
  return path;
}

function payloadOf(flow: number, seq: number): string {
  const bytes = Buffer.alloc(5);
  bytes[0] = flow;
  bytes.writeUInt32BE(seq, 1);
  return bytes.toString('base64');
}

/** Flows running on a cluster, with every send and delivery time. */
export class LiveTraffic {
  private readonly sentAtMs = new Map<number, number[]>();
  private readonly deliveredAtMs = new Map<number, Map<number, number>>();
  private readonly aborts: AbortController[] = [];
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly cluster: LocalCluster,
    readonly flows: readonly Flow[],
    private readonly now: () => number = () => performance.now(),
  ) {
    for (const flow of flows) {
      this.sentAtMs.set(flow.id, []);
      this.deliveredAtMs.set(flow.id, new Map());
    }
  }

  /** Opens the event streams of every destination, then starts sending. */
  async start(): Promise<void> {
    const destinations = [...new Set(this.flows.map((flow) => flow.dst))];
    await Promise.all(destinations.map((dst) => this.listen(dst)));
    for (const flow of this.flows) this.timers.push(setInterval(() => this.sendNext(flow), 1000 / flowRatePerS));
  }

  /** Stops sending (streams stay open until close). */
  stopSending(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }

  /** Stops sending and closes the streams. */
  close(): void {
    this.stopSending();
    for (const abort of this.aborts) abort.abort();
  }

  /**
   * The recovery of each of `flows` from a fault at `faultAtMs` (this traffic's clock). A fault
   * that takes effect some time after it was asked for (a command that installs a firewall rule)
   * passes the instant it was asked for as `faultAtMs` and the instant it was surely in effect as
   * `inEffectAtMs`: only packets sent after that count as recovered, and the time still counts
   * from `faultAtMs`, so the uncertainty adds to the recovery rather than hiding part of it.
   */
  recoveries(flows: readonly Flow[], faultAtMs: number, inEffectAtMs: number = faultAtMs): FlowRecovery[] {
    return flows.map((flow) => {
      const sent = this.sentAtMs.get(flow.id)!;
      const delivered = this.deliveredAtMs.get(flow.id)!;
      let recoveryMs: number | null = null;
      let lost = 0;
      sent.forEach((atMs, seq) => {
        if (atMs < faultAtMs) return;
        const arrivedAtMs = delivered.get(seq);
        if (arrivedAtMs === undefined && atMs < faultAtMs + 1000) lost++;
        if (arrivedAtMs !== undefined && recoveryMs === null && atMs >= inEffectAtMs) recoveryMs = arrivedAtMs - faultAtMs;
      });
      return { flow, recoveryMs, lost };
    });
  }

  /** Now, on the clock of the send and delivery times. */
  clock(): number {
    return this.now();
  }

  private sendNext(flow: Flow): void {
    const sent = this.sentAtMs.get(flow.id)!;
    const seq = sent.length;
    sent.push(this.now());
    const node = this.cluster.nodes[flow.dst]!;
    // A send to a node whose process is gone fails; the packet counts as sent and lost.
    this.cluster.api(flow.src, 'POST', '/v1/send', { dst: node.nodeId, payloadBase64: payloadOf(flow.id, seq) }).catch(() => undefined);
  }

  private async listen(dst: number): Promise<void> {
    const node = this.cluster.nodes[dst]!;
    const abort = new AbortController();
    this.aborts.push(abort);
    const response = await fetch(`${node.api}/v1/events?kinds=datagram`, { headers: { authorization: `Bearer ${node.token}` }, signal: abort.signal });
    if (!response.ok || response.body === null) throw new Error(`node ${dst}: event stream answered ${response.status}`);
    void this.read(response.body).catch(() => undefined);
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of body) {
      buffered += decoder.decode(chunk, { stream: true });
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) if (line.startsWith('data: ')) this.onData(line.slice(6));
    }
  }

  private onData(json: string): void {
    const event = JSON.parse(json) as { kind: string; payloadBase64?: string };
    if (event.kind !== 'datagram' || event.payloadBase64 === undefined) return;
    const bytes = Buffer.from(event.payloadBase64, 'base64');
    if (bytes.length !== 5) return;
    const delivered = this.deliveredAtMs.get(bytes[0]!);
    const seq = bytes.readUInt32BE(1);
    if (delivered !== undefined && !delivered.has(seq)) delivered.set(seq, this.now());
  }
}
