/**
 * statistics-storage in cluster mode: with the cluster's collector (src/cluster/worker-metrics.ts)
 * every view (JSON, Prometheus, reset) shows this process's metrics merged with those of other
 * processes' storages, each collected through its own `collect()`.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { ScopeMetrics } from '@opentelemetry/sdk-metrics';
import { WorkerMetrics } from '../../../src/cluster/worker-metrics.js';
import { registerEchoInstruments } from '../../../src/echo/echo-instruments.js';
import { EchoStats } from '../../../src/echo/stats.js';
import { getLogger } from '../../../src/log/index.js';
import { registerLogInstruments } from '../../../src/log/log-instruments.js';
import { renderPrometheus } from '../../../src/monitor/formats/prometheus.js';
import { StatisticsStorage } from '../../../src/telemetry/statistics-storage.js';

function storage(t: TestContext): { storage: StatisticsStorage; stats: EchoStats } {
  const s = new StatisticsStorage({ serviceName: 'unit' });
  s.register((meter) => registerLogInstruments(meter, () => ({ written: { info: 1 }, dropped: 0 })));
  const stats = new EchoStats();
  s.register((meter) => registerEchoInstruments(meter, stats));
  t.after(() => s.stop());
  return { storage: s, stats };
}

const json = async (s: StatisticsStorage, path: string) =>
  (await s.snapshot()).points.find((p) => p.path === path && Object.keys(p.labels).length === 0)?.value;

test('a primary without echo stats shows the sum of its workers; reset applies to the merged view', async (t) => {
  const primary = new StatisticsStorage({ serviceName: 'unit' });
  t.after(() => primary.stop());
  const a = storage(t);
  const b = storage(t);
  a.stats.opened = 3;
  a.stats.closedBytesRead = 100;
  b.stats.opened = 4;
  b.stats.closedBytesRead = 50;
  a.stats.recordDuration(0.002);
  b.stats.recordDuration(0.002);
  // The cluster's collector, with two in-process storages standing in for the workers' answers.
  let calls = 0;
  const workers = new WorkerMetrics([], () => {}, getLogger('test'));
  workers.gather = async () => {
    calls++;
    return [(await a.storage.collect()).scopeMetrics, (await b.storage.collect()).scopeMetrics];
  };
  primary.setCollector(workers.collector);

  assert.equal(await json(primary, 'tcp-echo.sockets.opened'), 7);
  assert.equal(await json(primary, 'tcp-echo.bytes.read'), 150);
  const text = renderPrometheus(await primary.collect());
  assert.match(text, /^tcp_echo_sockets_opened_total 7$/m);
  assert.match(text, /^tcp_echo_connection_duration_seconds_count 2$/m);
  assert.match(text, /^logger_lines_written_total\{level="info"\} 2$/m);

  await primary.resetMetrics();
  assert.equal(await json(primary, 'tcp-echo.sockets.opened'), 0);
  b.stats.opened += 2;
  assert.equal(await json(primary, 'tcp-echo.sockets.opened'), 2);
  // Prometheus counters are never offset by a reset.
  assert.match(renderPrometheus(await primary.collect()), /^tcp_echo_sockets_opened_total 9$/m);

  // Concurrent requests share one collection round.
  const before = calls;
  await Promise.all([primary.snapshot(), primary.collect(), primary.snapshot()]);
  assert.equal(calls - before, 1);
});

test('one process alone is unchanged by the cluster code: no collector, no merge', async (t) => {
  const { storage: s, stats } = storage(t);
  stats.opened = 5;
  assert.equal(await json(s, 'tcp-echo.sockets.opened'), 5);
  const local: ScopeMetrics[] = (await s.collect()).scopeMetrics;
  assert.ok(local.some((scope) => scope.metrics.some((m) => m.descriptor.name === 'tcp-echo.sockets.opened')));
});
