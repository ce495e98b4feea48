/**
 * Micro-benchmark of the once-per-connection duration record with and without an exemplar:
 * `stats.recordDuration` as the echo connection calls it at close, on the real StatisticsStorage
 * (OpenTelemetry histogram + exemplar store). CPU time per call from `process.cpuUsage()`, rounds
 * alternating between the variants so a busy machine slows all of them alike; the median round wins.
 *
 *   npx tsx bench/micro/exemplar-record.ts [calls-per-round] [rounds]
 */
import { registerEchoMetrics } from '../../src/echo/echo-instruments.js';
import { EchoStats, type SpanIds } from '../../src/echo/stats.js';
import { StatisticsStorage } from '../../src/telemetry/statistics-storage.js';

const calls = Number(process.argv[2] ?? 200_000);
const rounds = Number(process.argv[3] ?? 15);

const storage = new StatisticsStorage({ serviceName: 'bench' });
const stats = new EchoStats();
registerEchoMetrics(storage, stats);

// Durations spread over the buckets, as real connections are; ids as the tracer draws them.
const durations = Array.from({ length: 1024 }, (_, i) => 0.0005 * 1.01 ** i);
const sampled: SpanIds[] = durations.map((_, i) => ({
  traceId: i.toString(16).padStart(32, 'a'),
  spanId: i.toString(16).padStart(16, 'b'),
}));
const unsampled: SpanIds = {};

const variants: Record<string, () => void> = {
  'no trace (tracing off)': () => {
    for (let i = 0; i < calls; i++) stats.recordDuration(durations[i & 1023] as number);
  },
  'unsampled connection': () => {
    for (let i = 0; i < calls; i++) stats.recordDuration(durations[i & 1023] as number, unsampled);
  },
  'sampled connection (exemplar kept)': () => {
    for (let i = 0; i < calls; i++) stats.recordDuration(durations[i & 1023] as number, sampled[i & 1023]);
  },
};

const results = new Map<string, number[]>(Object.keys(variants).map((name) => [name, []]));
for (const run of Object.values(variants)) run(); // warm-up: JIT and the histogram's first point
for (let round = 0; round < rounds; round++) {
  for (const [name, run] of Object.entries(variants)) {
    const before = process.cpuUsage();
    run();
    const used = process.cpuUsage(before);
    results.get(name)!.push(((used.user + used.system) * 1000) / calls); // ns per call
  }
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
console.log(`recordDuration, ${calls} calls x ${rounds} rounds, CPU ns per call (median round):`);
const base = median(results.get('no trace (tracing off)')!);
for (const [name, values] of results) {
  const ns = median(values);
  console.log(`  ${name.padEnd(36)} ${ns.toFixed(1).padStart(7)} ns  (${ns - base >= 0 ? '+' : ''}${(ns - base).toFixed(1)} ns vs no trace)`);
}
console.log(`exemplar store: ${JSON.stringify(storage.exemplars().get('tcp-echo.connection.duration_seconds')?.exemplars.filter((e) => e !== null).length)} buckets hold one`);
await storage.stop();
