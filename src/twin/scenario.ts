/**
 * Digital-twin scenario files: YAML in, a typed, fully defaulted `Scenario` out.
 *
 * A scenario is user input, so it is parsed once, at the boundary, strictly: unknown keys
 * are errors (a typo such as `durationSec` must not silently fall back to a default), every
 * number has a range, and relations the schema cannot express (fault times inside the run,
 * node indexes inside the topology) are checked afterwards. Every problem becomes one issue
 * naming the file, the field path (`faults[2].kind`), what was expected and what was found,
 * and all issues are reported together so that a user fixes a file in one pass.
 *
 * Optional values without a default (a fault that never heals, a degrade on a random link)
 * are `null` in the result, so consumers read plain objects and never meet `undefined`.
 */

import { Buffer } from 'node:buffer';
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Document, LineCounter, isScalar, parseDocument, visit } from 'yaml';
import { z } from 'zod';
import type { ProfileName } from '../mesh/profiles.js';

/** Bounds on scenario values, units last; they keep a typo such as `nodes: 2000000` from reaching the simulator. */
export const scenarioLimits = {
  /** A scenario is a page of YAML; anything larger is a mistake, not a scenario. */
  bytesMax: 1_048_576,
  nameCharsMax: 64,
  descriptionCharsMax: 4096,
  /** The twin's PRNG takes 32-bit seeds, so every run's seed must fit. */
  seedMax: 0xffff_ffff,
  seedsMax: 64,
  nodesMin: 2,
  nodesMax: 20_000,
  /** One simulated week bounds every time in a scenario. */
  timeSMax: 604_800,
  delayMsMax: 10_000,
  bandwidthMbpsMax: 100_000,
  /** One full-size Ethernet frame must fit into a link queue. */
  queueBytesMin: 1500,
  queueBytesMax: 67_108_864,
  flowsMax: 10_000,
  ratePpsMax: 10_000,
  payloadBytesMax: 1200,
  faultsMax: 1000,
  faultCountMax: 100_000,
  ratePerMinMax: 60_000,
  /** Sizes in one traffic payload mix. */
  payloadSizesMax: 16,
  /** A censored size band is in wire bytes: a packet is at most the wire's 1400 bytes. */
  packetBytesMax: 1400,
  /** Extra input delay of an exhausted CPU: a few ms is the point, a second is already absurd. */
  inputDelayMsMax: 1000,
  /** Largest metric a bogus node may advertise (below the 0xFFFF that means a retraction). */
  bogusMetricMax: 0xfffe,
} as const;

const lim = scenarioLimits;

/** Topology generators a scenario can name. */
export const topologyKinds = ['line', 'ring', 'grid', 'rgg', 'ba', 'edges'] as const;
/** Fault kinds a scenario can name. */
export const faultKinds = [
  'linkFailure',
  'nodeCrash',
  'linkCut',
  'nodeDown',
  'flap',
  'degrade',
  'partition',
  'churn',
  'greyHole',
  'blackHole',
  'slowDegradation',
  'congestion',
  'cpuExhaustion',
  'memoryExhaustion',
  'bogusMetrics',
  'censorship',
] as const;
/** Ways a `partition` fault splits the network. */
export const partitionModes = ['halves', 'randomHalves', 'isolate', 'bridge', 'majorityRing', 'oneWay'] as const;
const profileNames = ['fast', 'rfc8966'] as const satisfies readonly ProfileName[];
const faultTargets = ['onPath', 'any'] as const;

/** Node indexes of the two ends of a link. */
export type LinkEnds = readonly [number, number];

/** Which graph the twin builds; `nodes` is filled in for every kind but `edges`, whose file fixes it. */
export type TopologySpec =
  | { readonly kind: 'line'; readonly nodes: number }
  | { readonly kind: 'ring'; readonly nodes: number }
  | { readonly kind: 'grid'; readonly rows: number; readonly cols: number; readonly nodes: number }
  | { readonly kind: 'rgg'; readonly nodes: number; readonly avgDegree: number }
  | { readonly kind: 'ba'; readonly nodes: number; readonly m: number }
  /** `file` is an absolute path to an edge list. */
  | { readonly kind: 'edges'; readonly file: string };

/** Parameters every simulated link draws from. */
export interface LinkSpec {
  /** Each link's one-way delay is drawn uniformly from [min, max]. */
  readonly delayMs: { readonly min: number; readonly max: number };
  readonly jitterMs: number;
  readonly loss: number;
  readonly bandwidthMbps: number;
  readonly queueBytes: number;
  /** When true, each direction of a link draws its own delay. */
  readonly asymmetric: boolean;
}

/** Phases of a run: warm-up, the measured part, then quiet time before the oracle check. */
export interface TimingSpec {
  readonly warmupS: number;
  readonly durationS: number;
  readonly settleS: number;
}

/** Application traffic: `flows` random pairs, or exactly the listed `pairs`. */
export interface TrafficSpec {
  /** Number of flows; equals `pairs.length` when pairs are given. */
  readonly flows: number;
  readonly pairs: readonly LinkEnds[] | null;
  readonly ratePps: number;
  readonly payloadBytes: number;
  /** Flow i carries payloads of payloadSizes[i mod length] bytes (overrides payloadBytes); null: all payloadBytes. */
  readonly payloadSizes: readonly number[] | null;
}

