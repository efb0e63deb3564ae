/**
 * What the HTTP API needs from a running node. The daemon (src/node) implements it; the API
 * (src/api/server.ts) only reads and calls through it, so the API can be tested against a
 * stand-in and the daemon against the real API.
 */

/** Node IDs are 8 lower-case hex digits (formatNodeId); SPIFFE IDs are spiffe://<td>/node/<id>. */
export type NodeIdText = string;

/** GET /v1/node. */
export interface NodeInfo {
  readonly nodeId: NodeIdText;
  readonly spiffeId: string;
  readonly trustDomain: string;
  readonly version: string;
  readonly profile: 'fast' | 'rfc8966';
  /** ISO 8601 time the process started. */
  readonly startedAt: string;
  readonly uptimeS: number;
  /** Addresses the transports listen on, as host:port ([v6]:port). */
  readonly listen: { readonly udp: readonly string[]; readonly tcp: readonly string[] };
  /** Address the API listens on. */
  readonly api: string;
  /** 'running', or 'draining' after `node drain` (no transit accepted any more). */
  readonly state: 'running' | 'draining';
  /** ISO 8601 expiry of the node's current SVID. */
  readonly svidNotAfter: string;
}

/** One link of GET /v1/neighbours. */
export interface NeighbourInfo {
  readonly link: number;
  readonly transport: 'udp' | 'tcp';
  readonly address: string;
  /** The node the link's session authenticated, or null while there is none. */
  readonly peerNodeId: NodeIdText | null;
  readonly peerSpiffeId: string | null;
  readonly secured: boolean;
  /** The routing core considers the neighbour alive (probes answered). */
  readonly usable: boolean;
  /** Link cost (ETX and RTT), 0xffff when unusable. */
  readonly cost: number;
  readonly rttMs: number;
  /** Share of the neighbour's last Hellos (up to 16) that were lost, 0..1. */
  readonly loss: number;
  /** An operator took the link down (POST /v1/neighbours/{link}/down): nothing goes over it. */
  readonly disabled: boolean;
}

/** One selected route of GET /v1/routes. */
export interface RouteInfo {
  readonly dst: NodeIdText;
  readonly nextHop: NodeIdText | null;
  readonly link: number;
  readonly metric: number;
  readonly seqno: number;
  /** A feasible alternate next hop is ready (fast reroute). */
  readonly hasAlternate: boolean;
}

/** One echo of POST /v1/ping. */
export interface PingReply {
  readonly seq: number;
  /** Round trip in ms, or null when no reply came within the timeout. */
  readonly rttMs: number | null;
  /** 'reply', 'timeout', 'unreachable' or 'hopLimitExceeded' (with the reporting node). */
  readonly outcome: 'reply' | 'timeout' | 'unreachable' | 'hopLimitExceeded';
  readonly reporter?: NodeIdText;
}

/** POST /v1/ping result. */
export interface PingResult {
  readonly dst: NodeIdText;
  readonly replies: readonly PingReply[];
}

/** One hop of a traceroute (POST /v1/traceroute). */
export interface TraceHop {
  readonly hop: number;
  /** The node that answered at this hop limit (hopLimitExceeded reporter or the destination), or null. */
  readonly nodeId: NodeIdText | null;
  readonly rttMs: number | null;
}

/** POST /v1/send result. */
export interface SendResult {
  /** The datagram's id (its sequence number among this node's sends). */
  readonly id: number;
  /** False when the node has no route to dst at the moment (nothing was sent). */
  readonly routed: boolean;
}

/** Events streamed by GET /v1/events (server-sent events, one JSON object each). */
export type NodeEvent =
  | { readonly kind: 'datagram'; readonly at: string; readonly src: NodeIdText; readonly id: number; readonly payloadBase64: string }
  | { readonly kind: 'neighbourUp'; readonly at: string; readonly link: number; readonly peer: NodeIdText }
  | { readonly kind: 'neighbourDown'; readonly at: string; readonly link: number; readonly peer: NodeIdText; readonly reason: string }
  | { readonly kind: 'sessionUp'; readonly at: string; readonly link: number; readonly peerSpiffeId: string }
  | { readonly kind: 'policyDeny'; readonly at: string; readonly action: string; readonly principal: string; readonly policyIds: readonly string[] }
  | { readonly kind: 'lifecycle'; readonly at: string; readonly state: string; readonly detail: string };

/** One record of GET /v1/audit: an action the node audited (lifecycle, policy, CA). */
export interface AuditInfo {
  /** Sequence number in the node's audit log; ids grow in the order records were appended. */
  readonly id: number;
  /** ISO 8601 time of the action. */
  readonly at: string;
  /** Who acted: a SPIFFE ID, 'operator' or 'mape-k'. */
  readonly actor: string;
  /** What was done, e.g. node.start, node.drain, node.stop, policy.reload, policy.peer, revocations.install, svid.renew. */
  readonly action: string;
  /** What it was done to, e.g. a SPIFFE ID or a file. */
  readonly subject: string;
  readonly outcome: 'ok' | 'denied' | 'failed';
  /** Free text (a reason, policy ids, an error), or null. */
  readonly detail: string | null;
}

