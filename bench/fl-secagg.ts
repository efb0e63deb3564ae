import { ed25519PublicKey } from '../src/crypto/curve25519.js';
import { cryptoNoiseSource, seededNoiseSource } from '../src/fl/dp/noise.js';
import { secAggClientId, type SecAggClientId } from '../src/fl/secagg/config.js';
import { planSecAgg } from '../src/fl/secagg/plan.js';
import { shuffled } from '../src/fl/secagg/random.js';
import { simulateSecAgg, type DropoutRound, type SimulatedClient } from '../src/fl/secagg/simulate.js';

/** The setting: 100 clients, the detector's 46,103 parameters, 10 % dropouts after masking. */
const clientCount = 100;
const dimension = 46_103;
const dropoutCount = 10;
const thresholdFraction = 0.6;
/** Updates are drawn uniformly from [-0.5, 0.5]; the clip range c = 1 leaves them unclipped. */
const clipRange = 1;
const inputHalfWidth = 0.5;

/** CPU time of this process in ms (user + system): other processes on the machine do not inflate it. */
function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function round(value: number, digits = 4): number {
  return Number(value.toPrecision(digits));
}

/** Seeded identities and inputs (reproducible), so only the protocol's own secrets come from the CSPRNG. */
function population(count: number, length: number): { clients: SimulatedClient[]; roster: Map<SecAggClientId, Uint8Array> } {
  const source = seededNoiseSource('fl-secagg bench');
  const clients: SimulatedClient[] = [];
  const roster = new Map<SecAggClientId, Uint8Array>();
  for (let index = 0; index < count; index++) {
    const id = secAggClientId(index);
    const signingKey = new Uint8Array(32);
    source.fill(signingKey);
    const words = new Uint32Array(length);
    source.fill(new Uint8Array(words.buffer));
    clients.push({ id, signingKey, input: Float32Array.from(words, (word) => (word / 2 ** 32 - 0.5) * 2 * inputHalfWidth) });
    roster.set(id, ed25519PublicKey(signingKey));
  }
  return { clients, roster };
}

/** One aggregation of `count` clients of `length` parameters with `dropped` of them gone after sharing their keys. */
function aggregate(count: number, length: number, dropped: number) {
  const { clients, roster } = population(count, length);
  const members = clients.map((client) => client.id);
  const config = planSecAgg({ sessionId: new Uint8Array(32).fill(7), roster, members, dimension: length, clipRange, thresholdFraction, random: seededNoiseSource('fl-secagg graph') });
  const dropouts = new Map<SecAggClientId, DropoutRound>(shuffled(members, seededNoiseSource('fl-secagg dropouts')).slice(0, dropped).map((id) => [id, 2]));
  const report = simulateSecAgg({ config, clients, randomFor: () => cryptoNoiseSource(), dropouts, clockMs: cpuMs });
  const plain = new Float64Array(length);
  for (const client of clients) if (!dropouts.has(client.id)) for (let index = 0; index < length; index++) plain[index]! += client.input[index]!;
  let maxError = 0;
  for (let index = 0; index < length; index++) maxError = Math.max(maxError, Math.abs(report.result.sum[index]! - plain[index]!));
  return { config, report, dropouts, maxError };
}

/** SecAgg+ at the size: the recovered sum against the plain sum, CPU per client and server, bytes per client. */
export async function run(): Promise<{ figures: Record<string, number | null>; details: unknown }> {
  // A small run first, so the measured one does not pay for JIT compilation and OpenSSL start-up.
  aggregate(20, 1000, 2);
  const { config, report, dropouts, maxError } = aggregate(clientCount, dimension, dropoutCount);
  const survivors = report.result.survivors;
  const survivorTraffic = survivors.map((id) => report.clients.get(id)!);
  const clientCpu = survivorTraffic.map((traffic) => traffic.cpuMs);
  const bytes = survivorTraffic.map((traffic) => traffic.sentBytes + traffic.receivedBytes);
  const k = config.graph.get(survivors[0]!)!.length;
  const figures = {
    maxAbsErrorVsPlainSum: maxError,
    quantisationBound: report.result.errorBound,
    clientCpuMsPerRound: round(median(clientCpu)),
    serverCpuMsPerRound: round(report.serverCpuMs),
    bytesPerClientPerRound: median(bytes),
    dropouts: dropouts.size,
    // The names the issue lists for this bench, same values.
    clientCpuMs: round(median(clientCpu)),
    serverCpuMs: round(report.serverCpuMs),
    bytesPerClient: median(bytes),
  };
  const details = {
    setting: {
      clients: clientCount,
      dimension,
      neighbourCount: k,
      neighbourRule: 'k = suggestedNeighbourCount(n) = min(n - 1, 2 ceil(1.5 log2 n))',
      threshold: config.threshold,
      thresholdRule: `t = thresholdFor(k, ${thresholdFraction}) = max(ceil(${thresholdFraction} k), floor(k / 2) + 1)`,
      dropouts: `${dropouts.size} clients chosen by a seeded shuffle drop after round 1 (ShareKeys): their pairwise masks are in their neighbours' inputs and are removed from their rebuilt mask keys`,
      quantisation: { ...config.quantisation, ring: 'Z / 2^32', bound: 'survivors x 2^-(s+1)' },
      inputs: `uniform in [-${inputHalfWidth}, ${inputHalfWidth}] (float32), none clipped`,
    },
    survivors: survivors.length,
    withinBound: maxError <= report.result.errorBound,
    clientCpuMs: { median: round(median(clientCpu)), p10: round(quantile(clientCpu, 0.1)), p90: round(quantile(clientCpu, 0.9)), max: round(Math.max(...clientCpu)) },
    clientBytes: {
      median: median(bytes),
      sentMedian: median(survivorTraffic.map((traffic) => traffic.sentBytes)),
      receivedMedian: median(survivorTraffic.map((traffic) => traffic.receivedBytes)),
      plainUploadBytes: 4 * dimension,
      expansion: round(median(bytes) / (4 * dimension)),
    },
    timing: 'process CPU time (user + system, process.cpuUsage) around each party\'s calls, one thread, all parties in one process; randomness from the CSPRNG',
  };
  return await Promise.resolve({ figures, details });
}