/** Whether a random fault picks links or nodes on an active path or anywhere. */
export type FaultTarget = (typeof faultTargets)[number];

/** Recurring random single-link cuts, each restored after `downS`. */
export interface LinkFailureFault {
  readonly kind: 'linkFailure';
  readonly count: number;
  readonly startS: number;
  readonly everyS: number;
  readonly downS: number;
  readonly target: FaultTarget;
}

/** Recurring random node crashes (state lost), each restarted after `downS`. */
export interface NodeCrashFault extends Omit<LinkFailureFault, 'kind'> {
  readonly kind: 'nodeCrash';
}

/** One link cut at `atS`, restored at `untilS` or never (null). */
export interface LinkCutFault {
  readonly kind: 'linkCut';
  readonly link: LinkEnds;
  readonly atS: number;
  readonly untilS: number | null;
}

/** One node crash at `atS`, restarted at `untilS` or never (null). */
export interface NodeDownFault {
  readonly kind: 'nodeDown';
  readonly node: number;
  readonly atS: number;
  readonly untilS: number | null;
}

/** A link (null: a random on-path one, chosen at the first flap) that goes down for periodS/2 and up for periodS/2, `count` times from `atS`. */
export interface FlapFault {
  readonly kind: 'flap';
  readonly link: LinkEnds | null;
  readonly atS: number;
  readonly periodS: number;
  readonly count: number;
}

/** Extra loss and delay on one link (null: a random on-path link) between `atS` and `untilS`. */
export interface DegradeFault {
  readonly kind: 'degrade';
  readonly link: LinkEnds | null;
  readonly atS: number;
  readonly untilS: number;
  readonly loss: number;
  readonly extraDelayMs: number;
}

/** A network split at `atS`, healed at `healS` or never (null); `node` only for mode isolate. */
export interface PartitionFault {
  readonly kind: 'partition';
  readonly mode: (typeof partitionModes)[number];
  readonly atS: number;
  readonly healS: number | null;
  readonly node: number | null;
}

/** Random node crashes at `ratePerMin` between `startS` and `untilS`, each down for `downS`. */
export interface ChurnFault {
  readonly kind: 'churn';
  readonly ratePerMin: number;
  readonly startS: number;
  readonly untilS: number;
  readonly downS: number;
}

/**
 * A node that drops `dropShare` of the data it forwards (not data it originates or delivers)
 * while answering every control packet, from `atS` to `untilS` (null: the end). `node` null:
 * a random node on some flow's path that is no flow's endpoint, chosen at `atS`.
 */
export interface GreyHoleFault {
  readonly kind: 'greyHole';
  readonly node: number | null;
  readonly atS: number;
  readonly untilS: number | null;
  readonly dropShare: number;
}

/** A grey hole that drops all the data it forwards. */
export interface BlackHoleFault {
  readonly kind: 'blackHole';
  readonly node: number | null;
  readonly atS: number;
  readonly untilS: number | null;
}

/**
 * Loss and extra delay on both directions of a link rising linearly from 0 at `atS` to
 * `maxLoss` and `maxExtraDelayMs` at `atS + rampS`, then held until `untilS` (null: the end).
 */
export interface SlowDegradationFault {
  readonly kind: 'slowDegradation';
  readonly link: LinkEnds | null;
  readonly atS: number;
  readonly rampS: number;
  readonly untilS: number | null;
  readonly maxLoss: number;
  readonly maxExtraDelayMs: number;
}

/** Both directions of a link limited to `bandwidthKbps` with a `queueBytes` drop-tail queue. */
export interface CongestionFault {
  readonly kind: 'congestion';
  readonly link: LinkEnds | null;
  readonly atS: number;
  readonly untilS: number | null;
  readonly bandwidthKbps: number;
  readonly queueBytes: number;
}

/** A host whose CPU is exhausted: it reports ~95 %+ and handles each input `inputDelayMs` late. */
export interface CpuExhaustionFault {
  readonly kind: 'cpuExhaustion';
  readonly node: number | null;
  readonly atS: number;
  readonly untilS: number | null;
  readonly inputDelayMs: number;
}

/** A host whose memory use rises to ~95 %+. */
export interface MemoryExhaustionFault {
  readonly kind: 'memoryExhaustion';
  readonly node: number | null;
  readonly atS: number;
  readonly untilS: number | null;
}

/** A node that advertises `metric` for every route it forwards (rewriting its Update TLVs). */
export interface BogusMetricsFault {
  readonly kind: 'bogusMetrics';
  readonly node: number | null;
  readonly atS: number;
  readonly untilS: number | null;
  readonly metric: number;
}

/** A censor on a link dropping data packets of minBytes..maxBytes wire bytes, both directions. */
export interface CensorshipFault {
  readonly kind: 'censorship';
  readonly link: LinkEnds | null;
  readonly atS: number;
  readonly untilS: number | null;
  readonly minBytes: number;
  readonly maxBytes: number;
}

/** Faults of one node's behaviour or host (they label the node). */
export type NodeFaultSpec = GreyHoleFault | BlackHoleFault | CpuExhaustionFault | MemoryExhaustionFault | BogusMetricsFault;
/** Faults of one link's behaviour that leave it up (they label both directions of the link). */
export type LinkFaultSpec = SlowDegradationFault | CongestionFault | CensorshipFault;

