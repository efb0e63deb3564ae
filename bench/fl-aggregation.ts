import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import {
  bulyan,
  centeredClipping,
  createServerState,
  fedAvg,
  krum,
  median,
  multiKrum,
  normBoundedMean,
  serverOptimizer,
  serverStep,
  trimmedMean,
} from '../src/fl/aggregation/index.js';
import { activeKernels } from '../src/fl/aggregation/kernels-wasm.js';

/**
 * Our aggregation rules against numpy doing the same rule on the same sizes, in one run: n in
 * {10, 50} clients, d in {46,103 (the detector), 1,000,000} parameters, float32 standard-normal
 * updates. Each rule runs twice to warm up, then at least `samplesMin` times and until
 * `sampleMsMin` have passed (at most `samplesMax`); a figure is the median sample, which a
 * passing load spike on a shared machine does not move. numpy does the same in a child process
 * (bench/fl-aggregation-numpy.py --serve) right after ours, rule by rule, so that a change in the
 * machine's load between the two measurements stays short.
 */
const sizes: readonly (readonly [number, number])[] = [
  [10, 46_103],
  [50, 46_103],
  [10, 1_000_000],
  [50, 1_000_000],
];
const timing = { warmups: 2, samplesMin: 5, samplesMax: 200, sampleMsMin: 300 } as const;
const beta = 0.2;
const bound = 1000;
const clipTau = 10;
const iterations = 3;
/** Byzantine clients tolerated: Krum needs n > 2f + 2, Bulyan n >= 4f + 3. */
const krumF: Record<number, number> = { 10: 3, 50: 10 };
const bulyanF: Record<number, number> = { 10: 1, 50: 10 };
/** Debian's python3 (python3-numpy) first, as the issue names it; then whatever python3 is on PATH. */
const pythons = ['/usr/bin/python3', 'python3'];

const round = (value: number, digits: number): number => Math.round(value * 10 ** digits) / 10 ** digits;

/** Seeded standard-normal float32 updates (xorshift and Box-Muller): the same distribution numpy draws. */
function updatesOf(n: number, d: number): Float32Array[] {
  let state = (n * 7919 + d) >>> 0 || 1;
  const uniform = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return ((state >>> 0) + 0.5) / 2 ** 32;
  };
  return Array.from({ length: n }, () => {
    const update = new Float32Array(d);
    for (let j = 0; j < d; j++) update[j] = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
    return update;
  });
}

function rules(n: number, d: number): Record<string, (x: Float32Array[]) => unknown> {
  const weights = Float64Array.from({ length: n }, (_, i) => i + 1);
  const state = createServerState(serverOptimizer('fedAdam'), new Float32Array(d));
  return {
    fedAvg: (x) => fedAvg(x, weights),
    fedAdam: (x) => serverStep(state, fedAvg(x, weights)),
    median: (x) => median(x),
    trimmedMean: (x) => trimmedMean(x, beta),
    krum: (x) => krum(x, krumF[n]!),
    multiKrum: (x) => multiKrum(x, krumF[n]!, n - krumF[n]!),
    bulyan: (x) => bulyan(x, bulyanF[n]!),
    normBounding: (x) => normBoundedMean(x, weights, bound),
    centeredClipping: (x) => centeredClipping(x, { tau: clipTau, iterations }),
  };
}

/** The median wall time of `rule` (see `timing`). */
function timeRule(rule: (x: Float32Array[]) => unknown, updates: Float32Array[]): number {
  for (let r = 0; r < timing.warmups; r++) rule(updates);
  const samples: number[] = [];
  const started = performance.now();
  while (samples.length < timing.samplesMax && (samples.length < timing.samplesMin || performance.now() - started < timing.sampleMsMin)) {
    const before = performance.now();
    rule(updates);
    samples.push(performance.now() - before);
  }
  return samples.sort((a, b) => a - b)[samples.length >> 1]!;
}

/** The numpy side, a Python child answering one JSON line per request (see bench/fl-aggregation-numpy.py). */
interface NumpyServer {
  readonly version: string;
  request(message: object): Promise<Record<string, unknown>>;
  close(): void;
}

