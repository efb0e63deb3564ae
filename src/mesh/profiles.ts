/** Timers and thresholds of the routing core; one profile per deployment style. */
export interface TimingProfile {
  readonly name: ProfileName;
  /** BFD-like probe interval; null disables probes (liveness then comes from Hellos only). */
  readonly probeIntervalMs: number | null;
  /** Probes missed in a row before a neighbour is declared down (BFD detect multiplier). */
  readonly probeDetectMult: number;
  /** Each probe interval is shortened by a random fraction up to this (RFC 5880: 25 %). */
  readonly probeJitterFraction: number;
  readonly helloIntervalMs: number;
  /** An IHU is sent with every n-th Hello (RFC 8966 default: IHU interval = 3 Hello intervals). */
  readonly ihuEveryHellos: number;
  readonly updateIntervalMs: number;
  /** Non-urgent triggered updates wait up to this long so that many changes share one packet. */
  readonly updateCoalesceMs: number;
  /** Routes and IHUs expire after this many of their advertised intervals (RFC 8966: 3.5). */
  readonly expiryFactor: number;
  /** Seqno requests are resent after this long while a source stays starved. */
  readonly seqnoRequestRetryMs: number;
  /** A source entry without a route is forgotten after this long (RFC 8966: 3 minutes). */
  readonly sourceGcMs: number;
  /**
   * Whether a node that lost its last feasible route queries its neighbours (QueryTlv) so it
   * can drop its feasibility distance without a new seqno from the source. Not in RFC 8966.
   */
  readonly routeQueries: boolean;
}

/** Names of the timing profiles. */
export type ProfileName = 'fast' | 'rfc8966';

/** Sub-second failure detection: probes every 50 ms, down after 3 missed (100-150 ms). */
export const fastProfile: TimingProfile = {
  name: 'fast',
  probeIntervalMs: 50,
  probeDetectMult: 3,
  probeJitterFraction: 0.25,
  helloIntervalMs: 1000,
  ihuEveryHellos: 3,
  updateIntervalMs: 20_000,
  updateCoalesceMs: 20,
  expiryFactor: 3.5,
  seqnoRequestRetryMs: 250,
  sourceGcMs: 180_000,
  routeQueries: true,
};

/** Babel's default intervals (RFC 8966 Appendix B): Hello 4 s, IHU 12 s, Update 16 s; no probes. */
export const rfc8966Profile: TimingProfile = {
  name: 'rfc8966',
  probeIntervalMs: null,
  probeDetectMult: 3,
  probeJitterFraction: 0.25,
  helloIntervalMs: 4000,
  ihuEveryHellos: 3,
  updateIntervalMs: 16_000,
  updateCoalesceMs: 50,
  expiryFactor: 3.5,
  seqnoRequestRetryMs: 2000,
  sourceGcMs: 180_000,
  routeQueries: false,
};

/**
 * How long a neighbour keeps believing a link is up after the last packet it heard on it: the
 * probe detection time, or without probes the IHU expiry (the slowest Hello-based liveness rule).
 */
export function detectionTimeMs(profile: TimingProfile): number {
  if (profile.probeIntervalMs !== null) return profile.probeDetectMult * profile.probeIntervalMs;
  return profile.helloIntervalMs * profile.ihuEveryHellos * profile.expiryFactor;
}

/** The profiles by name. */
export const profiles: Readonly<Record<ProfileName, TimingProfile>> = {
  fast: fastProfile,
  rfc8966: rfc8966Profile,
};

/** True when `name` names a timing profile. */
export function isProfileName(name: string): name is ProfileName {
  return name === 'fast' || name === 'rfc8966';
}