/** One entry of a scenario's `faults` list. */
export type FaultSpec =
  | LinkFailureFault
  | NodeCrashFault
  | LinkCutFault
  | NodeDownFault
  | FlapFault
  | DegradeFault
  | PartitionFault
  | ChurnFault
  | NodeFaultSpec
  | LinkFaultSpec;

/** Invariants the twin checks during the run. */
export interface InvariantSpec {
  /** The next-hop graph is acyclic after every event. */
  readonly loops: boolean;
  /** Routes match shortest paths after `settleS` of quiet. */
  readonly oracle: boolean;
}

/** The secure link layer in the twin: real CA, SVIDs and handshakes on every link. */
export interface SecuritySpec {
  /** Run every node behind SecureNode (certificates, hybrid handshakes, sealed and obfuscated packets). */
  readonly enabled: boolean;
  /** Carry flow packets in end-to-end sessions between source and destination too. */
  readonly endToEnd: boolean;
  /** Nodes whose SVID the CA revoked before the start: they must never get a session. */
  readonly revoked: readonly number[];
  /** Nodes enrolled by the CA of another trust domain. */
  readonly foreignTrustDomain: readonly number[];
  /** Nodes that present bytes that are not a certificate. */
  readonly invalidCertificate: readonly number[];
  /** Lifetime of node SVIDs; nodes renew them at 45-55 % of it (default 3600, the daemon's). */
  readonly svidTtlS: number;
}

/**
 * MAPE-K on every node (src/twin/self-healing.ts): each node judges its neighbours by the
 * conservation of their transit and acts through its own core (quarantine, link penalties).
 */
export interface SelfHealingSpec {
  readonly enabled: boolean;
  /** Length of a monitoring window; the loop steps once per window. */
  readonly windowMs: number;
  /**
   * A trained detector file (an ensemble, X0TDENSB, or one model, X0TDETEC) whose findings the
   * loops get besides the rules' (src/mapek/detector-findings.ts); null: rules only. Relative
   * paths are relative to the scenario file.
   */
  readonly detector: string | null;
}

/** Transit probes through idle neighbours (src/twin/transit-probes.ts). */
export interface TransitProbeSpec {
  readonly enabled: boolean;
  /** Length of an interval; a neighbour that carried none of a node's data in it gets probes. */
  readonly intervalMs: number;
  readonly probesPerInterval: number;
}

/** A validated scenario with every default filled in. */
export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly seed: number;
  /** Runs use seeds seed, seed + 1, ..., seed + seeds - 1. */
  readonly seeds: number;
  readonly profile: ProfileName;
  readonly topology: TopologySpec;
  readonly links: LinkSpec;
  readonly timing: TimingSpec;
  readonly traffic: TrafficSpec;
  readonly faults: readonly FaultSpec[];
  readonly invariants: InvariantSpec;
  readonly security: SecuritySpec;
  readonly selfHealing: SelfHealingSpec;
  readonly transitProbes: TransitProbeSpec;
}

/** Values a caller (such as the CLI) may set over a loaded scenario. */
export interface ScenarioOverrides {
  readonly seed?: number;
  readonly seeds?: number;
  readonly nodes?: number;
  readonly profile?: ProfileName;
}

/** One problem in a scenario: a dotted field path (empty for the whole file) and what was wrong. */
export interface ScenarioIssue {
  readonly path: string;
  readonly message: string;
}

/** Stable codes of scenario errors: the file could not be read, or its content is invalid. */
export type ScenarioErrorCode = 'ERR_SCENARIO_INVALID' | 'ERR_SCENARIO_READ';

/** A scenario that could not be read or is invalid; the message has one line per issue. */
export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
  readonly code: ScenarioErrorCode;
  /** The file name or label the issues refer to. */
  readonly source: string;
  readonly issues: readonly ScenarioIssue[];

  /** An error whose message lists every issue as `source: path: message`. */
  constructor(code: ScenarioErrorCode, source: string, issues: readonly ScenarioIssue[]) {
    super(issues.map((i) => `${source}: ${i.path === '' ? '' : `${i.path}: `}${i.message}`).join('\n'));
    this.code = code;
    this.source = source;
    this.issues = issues;
  }
}

// ---- Schema. Every leaf carries the phrase that completes "expected ...", so that the
// issue formatter can say what was expected without knowing zod's wording.

const expect = (text: string): { error: string } => ({ error: text });

function intIn(min: number, max: number, what = 'an integer'): z.ZodInt {
  const e = expect(`${what} in ${min}..${max}`);
  return z.int(e).min(min, e).max(max, e);
}

/** A number in [lo, hi], or (lo, hi] / [lo, hi) when the ends are open. */
function num(lo: number, hi: number, loOpen = false, hiOpen = false): z.ZodNumber {
  const e = expect(`a number in ${loOpen ? '(' : '['}${lo}, ${hi}${hiOpen ? ')' : ']'}`);
  const low = loOpen ? z.number(e).gt(lo, e) : z.number(e).min(lo, e);
  return hiOpen ? low.lt(hi, e) : low.max(hi, e);
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T): z.ZodEnum<{ [K in T[number]]: K }> {
  return z.enum(values, expect(`one of ${values.join(', ')}`));
}