/** Starts bench/fl-aggregation-numpy.py --serve with the first Python that imports numpy, or returns why none did. */
async function startNumpy(): Promise<NumpyServer | { error: string }> {
  const settings = JSON.stringify({ ...timing, beta, bound, clipTau, iterations, tau: 1e-3, f: krumF, bulyanF });
  let error = 'no python3';
  for (const python of pythons) {
    const child = spawn(python, ['bench/fl-aggregation-numpy.py', '--serve', settings], { stdio: ['pipe', 'pipe', 'pipe'] });
    const server = await connect(child, python).catch((reason: unknown) => reason as Error);
    if (!(server instanceof Error)) return server;
    error = server.message;
  }
  return { error };
}

function connect(child: ChildProcessWithoutNullStreams, python: string): Promise<NumpyServer> {
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const next = async (): Promise<Record<string, unknown>> => {
    const line = await lines.next();
    if (line.done === true) throw new Error(stderr.trim().split('\n').at(-1) ?? `${python} exited`);
    return JSON.parse(line.value) as Record<string, unknown>;
  };
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    next().then((hello) => {
      resolve({
        version: `numpy ${String(hello.numpy)}, Python ${String(hello.python)} (${python})`,
        request: (message) => {
          child.stdin.write(`${JSON.stringify(message)}\n`);
          return next();
        },
        close: () => child.stdin.end(),
      });
    }, reject);
  });
}

interface Row {
  readonly rule: string;
  readonly n: number;
  readonly d: number;
  readonly ms: number;
  readonly numpyMs: number | null;
  readonly speedup: number | null;
}

/** Times every rule at every size, ours then numpy's, and reports per-case figures and the smallest speed-up. */
export async function run(): Promise<{ figures: Record<string, number | null>; details: unknown }> {
  const rows: Row[] = [];
  const numpy = await startNumpy();
  const numpyVersion = 'error' in numpy ? `not measured: ${numpy.error}` : numpy.version;
  for (const [n, d] of sizes) {
    const updates = updatesOf(n, d);
    if (!('error' in numpy)) await numpy.request({ n, d });
    for (const [rule, fn] of Object.entries(rules(n, d))) {
      const ms = timeRule(fn, updates);
      const numpyMs = 'error' in numpy ? null : ((await numpy.request({ rule })).ms as number);
      rows.push({ rule, n, d, ms: round(ms, 2), numpyMs: numpyMs === null ? null : round(numpyMs, 2), speedup: numpyMs === null ? null : round(numpyMs / ms, 2) });
    }
  }
  if (!('error' in numpy)) numpy.close();
  return { figures: figuresOf(rows), details: detailsOf(rows, numpyVersion) };
}

function figuresOf(rows: readonly Row[]): Record<string, number | null> {
  const speedups = rows.map((row) => row.speedup).filter((s): s is number => s !== null);
  const figures: Record<string, number | null> = { speedupVsNumpyMin: speedups.length === rows.length ? Math.min(...speedups) : null };
  for (const row of rows) {
    figures[`${row.rule}_${row.n}x${row.d}_ms`] = row.ms;
    figures[`${row.rule}_${row.n}x${row.d}_numpyMs`] = row.numpyMs;
  }
  const at = (rule: string): Row => rows.find((row) => row.rule === rule && row.n === 50 && row.d === 1_000_000)!;
  for (const rule of ['fedAvg', 'median', 'trimmedMean', 'krum', 'multiKrum', 'bulyan', 'centeredClipping', 'normBounding', 'fedAdam']) {
    const name = rule[0]!.toUpperCase() + rule.slice(1);
    figures[`${rule}MsN50D1M`] = at(rule).ms;
    figures[`numpy${name}MsN50D1M`] = at(rule).numpyMs;
  }
  return figures;
}

function detailsOf(rows: readonly Row[], numpyVersion: string): unknown {
  return {
    kernels: activeKernels().kind,
    numpy: numpyVersion,
    protocol: `float32 standard-normal updates; each rule ${timing.warmups} warm-up runs, then at least ${timing.samplesMin} timed runs and until ${timing.sampleMsMin} ms have passed (at most ${timing.samplesMax}); the figure is the median run; numpy the same, in a child process on the same data sizes, each rule timed right after ours (bench/fl-aggregation-numpy.py --serve); speedup = numpy ms / our ms`,
    settings: { trimmedMeanBeta: beta, krumF, bulyanF, multiKrumM: 'n - f', normBound: bound, centeredClipping: { tau: clipTau, iterations }, fedAdam: 'eta 0.1, beta1 0.9, beta2 0.99, tau 1e-3 over the weighted mean', weights: 'client i has i + 1 examples' },
    table: rows,
  };
}
