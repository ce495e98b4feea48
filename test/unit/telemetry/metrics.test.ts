/**
 * statistics-storage with real instruments: the metric set and its Prometheus names as the
 * Prometheus formatter renders them, reset semantics, the duration histogram, and shutdown.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { registerEchoInstruments } from '../../../src/echo/echo-instruments.js';
import { EchoStats } from '../../../src/echo/stats.js';
import { registerLogInstruments } from '../../../src/log/log-instruments.js';
import { renderJson } from '../../../src/monitor/formats/json.js';
import { renderPrometheus } from '../../../src/monitor/formats/prometheus.js';
import { StatisticsStorage } from '../../../src/telemetry/statistics-storage.js';
import type { MetricPoint } from '../../../src/telemetry/metrics/snapshot.js';

/** JSON path → [type, Prometheus name, Prometheus type]: the fixed metric set of the service. */
const METRIC_SET: ReadonlyArray<[string, string, string, string]> = [
  ['tcp-echo.sockets.opened', 'RATE', 'tcp_echo_sockets_opened_total', 'counter'],
  ['tcp-echo.sockets.closed', 'RATE', 'tcp_echo_sockets_closed_total', 'counter'],
  ['tcp-echo.sockets.active', 'GAUGE', 'tcp_echo_sockets_active', 'gauge'],
  ['tcp-echo.sockets.close-reasons', 'RATE', 'tcp_echo_sockets_close_reasons_total', 'counter'],
  ['tcp-echo.bytes.read', 'RATE', 'tcp_echo_bytes_read_total', 'counter'],
  ['tcp-echo.bytes.written', 'RATE', 'tcp_echo_bytes_written_total', 'counter'],
  ['tcp-echo.connection.duration', 'HIST_RATE', 'tcp_echo_connection_duration_seconds', 'histogram'],
  ['tcp-echo.backpressure.pauses', 'RATE', 'tcp_echo_backpressure_pauses_total', 'counter'],
  ['tcp-echo.backpressure.buffered-bytes', 'GAUGE', 'tcp_echo_backpressure_buffered_bytes', 'gauge'],
  ['logger.lines.written', 'RATE', 'logger_lines_written_total', 'counter'],
  ['logger.lines.dropped', 'RATE', 'logger_lines_dropped_total', 'counter'],
  ['process.memory.rss', 'GAUGE', 'process_memory_rss_bytes', 'gauge'],
  ['process.cpu.time', 'RATE', 'process_cpu_time_seconds_total', 'counter'],
  ['process.open-fds', 'GAUGE', 'process_open_fds', 'gauge'],
  ['process.uptime', 'GAUGE', 'process_uptime_seconds', 'gauge'],
  ['engine.event-loop.delay.p50', 'GAUGE', 'engine_event_loop_delay_p50_seconds', 'gauge'],
  ['engine.event-loop.delay.p99', 'GAUGE', 'engine_event_loop_delay_p99_seconds', 'gauge'],
  ['engine.event-loop.utilization', 'GAUGE', 'engine_event_loop_utilization', 'gauge'],
];

function newStorage(t: TestContext): { storage: StatisticsStorage; stats: EchoStats } {
  const storage = new StatisticsStorage({ serviceName: 'unit' });
  storage.register((meter) => registerLogInstruments(meter, () => ({ written: { info: 4, error: 1 }, dropped: 2 })));
  const stats = new EchoStats();
  storage.register((meter) => registerEchoInstruments(meter, stats));
  t.after(() => storage.stop());
  return { storage, stats };
}

const find = (points: readonly MetricPoint[], path: string, labels: Record<string, string> = {}) =>
  points.find((p) => p.path === path && JSON.stringify(p.labels) === JSON.stringify(labels));