function strict<T extends z.ZodRawShape>(shape: T): z.ZodObject<T, z.core.$strict> {
  const keys = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? `one of ${keys}` : 'a mapping'),
  });
}

function orNull<T extends z.ZodType>(schema: T): z.ZodPipe<z.ZodOptional<T>, z.ZodTransform<z.output<T> | null>> {
  return schema.optional().transform((v) => v ?? null);
}

const unionError = (kinds: readonly string[]): { error: (iss: { code: string }) => string } => ({
  error: (iss) => (iss.code === 'invalid_union' ? `one of ${kinds.join(', ')}` : 'a mapping with a kind'),
});

const nodeIndex = intIn(0, lim.nodesMax - 1, 'a node index');
const linkEnds = z.tuple([nodeIndex, nodeIndex], expect('a link [a, b] of two node indexes'));
const timeS = num(0, lim.timeSMax);
const periodS = num(0, lim.timeSMax, true);
const fraction = num(0, 1, false, true);
const faultCount = intIn(1, lim.faultCountMax);
const nodes = intIn(lim.nodesMin, lim.nodesMax);

const topologySchema = z.discriminatedUnion(
  'kind',
  [
    strict({ kind: z.literal('line'), nodes }),
    strict({ kind: z.literal('ring'), nodes: intIn(3, lim.nodesMax) }),
    strict({ kind: z.literal('grid'), rows: intIn(1, lim.nodesMax), cols: intIn(1, lim.nodesMax) }),
    strict({ kind: z.literal('rgg'), nodes, avgDegree: num(0, lim.nodesMax, true).default(8) }),
    strict({ kind: z.literal('ba'), nodes, m: intIn(1, lim.nodesMax).default(2) }),
    strict({ kind: z.literal('edges'), file: z.string(expect('a file path')).min(1, expect('a file path')) }),
  ],
  unionError(topologyKinds),
);

const linksSchema = strict({
  delayMs: strict({ min: num(0, lim.delayMsMax), max: num(0, lim.delayMsMax) }).default(() => ({ min: 5, max: 20 })),
  jitterMs: num(0, lim.delayMsMax).default(1),
  loss: fraction.default(0),
  bandwidthMbps: num(0, lim.bandwidthMbpsMax, true).default(100),
  queueBytes: intIn(lim.queueBytesMin, lim.queueBytesMax).default(65_536),
  asymmetric: z.boolean(expect('true or false')).default(false),
});

const timingSchema = strict({
  warmupS: timeS.default(10),
  durationS: periodS.default(60),
  settleS: timeS.default(5),
});

const pairsError = expect(`a list of at most ${lim.flowsMax} node index pairs [a, b]`);
const trafficSchema = strict({
  flows: intIn(0, lim.flowsMax).optional(),
  pairs: orNull(z.array(linkEnds, pairsError).max(lim.flowsMax, pairsError)),
  ratePps: num(0, lim.ratePpsMax, true).default(100),
  payloadBytes: intIn(0, lim.payloadBytesMax).default(64),
  payloadSizes: orNull(
    z
      .array(intIn(0, lim.payloadBytesMax, 'a payload size'), expect(`a list of 1..${lim.payloadSizesMax} payload sizes`))
      .min(1, expect(`a list of 1..${lim.payloadSizesMax} payload sizes`))
      .max(lim.payloadSizesMax, expect(`a list of 1..${lim.payloadSizesMax} payload sizes`)),
  ),
});

const recurring = {
  count: faultCount,
  startS: timeS,
  everyS: periodS,
  downS: periodS.default(10),
  target: oneOf(faultTargets).default('onPath'),
};

const faultSchema = z.discriminatedUnion(
  'kind',
  [
    strict({ kind: z.literal('linkFailure'), ...recurring }),
    strict({ kind: z.literal('nodeCrash'), ...recurring }),
    strict({ kind: z.literal('linkCut'), link: linkEnds, atS: timeS, untilS: orNull(timeS) }),
    strict({ kind: z.literal('nodeDown'), node: nodeIndex, atS: timeS, untilS: orNull(timeS) }),
    strict({ kind: z.literal('flap'), link: orNull(linkEnds), atS: timeS, periodS, count: faultCount }),
    strict({
      kind: z.literal('degrade'),
      link: orNull(linkEnds),
      atS: timeS,
      untilS: timeS,
      loss: fraction.default(0),
      extraDelayMs: num(0, lim.delayMsMax).default(0),
    }),
    strict({
      kind: z.literal('partition'),
      mode: oneOf(partitionModes),
      atS: timeS,
      healS: orNull(timeS),
      node: orNull(nodeIndex),
    }),
    strict({
      kind: z.literal('churn'),
      ratePerMin: num(0, lim.ratePerMinMax, true),
      startS: timeS,
      untilS: timeS,
      downS: periodS.default(5),
    }),
    ...behaviourFaultSchemas(),
  ],
  unionError(faultKinds),
);

