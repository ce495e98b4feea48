/**
 * Merging the same instruments collected in several processes (cluster mode): real collections
 * from real MeterProviders, merged, then rendered through the real JSON snapshot and Prometheus
 * serializer.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MeterProvider, type ScopeMetrics } from '@opentelemetry/sdk-metrics';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { mergeHistograms, mergeScopeMetrics, monotonicPart } from '../../../src/telemetry/metrics/merge.js';
import { gaugeMergeOf } from '../../../src/telemetry/metrics/runtime-instruments.js';
import { toSnapshot, type HistogramValue } from '../../../src/telemetry/metrics/snapshot.js';
import { renderPrometheus } from '../../../src/monitor/formats/prometheus.js';

interface Values {
  opened: number;
  active: number;
  uptime: number;
  reasons: Record<string, number>;
  durations: number[];
}

/** One "process": a provider with the shapes tcp-echo uses (observable counter, up-down, gauge, histogram). */
async function collect(values: Values): Promise<{ scopeMetrics: ScopeMetrics[]; resource: unknown }> {
  const reader = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true });
  const provider = new MeterProvider({ readers: [reader] });
  const meter = provider.getMeter('tcp-echo');
  meter.createObservableCounter('tcp-echo.sockets.opened').addCallback((r) => r.observe(values.opened));
  meter.createObservableUpDownCounter('tcp-echo.sockets.active').addCallback((r) => r.observe(values.active));
  meter.createObservableGauge('process.uptime_seconds').addCallback((r) => r.observe(values.uptime));
  meter.createObservableCounter('tcp-echo.sockets.close-reasons').addCallback((r) => {
    for (const [reason, n] of Object.entries(values.reasons)) r.observe(n, { reason });
  });
  const histogram = meter.createHistogram('tcp-echo.connection.duration_seconds', {
    advice: { explicitBucketBoundaries: [0.01, 0.1, 1] },
  });
  for (const d of values.durations) histogram.record(d);
  const { resourceMetrics } = await reader.collect();
  await provider.shutdown();
  return { scopeMetrics: resourceMetrics.scopeMetrics, resource: resourceMetrics.resource };
}

test('counters sum, up-down gauges sum, uptime takes the max, histograms merge bucket-wise, labels stay apart', async () => {
  const a = await collect({ opened: 3, active: 1, uptime: 50, reasons: { eof: 2, reset: 1 }, durations: [0.005, 0.5] });
  const b = await collect({ opened: 4, active: 2, uptime: 20, reasons: { eof: 4 }, durations: [0.05, 5, 0.005] });
  const merged = mergeScopeMetrics([a.scopeMetrics, b.scopeMetrics], { gaugeMerge: gaugeMergeOf });
  const { points } = toSnapshot({ resource: a.resource as never, scopeMetrics: merged }, 0);
  const value = (path: string, labels: Record<string, string> = {}) =>
    points.find((p) => p.path === path && JSON.stringify(p.labels) === JSON.stringify(labels))?.value;
  assert.equal(value('tcp-echo.sockets.opened'), 7);
  assert.equal(value('tcp-echo.sockets.active'), 3);
  assert.equal(value('process.uptime'), 50);
  assert.equal(value('tcp-echo.sockets.close-reasons', { reason: 'eof' }), 6);
  assert.equal(value('tcp-echo.sockets.close-reasons', { reason: 'reset' }), 1);
  const histogram = value('tcp-echo.connection.duration') as HistogramValue;
  assert.deepEqual(histogram, { bounds: [0.01, 0.1, 1], buckets: [2, 1, 1], inf: 1 });

  const text = renderPrometheus({ resource: a.resource as never, scopeMetrics: merged });
  assert.match(text, /^tcp_echo_sockets_opened_total 7$/m);
  assert.match(text, /^tcp_echo_connection_duration_seconds_count 5$/m);
  assert.match(text, /^tcp_echo_connection_duration_seconds_bucket\{le="\+Inf"\} 5$/m);
  // One series per name: a merged view never repeats a metric (promtool would reject it).
  assert.equal(text.match(/^# TYPE tcp_echo_sockets_opened_total counter$/gm)?.length, 1);
});

test('the inputs are left as they were', async () => {
  const a = await collect({ opened: 1, active: 1, uptime: 1, reasons: {}, durations: [0.5] });
  const before = JSON.stringify(a.scopeMetrics);
  mergeScopeMetrics([a.scopeMetrics, a.scopeMetrics, a.scopeMetrics]);
  assert.equal(JSON.stringify(a.scopeMetrics), before);
});

test('monotonicPart keeps RATE counters and histograms and drops gauges (what a dead worker leaves behind)', async () => {
  const a = await collect({ opened: 5, active: 2, uptime: 9, reasons: { eof: 5 }, durations: [0.5] });
  const names = monotonicPart(a.scopeMetrics).flatMap((s) => s.metrics.map((m) => m.descriptor.name)).sort();
  assert.deepEqual(names, ['tcp-echo.connection.duration_seconds', 'tcp-echo.sockets.close-reasons', 'tcp-echo.sockets.opened']);
});

test('histograms with different bounds are not merged, and the caller is told', () => {
  const h = (boundaries: number[], counts: number[]) => ({ buckets: { boundaries, counts }, count: counts.reduce((x, y) => x + y), sum: 1 });
  assert.equal(mergeHistograms(h([1, 2], [1, 0, 0]), h([1, 3], [1, 0, 0])), undefined);
  const merged = mergeHistograms({ ...h([1, 2], [1, 0, 0]), min: 0.5, max: 0.5 }, { ...h([1, 2], [0, 0, 2]), min: 4, max: 7 });
  assert.deepEqual(merged, { buckets: { boundaries: [1, 2], counts: [1, 0, 2] }, count: 3, sum: 2, min: 0.5, max: 7 });
  // An empty side contributes no min/max, even when it carries ±Infinity.
  const empty = { buckets: { boundaries: [1, 2], counts: [0, 0, 0] }, count: 0, sum: 0, min: Infinity, max: -Infinity };
  assert.deepEqual(mergeHistograms(empty, { ...h([1, 2], [0, 1, 0]), min: 1.5, max: 1.5 })?.min, 1.5);
});

test('a gauge present in one process only keeps its value; the first collection order is kept', async () => {
  const a = await collect({ opened: 1, active: 0, uptime: 3, reasons: {}, durations: [] });
  const extra: ScopeMetrics[] = [
    {
      scope: a.scopeMetrics[0]!.scope,
      metrics: [{ ...a.scopeMetrics[0]!.metrics[0]!, descriptor: { ...a.scopeMetrics[0]!.metrics[0]!.descriptor, name: 'only.here' } }],
    },
  ];
  const merged = mergeScopeMetrics([a.scopeMetrics, extra]);
  const names = merged[0]!.metrics.map((m) => m.descriptor.name);
  assert.deepEqual(names.slice(0, a.scopeMetrics[0]!.metrics.length), a.scopeMetrics[0]!.metrics.map((m) => m.descriptor.name));
  assert.equal(names.at(-1), 'only.here');
});