test('every metric of the set exists with its type, Prometheus name, TYPE and HELP', async (t) => {
  const { storage, stats } = newStorage(t);
  // A histogram has points once something was recorded (OpenTelemetry reports no empty series).
  stats.recordDuration(0.01);
  const { points } = await storage.snapshot();
  const text = renderPrometheus(await storage.collect());
  for (const [path, type, promName, promType] of METRIC_SET) {
    const point = points.find((p) => p.path === path);
    assert.ok(point, `JSON path ${path}`);
    assert.equal(point.type, type, `type of ${path}`);
    assert.match(text, new RegExp(`^# TYPE ${promName} ${promType}$`, 'm'), `Prometheus TYPE of ${promName}`);
    assert.match(text, new RegExp(`^# HELP ${promName} \\S`, 'm'), `Prometheus HELP of ${promName}`);
  }
  assert.match(text, /^target_info\{(?:[^}]*,)?service_name="unit"[,}]/m);
  assert.doesNotMatch(text, /otel_scope_name/);
  assert.doesNotMatch(renderJson(await storage.snapshot()), /service\.name|otel\.scope/);
});

test('echo counters are read from EchoStats at collection time, live sockets included', async (t) => {
  const { storage, stats } = newStorage(t);
  const server = net.createServer((s) => s.pipe(s));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await once(client, 'connect');
  t.after(() => client.destroy());
  client.write('hello');
  await once(client, 'data');
  // The client socket stands in for an accepted one: it has read 5 and written 5 bytes.
  stats.live.add(client);
  stats.opened = 3;
  stats.closed = 2;
  stats.closeReasons.eof = 1;
  stats.closeReasons.reset = 1;
  stats.closedBytesRead = 100;
  stats.backpressurePauses = 7;
  const { points } = await storage.snapshot();
  assert.equal(find(points, 'tcp-echo.sockets.opened')?.value, 3);
  assert.equal(find(points, 'tcp-echo.sockets.closed')?.value, 2);
  assert.equal(find(points, 'tcp-echo.sockets.active')?.value, 1);
  assert.equal(find(points, 'tcp-echo.sockets.close-reasons', { reason: 'reset' })?.value, 1);
  assert.equal(find(points, 'tcp-echo.sockets.close-reasons', { reason: 'rejected' })?.value, 0);
  assert.equal(find(points, 'tcp-echo.bytes.read')?.value, 105);
  assert.equal(find(points, 'tcp-echo.bytes.written')?.value, 5);
  assert.equal(find(points, 'tcp-echo.backpressure.pauses')?.value, 7);
  assert.equal(find(points, 'logger.lines.written', { level: 'error' })?.value, 1);
  assert.equal(find(points, 'logger.lines.dropped')?.value, 2);
  assert.ok((find(points, 'process.memory.rss')?.value as number) > 1024 * 1024);
  assert.ok((find(points, 'process.open-fds')?.value as number) >= 3);
});

test('recordDuration feeds the histogram: 1 ms .. 1 h bounds, per-bucket counts, overflow in inf', async (t) => {
  const { storage, stats } = newStorage(t);
  stats.recordDuration(0.0005);
  stats.recordDuration(0.2);
  stats.recordDuration(7200);
  const value = find((await storage.snapshot()).points, 'tcp-echo.connection.duration')?.value;
  assert.ok(value && typeof value === 'object');
  assert.equal(value.bounds[0], 0.001);
  assert.equal(value.bounds.at(-1), 3600);
  assert.equal(value.buckets[0], 1);
  assert.equal(value.buckets[value.bounds.indexOf(0.25)], 1);
  assert.equal(value.inf, 1);
  assert.match(renderPrometheus(await storage.collect()), /^tcp_echo_connection_duration_seconds_count 3$/m);
});