/** Schemas of the faults that change how a node or link behaves while it stays up. */
function behaviourFaultSchemas() {
  const node = orNull(nodeIndex);
  const link = orNull(linkEnds);
  const untilS = orNull(timeS);
  return [
    strict({ kind: z.literal('greyHole'), node, atS: timeS, untilS, dropShare: num(0.5, 1).default(0.75) }),
    strict({ kind: z.literal('blackHole'), node, atS: timeS, untilS }),
    strict({
      kind: z.literal('slowDegradation'),
      link,
      atS: timeS,
      rampS: periodS,
      untilS,
      maxLoss: fraction.default(0),
      maxExtraDelayMs: num(0, lim.delayMsMax).default(0),
    }),
    strict({
      kind: z.literal('congestion'),
      link,
      atS: timeS,
      untilS,
      bandwidthKbps: num(0, lim.bandwidthMbpsMax * 1000, true).default(128),
      queueBytes: intIn(lim.queueBytesMin, lim.queueBytesMax).default(3000),
    }),
    strict({ kind: z.literal('cpuExhaustion'), node, atS: timeS, untilS, inputDelayMs: num(0, lim.inputDelayMsMax).default(5) }),
    strict({ kind: z.literal('memoryExhaustion'), node, atS: timeS, untilS }),
    strict({ kind: z.literal('bogusMetrics'), node, atS: timeS, untilS, metric: intIn(0, lim.bogusMetricMax).default(0) }),
    strict({
      kind: z.literal('censorship'),
      link,
      atS: timeS,
      untilS,
      minBytes: intIn(1, lim.packetBytesMax).default(1000),
      maxBytes: intIn(1, lim.packetBytesMax).default(1200),
    }),
  ] as const;
}

const faultsError = expect(`a list of at most ${lim.faultsMax} faults`);
const nodeListError = expect(`a list of at most ${lim.nodesMax} node indexes`);
const nodeList = z.array(nodeIndex, nodeListError).max(lim.nodesMax, nodeListError);
const nameError = expect(`a name of 1..${lim.nameCharsMax} characters from a-z, 0-9 and -`);
const descriptionError = expect(`a string of at most ${lim.descriptionCharsMax} characters`);
const seed = intIn(0, lim.seedMax);
const seeds = intIn(1, lim.seedsMax);

const scenarioSchema = strict({
  name: z.string(nameError).regex(/^[a-z0-9-]+$/, nameError).max(lim.nameCharsMax, nameError),
  description: z.string(descriptionError).max(lim.descriptionCharsMax, descriptionError).default(''),
  seed: seed.default(1),
  seeds: seeds.default(1),
  profile: oneOf(profileNames).default('fast'),
  topology: topologySchema,
  links: linksSchema.prefault({}),
  timing: timingSchema.prefault({}),
  traffic: trafficSchema.prefault({}),
  faults: z.array(faultSchema, faultsError).max(lim.faultsMax, faultsError).default(() => []),
  invariants: strict({
    loops: z.boolean(expect('true or false')).default(true),
    oracle: z.boolean(expect('true or false')).default(true),
  }).prefault({}),
  security: strict({
    enabled: z.boolean(expect('true or false')).default(false),
    endToEnd: z.boolean(expect('true or false')).default(false),
    revoked: nodeList.default(() => []),
    foreignTrustDomain: nodeList.default(() => []),
    invalidCertificate: nodeList.default(() => []),
    svidTtlS: num(10, 30 * 24 * 3600).default(3600),
  }).prefault({}),
  selfHealing: strict({
    enabled: z.boolean(expect('true or false')).default(false),
    windowMs: intIn(100, 60_000).default(1000),
    detector: z.string(expect('a file path or null')).min(1, expect('a file path or null')).nullable().default(null),
  }).prefault({}),
  transitProbes: strict({
    enabled: z.boolean(expect('true or false')).default(false),
    intervalMs: intIn(100, 60_000).default(1000),
    probesPerInterval: intIn(1, 64).default(2),
  }).prefault({}),
});

const overridesSchema = strict({
  seed: seed.optional(),
  seeds: seeds.optional(),
  nodes: nodes.optional(),
  profile: oneOf(profileNames).optional(),
});

type ParsedScenario = z.output<typeof scenarioSchema>;

// ---- Issue formatting.

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    const name = String(key);
    if (typeof key === 'number') out += `[${name}]`;
    // A YAML key can hold any text; quote odd ones so that each issue stays on one line.
    else if (/^[A-Za-z_$][\w$]*$/.test(name)) out += `${out === '' ? '' : '.'}${name}`;
    else out += `[${JSON.stringify(name)}]`;
  }
  return out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  // Object() turns a missing parent into {}, so a path below a missing field yields undefined.
  return path.reduce<unknown>((value, key) => (Object(value) as Record<PropertyKey, unknown>)[key], root);
}

/** A short rendering of a found value: strings quoted, small lists and mappings as JSON. */
function describe(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    // A YAML alias can make a list contain itself; fall through to the summary.
  }
  if (json !== undefined && json.length <= 60) return json;
  if (typeof value === 'string') return JSON.stringify(`${value.slice(0, 57)}...`);
  if (!Array.isArray(value)) return 'a mapping';
  return `a list of ${value.length} item${value.length === 1 ? '' : 's'}`;
}

function zodIssues(error: z.ZodError, raw: unknown): ScenarioIssue[] {
  return error.issues.flatMap((iss): ScenarioIssue[] => {
    if (iss.code === 'unrecognized_keys') {
      const message = `unknown key; expected ${iss.message}`;
      return iss.keys.map((key) => ({ path: formatPath([...iss.path, key]), message }));
    }
    const value = valueAt(raw, iss.path);
    const message =
      value === undefined ? `missing; expected ${iss.message}` : `expected ${iss.message}; got ${describe(value)}`;
    return [{ path: formatPath(iss.path), message }];
  });
}