/** Query of NodeBackend.audit, as GET /v1/audit parsed it. */
export interface AuditQuery {
  /** Most records to return (1..auditLimitMax of src/api/schemas.ts). */
  readonly limit: number;
  /** Only records at or after this ISO 8601 time (UTC, as Date#toISOString writes it). */
  readonly since?: string;
}

/** Counters and gauges for /metrics, read at scrape time. Counters only grow while the process lives. */
export interface NodeCounters {
  readonly handshakesCompleted: number;
  readonly handshakesRefused: number;
  readonly credentialsRefused: number;
  readonly rekeys: number;
  readonly packetsForwarded: number;
  readonly packetsDelivered: number;
  /** Dropped packets by reason (noRoute, hopLimit, noSession, tooLarge, openFailure, frameRefused, policy, ...). */
  readonly packetsDropped: Readonly<Record<string, number>>;
  /** Policy decisions that denied, by action (peer, transit, api). */
  readonly policyDenies: Readonly<Record<string, number>>;
  readonly controlBytesSent: number;
  readonly controlPacketsSent: number;
  /** Probes not sent because data had just gone to that neighbour (data is evidence of liveness). */
  readonly probesSpared: number;
  readonly dataBytesSent: number;
  /** Incidents the self-healing loop holds now, by state. */
  readonly incidents: Readonly<Record<string, number>>;
  /** Decisions the self-healing loop took since start, by kind (actionStarted, actionFailed, ...). */
  readonly mapekDecisions: Readonly<Record<string, number>>;
  /**
   * The transit reports of the self-healing loop since start, by outcome: bundles published,
   * accepted, relayed, dropped (duplicate, stale, malformed, forged, unknownKey, overBudget),
   * certificate requests and answers, and neighbour-windows left undecided (docs/mapek.md).
   */
  readonly mapekReports: Readonly<Record<string, number>>;
  /**
   * Revocation gossip since start, by outcome: chunks and requests in and out, lists completed,
   * malformed, digest mismatches, timed out, requests answered or not, and the lists offered to
   * the CA sync that it installed or refused (docs/ca.md).
   */
  readonly revocationGossip: Readonly<Record<string, number>>;
  /** Accepted TCP connections closed at once without a byte, by reason (perAddress, total). */
  readonly tcpConnectionsRefused: Readonly<Record<string, number>>;
  /** TCP connections open now, by direction (accepted, dialled). */
  readonly tcpConnections: Readonly<Record<string, number>>;
  /** Seconds since the newest verified revocation list was issued (Infinity before the first). */
  readonly revocationListAgeS: number;
  /** True while that list is older than revocations.maxAgeMs: new peer sessions are refused. */
  readonly revocationListStale: boolean;
  /** The network key epoch this node sends under now (0 before the first rotation; docs/ca.md). */
  readonly networkKeyEpoch: number;
  /** Peers without a session refused because the revocation list was stale. */
  readonly newPeersRefused: number;
}

/** An incident of the node's self-healing loop (MAPE-K). */
export interface IncidentInfo {
  readonly id: number;
  /** What it is about: `node:<node id>` or `link:<from>-><to>`. */
  readonly subject: string;
  /** The suspected cause, a fault class name (greyHole, linkDegradation, ...). */
  readonly cause: string;
  readonly state: 'suspected' | 'confirmed' | 'cleared';
  /** ISO 8601 time the incident opened. */
  readonly openedAt: string;
  /** The latest anomaly score, 0..1. */
  readonly score: number;
  /** The action in effect, or null. */
  readonly action: string | null;
  /** Actions tried so far, in order. */
  readonly tried: readonly string[];
}

/** The running node as the API sees it. */
export interface NodeBackend {
  info(): NodeInfo;
  neighbours(): readonly NeighbourInfo[];
  routes(): readonly RouteInfo[];
  counters(): NodeCounters;
  /** Live: the process runs its event loop. Ready: at least one secured neighbour and a route (or no peers configured). */
  ready(): boolean;
  /** Sends `count` echo requests one second apart (or `intervalMs`), waiting up to `timeoutMs` for each. */
  ping(dst: NodeIdText, options: { readonly count: number; readonly intervalMs: number; readonly timeoutMs: number }): Promise<PingResult>;
  traceroute(dst: NodeIdText, options: { readonly maxHops: number; readonly timeoutMs: number }): Promise<readonly TraceHop[]>;
  send(dst: NodeIdText, payload: Uint8Array): SendResult;
  /** Takes link `link` administratively down or up again; false when there is no such link. */
  setLinkDisabled(link: number, disabled: boolean): boolean;
  /** Stops accepting transit, lets routes move away, then leaves (the process exits when done). */
  drain(): Promise<void>;
  /** Calls `listener` for every event until the returned function is called. */
  subscribe(listener: (event: NodeEvent) => void): () => void;
  /** Recovery times (ms) observed since the last call, for the recovery-time histogram. */
  takeRecoverySamples(): readonly number[];
  /** The audit log, newest first: at most `query.limit` records, only those at or after `query.since` when given. */
  audit(query: AuditQuery): readonly AuditInfo[];
  /** Open incidents of the self-healing loop, and cleared ones whose action is still held, oldest first. */
  incidents(): readonly IncidentInfo[];
  /** The self-healing loop's decisions (audit records of actor 'mape-k'), newest first, as `audit` selects them. */
  actions(query: AuditQuery): readonly AuditInfo[];
}