test('reset: JSON RATE and HIST_RATE restart from zero, gauges do not; Prometheus counters stay monotonic', async (t) => {
  const { storage, stats } = newStorage(t);
  stats.opened = 10;
  stats.closeReasons.eof = 4;
  stats.recordDuration(0.2);
  const fakeLive = net.connect({ port: 1, host: '127.0.0.1' });
  fakeLive.on('error', () => {});
  t.after(() => fakeLive.destroy());
  stats.live.add(fakeLive);
  await storage.resetMetrics();
  let points = (await storage.snapshot()).points;
  assert.equal(find(points, 'tcp-echo.sockets.opened')?.value, 0);
  assert.equal(find(points, 'tcp-echo.sockets.close-reasons', { reason: 'eof' })?.value, 0);
  assert.equal(find(points, 'tcp-echo.sockets.active')?.value, 1, 'a gauge of current state is not reset');
  const hist = find(points, 'tcp-echo.connection.duration')?.value;
  assert.ok(hist && typeof hist === 'object' && hist.buckets.every((c) => c === 0) && hist.inf === 0);

  stats.opened = 12;
  stats.recordDuration(0.2);
  points = (await storage.snapshot()).points;
  assert.equal(find(points, 'tcp-echo.sockets.opened')?.value, 2);
  const after = find(points, 'tcp-echo.connection.duration')?.value;
  assert.ok(after && typeof after === 'object' && after.buckets.reduce((a, b) => a + b, 0) === 1);
  const text = renderPrometheus(await storage.collect());
  assert.match(text, /^tcp_echo_sockets_opened_total 12$/m);
  assert.match(text, /^tcp_echo_connection_duration_seconds_count 2$/m);
});

test('stop(): safe twice; the echo stats are released', async (t) => {
  const { storage, stats } = newStorage(t);
  const recordBefore = stats.recordDuration;
  await Promise.all([storage.stop(), storage.stop()]);
  await storage.stop();
  assert.notEqual(stats.recordDuration, recordBefore);
  assert.doesNotThrow(() => stats.recordDuration(1));
});

test('event-loop sampler: a blocked loop shows up in p99 and utilisation; samples within the interval are reused', async (t) => {
  const { EventLoopSampler } = await import('../../../src/telemetry/metrics/runtime-instruments.js');
  const sampler = new EventLoopSampler(200);
  t.after(() => sampler.stop());
  sampler.sample();
  await new Promise((r) => setTimeout(r, 250));
  // Block the loop for 120 ms in a few slices so the 10 ms delay timer records the lateness.
  for (let i = 0; i < 3; i++) {
    const until = Date.now() + 40;
    while (Date.now() < until) {
      // busy on purpose
    }
    await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setTimeout(r, 220));
  const [p50, p99, utilization] = sampler.sample();
  assert.ok(p99 >= 0.02 && p99 < 5, `p99 ${p99}`);
  assert.ok(p50 >= 0 && p50 <= p99, `p50 ${p50}`);
  assert.ok(utilization > 0.1 && utilization <= 1, `utilization ${utilization}`);
  assert.deepEqual(sampler.sample(), [p50, p99, utilization], 'reused within the interval');
});

test("the Prometheus text is exactly what OpenTelemetry's own serializer writes for the same collection", async (t) => {
  const { PrometheusSerializer } = await import('@opentelemetry/exporter-prometheus');
  const { storage, stats } = newStorage(t);
  stats.opened = 7;
  stats.closeReasons.reset = 2;
  stats.recordDuration(0.2);
  stats.recordDuration(7200);
  // Escaping and sanitising: a description with a newline and a backslash, a label value with quotes.
  const odd = storage.meter.createCounter('odd.name-with-dash', { description: 'line one\nline \\ two' });
  odd.add(1.5, { 'label-name': 'say "hi"\n' });
  const collection = await storage.collect();
  // The options the exporter was used with before: no prefix, no timestamps, no resource labels on
  // the series, target_info, no otel_scope_* labels.
  const expected = new PrometheusSerializer(undefined, false, undefined, false, true).serialize(collection);
  assert.equal(renderPrometheus(collection), expected);
});