// ---- Static checks that relate fields to each other.

/** The node count when the scenario alone fixes it; null for an edge-list topology. */
export function staticNodeCount(topology: TopologySpec): number | null {
  return topology.kind === 'edges' ? null : topology.nodes;
}

/** Whether a-b is a link of a topology whose edges do not depend on the seed; null when they do. */
function staticHasEdge(topology: TopologySpec, a: number, b: number): boolean | null {
  const d = Math.abs(a - b);
  switch (topology.kind) {
    case 'line':
      return d === 1;
    case 'ring':
      return d === 1 || d === topology.nodes - 1;
    case 'grid':
      return d === topology.cols || (d === 1 && Math.floor(a / topology.cols) === Math.floor(b / topology.cols));
    default:
      return null;
  }
}

class IssueList {
  readonly items: ScenarioIssue[] = [];

  add(path: string, expected: string, got: unknown): void {
    this.items.push({ path, message: `expected ${expected}; got ${describe(got)}` });
  }
}

function checkNode(node: number, path: string, nodeCount: number | null, out: IssueList): void {
  if (nodeCount !== null && node >= nodeCount) {
    out.add(path, `a node index in 0..${nodeCount - 1} (the topology has ${nodeCount} nodes)`, node);
  }
}

function checkPair(ends: LinkEnds, path: string, nodeCount: number | null, out: IssueList): boolean {
  const issuesBefore = out.items.length;
  if (ends[0] === ends[1]) out.add(path, 'two different node indexes', ends);
  checkNode(ends[0], `${path}[0]`, nodeCount, out);
  checkNode(ends[1], `${path}[1]`, nodeCount, out);
  return out.items.length === issuesBefore;
}

function checkLink(ends: LinkEnds, path: string, topology: TopologySpec, out: IssueList): void {
  if (checkPair(ends, path, staticNodeCount(topology), out) && staticHasEdge(topology, ends[0], ends[1]) === false) {
    out.add(path, `a link of the ${topology.kind} topology`, ends);
  }
}

function checkSecurity(s: Scenario, out: IssueList): void {
  const nodeCount = staticNodeCount(s.topology);
  for (const field of ['revoked', 'foreignTrustDomain', 'invalidCertificate'] as const) {
    s.security[field].forEach((node, i) => checkNode(node, `security.${field}[${i}]`, nodeCount, out));
    if (s.security[field].length > 0 && !s.security.enabled) out.add(`security.${field}`, 'an empty list while security.enabled is false', s.security[field]);
  }
}

function checkTopology(topology: TopologySpec, out: IssueList): void {
  if (topology.kind === 'grid' && (topology.nodes < lim.nodesMin || topology.nodes > lim.nodesMax)) {
    out.add('topology.rows', `rows * cols in ${lim.nodesMin}..${lim.nodesMax}`, topology.nodes);
  } else if (topology.kind === 'rgg' && topology.avgDegree >= topology.nodes - 1) {
    out.add('topology.avgDegree', `a number below nodes - 1 (${topology.nodes - 1})`, topology.avgDegree);
  } else if (topology.kind === 'ba' && topology.m >= topology.nodes) {
    out.add('topology.m', `an integer below nodes (${topology.nodes})`, topology.m);
  }
}

function checkTraffic(s: Scenario, flowsGiven: number | undefined, out: IssueList): void {
  const { pairs } = s.traffic;
  if (pairs === null) return;
  if (flowsGiven !== undefined && flowsGiven !== pairs.length) {
    out.add('traffic.flows', `the number of pairs (${pairs.length}) or no flows key`, flowsGiven);
  }
  const nodeCount = staticNodeCount(s.topology);
  pairs.forEach((ends, i) => checkPair(ends, `traffic.pairs[${i}]`, nodeCount, out));
}

/**
 * When a fault begins and the last time the scenario itself names or schedules for it, with
 * the fields that set them. Automatic restores `downS` after a failure are not included:
 * they may fall into the settle time or after it, as when failures run until the end.
 */
interface FaultSpan {
  readonly startKey: string;
  readonly start: number;
  readonly endKey: string;
  readonly end: number;
  readonly endWhat: string;
}

function faultSpan(f: FaultSpec): FaultSpan {
  switch (f.kind) {
    case 'linkFailure':
    case 'nodeCrash': {
      const end = f.startS + (f.count - 1) * f.everyS;
      const endWhat = 'the last failure (startS + (count - 1) * everyS)';
      return { startKey: 'startS', start: f.startS, endKey: 'count', end, endWhat };
    }
    case 'flap': {
      const end = f.atS + (f.count - 1) * f.periodS;
      const endWhat = 'the last flap (atS + (count - 1) * periodS)';
      return { startKey: 'atS', start: f.atS, endKey: 'count', end, endWhat };
    }
    case 'churn':
      return { startKey: 'startS', start: f.startS, endKey: 'untilS', end: f.untilS, endWhat: 'untilS' };
    case 'partition':
      return { startKey: 'atS', start: f.atS, endKey: 'healS', end: f.healS ?? f.atS, endWhat: 'healS' };
    case 'slowDegradation': {
      const rampEnd = f.atS + f.rampS;
      if (f.untilS === null || f.untilS < rampEnd) return { startKey: 'atS', start: f.atS, endKey: 'rampS', end: rampEnd, endWhat: 'the end of the ramp (atS + rampS)' };
      return { startKey: 'atS', start: f.atS, endKey: 'untilS', end: f.untilS, endWhat: 'untilS' };
    }
    default:
      return { startKey: 'atS', start: f.atS, endKey: 'untilS', end: f.untilS ?? f.atS, endWhat: 'untilS' };
  }
}

function checkFaultTimes(f: FaultSpec, path: string, runEndS: number, out: IssueList): void {
  const span = faultSpan(f);
  const run = `within the run, <= ${runEndS} s (warmupS + durationS)`;
  if (span.start > runEndS) {
    out.add(`${path}.${span.startKey}`, `a time ${run}`, span.start);
  } else if (span.end > runEndS) {
    out.add(`${path}.${span.endKey}`, `${span.endWhat} ${run}`, span.end);
  }
  const [laterKey, later] = f.kind === 'partition' ? ['healS', f.healS] : ['untilS', 'untilS' in f ? f.untilS : null];
  if (later !== null && later <= span.start) {
    out.add(`${path}.${laterKey}`, `a time after ${span.startKey} (${span.start})`, later);
  }
}

/** Faults that name (or pick) one link, and those that name (or pick) one node. */
const linkFaultKinds: ReadonlySet<string> = new Set(['linkCut', 'flap', 'degrade', 'slowDegradation', 'congestion', 'censorship']);
const nodeFaultKinds: ReadonlySet<string> = new Set(['nodeDown', 'greyHole', 'blackHole', 'cpuExhaustion', 'memoryExhaustion', 'bogusMetrics']);

function checkFaultTargets(f: FaultSpec, path: string, s: Scenario, out: IssueList): void {
  const topology = s.topology;
  if (linkFaultKinds.has(f.kind) && 'link' in f && f.link !== null) {
    checkLink(f.link, `${path}.link`, topology, out);
  } else if (nodeFaultKinds.has(f.kind) && 'node' in f && f.node !== null) {
    checkNode(f.node, `${path}.node`, staticNodeCount(topology), out);
  } else if (f.kind === 'partition' && f.node !== null) {
    if (f.mode === 'isolate') checkNode(f.node, `${path}.node`, staticNodeCount(topology), out);
    else out.add(`${path}.node`, 'no node (only mode isolate takes one)', f.node);
  }
  if (f.kind === 'degrade' && f.loss === 0 && f.extraDelayMs === 0) {
    out.add(`${path}.loss`, 'loss > 0 or extraDelayMs > 0 (otherwise the fault does nothing)', f.loss);
  }
  checkBehaviourFault(f, path, s, out);
}

/** Relations inside the behaviour faults' own fields. */
function checkBehaviourFault(f: FaultSpec, path: string, s: Scenario, out: IssueList): void {
  if (f.kind === 'slowDegradation' && f.maxLoss === 0 && f.maxExtraDelayMs === 0) {
    out.add(`${path}.maxLoss`, 'maxLoss > 0 or maxExtraDelayMs > 0 (otherwise the fault does nothing)', f.maxLoss);
  } else if (f.kind === 'slowDegradation' && f.untilS !== null && f.untilS < f.atS + f.rampS) {
    out.add(`${path}.untilS`, `a time >= the end of the ramp, atS + rampS (${f.atS + f.rampS})`, f.untilS);
  } else if (f.kind === 'censorship' && f.maxBytes < f.minBytes) {
    out.add(`${path}.maxBytes`, `a size >= minBytes (${f.minBytes})`, f.maxBytes);
  } else if (f.kind === 'bogusMetrics' && s.security.enabled) {
    out.add(`${path}.kind`, 'no bogusMetrics while security.enabled is true (it rewrites plaintext control packets)', f.kind);
  } else if ((f.kind === 'greyHole' || f.kind === 'blackHole') && s.security.enabled) {
    out.add(`${path}.kind`, `no ${f.kind} while security.enabled is true (the probes it sends in place of dropped data are plaintext)`, f.kind);
  }
}

function semanticIssues(s: Scenario, flowsGiven: number | undefined): ScenarioIssue[] {
  const out = new IssueList();
  if (s.seed + s.seeds - 1 > lim.seedMax) {
    out.add('seeds', `seed + seeds - 1 <= ${lim.seedMax}`, s.seed + s.seeds - 1);
  }
  checkTopology(s.topology, out);
  if (s.links.delayMs.max < s.links.delayMs.min) {
    out.add('links.delayMs.max', `a number >= min (${s.links.delayMs.min})`, s.links.delayMs.max);
  }
  checkTraffic(s, flowsGiven, out);
  const runEndS = s.timing.warmupS + s.timing.durationS;
  s.faults.forEach((f, i) => {
    checkFaultTimes(f, `faults[${i}]`, runEndS, out);
    checkFaultTargets(f, `faults[${i}]`, s, out);
  });
  checkSecurity(s, out);
  return out.items;
}

// ---- Parsing, validation and output.

function normalizeTopology(t: ParsedScenario['topology'], baseDir: string): TopologySpec {
  if (t.kind === 'grid') return { ...t, nodes: t.rows * t.cols };
  if (t.kind === 'edges') return { kind: 'edges', file: resolve(baseDir, t.file) };
  return t;
}

/** Validates a plain value (parsed YAML) against the schema and the static checks. */
function validate(raw: unknown, source: string, baseDir: string): Scenario {
  const parsed = scenarioSchema.safeParse(raw);
  if (!parsed.success) throw new ScenarioError('ERR_SCENARIO_INVALID', source, zodIssues(parsed.error, raw));
  const p = parsed.data;
  const flows = p.traffic.flows ?? p.traffic.pairs?.length ?? 20;
  const scenario: Scenario = {
    ...p,
    topology: normalizeTopology(p.topology, baseDir),
    selfHealing: { ...p.selfHealing, detector: p.selfHealing.detector === null ? null : resolve(baseDir, p.selfHealing.detector) },
    traffic: { flows, pairs: p.traffic.pairs, ratePps: p.traffic.ratePps, payloadBytes: p.traffic.payloadBytes, payloadSizes: p.traffic.payloadSizes },
  };
  const issues = semanticIssues(scenario, p.traffic.flows);
  if (issues.length > 0) throw new ScenarioError('ERR_SCENARIO_INVALID', source, issues);
  return scenario;
}

function tooLarge(source: string, bytes: number): ScenarioError {
  return new ScenarioError('ERR_SCENARIO_INVALID', source, [
    { path: '', message: `expected a file of at most ${lim.bytesMax} bytes; got ${bytes} bytes` },
  ]);
}

function parseYaml(text: string, source: string): unknown {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problems = [...doc.errors, ...doc.warnings];
  if (problems.length > 0) {
    throw new ScenarioError(
      'ERR_SCENARIO_INVALID',
      source,
      problems.map((p) => {
        const { line, col } = lineCounter.linePos(p.pos[0]);
        return { path: '', message: `line ${line}, column ${col}: invalid YAML: ${p.message}` };
      }),
    );
  }
  try {
    return doc.toJS();
  } catch (err) {
    // Aliases are resolved here: an undefined anchor or too many aliases throw.
    const message = `invalid YAML: ${(err as Error).message}`;
    throw new ScenarioError('ERR_SCENARIO_INVALID', source, [{ path: '', message }]);
  }
}

/** Parses and validates scenario YAML; `sourceName` labels errors, `baseDir` (default cwd) anchors edge-list paths. */
export function parseScenario(text: string, sourceName: string, baseDir?: string): Scenario {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > lim.bytesMax) throw tooLarge(sourceName, bytes);
  return validate(parseYaml(text, sourceName), sourceName, baseDir ?? process.cwd());
}

/** Reads and validates a scenario file; relative edge-list paths resolve against the file's folder. */
export function loadScenario(path: string): Scenario {
  let text: string;
  try {
    const { size } = statSync(path);
    if (size > lim.bytesMax) throw tooLarge(path, size);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof ScenarioError) throw err;
    const message = `cannot read the scenario file: ${(err as Error).message}`;
    throw new ScenarioError('ERR_SCENARIO_READ', path, [{ path: '', message }]);
  }
  return parseScenario(text, path, dirname(resolve(path)));
}

/** Drops null fields recursively, since YAML input expresses "none" by leaving a key out. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    if (field !== null) out[key] = withoutNulls(field);
  }
  return out;
}

/** The scenario as the plain value its YAML would parse to. */
function toRaw(s: Scenario): Record<string, unknown> {
  const raw = withoutNulls(s) as Record<string, unknown> & { topology: Record<string, unknown> };
  // A grid's node count follows from rows and cols; the file format does not take it.
  if (raw.topology.kind === 'grid') delete raw.topology.nodes;
  return raw;
}

/** Renders a scenario as YAML that `parseScenario` reads back to an equal scenario. */
export function scenarioToYaml(s: Scenario): string {
  const doc = new Document(toRaw(s));
  visit(doc, {
    Seq(_key, node) {
      // Links and pairs read best on one line: `link: [0, 1]`.
      if (node.items.every((item) => isScalar(item))) node.flow = true;
    },
  });
  return doc.toString();
}

/** Applies CLI-style overrides and validates the result as strictly as a file. */
export function applyOverrides(s: Scenario, o: ScenarioOverrides): Scenario {
  const label = `scenario "${s.name}" overrides`;
  const parsed = overridesSchema.safeParse(o);
  if (!parsed.success) throw new ScenarioError('ERR_SCENARIO_INVALID', label, zodIssues(parsed.error, o));
  const { nodes: n, ...rest } = parsed.data;
  const raw = toRaw(s);
  // A key given as undefined means "no override", not "back to the default".
  for (const [key, value] of Object.entries(rest)) if (value !== undefined) raw[key] = value;
  if (n !== undefined) {
    if (s.topology.kind === 'edges') {
      throw new ScenarioError('ERR_SCENARIO_INVALID', label, [
        {
          path: 'nodes',
          message: `expected no nodes override for an edges topology (its file fixes the node count); got ${n}`,
        },
      ]);
    }
    const side = Math.round(Math.sqrt(n));
    raw.topology =
      s.topology.kind === 'grid' ? { kind: 'grid', rows: side, cols: side } : { ...(raw.topology as object), nodes: n };
  }
  return validate(raw, `scenario "${s.name}" with overrides`, process.cwd());
}
