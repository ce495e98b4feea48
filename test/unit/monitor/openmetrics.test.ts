/** The OpenMetrics formatter, its content negotiation, and the exemplar store behind it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import { EchoStats } from '../../../src/echo/stats.js';
import { renderOpenMetrics } from '../../../src/monitor/formats/openmetrics.js';
import { renderPrometheus } from '../../../src/monitor/formats/prometheus.js';
import { prometheusHandler } from '../../../src/monitor/handlers/server-monitor.js';
import type { HttpRequest } from '../../../src/monitor/http.js';
import { prefersOpenMetrics } from '../../../src/monitor/openmetrics-negotiation.js';
import { CONNECTION_DURATION_BOUNDS_S, registerEchoMetrics } from '../../../src/echo/echo-instruments.js';
import { bucketIndex, ExemplarStore, mergeExemplarsByInstrument, mergeExemplarSets } from '../../../src/telemetry/metrics/exemplar-store.js';
import { StatisticsStorage } from '../../../src/telemetry/statistics-storage.js';
import { checkOpenMetrics } from '../../helpers/openmetrics-grammar.js';
import { FIXED_METRICS, FIXED_TIME_MS } from './fixture.js';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const SPAN = 'b7ad6b7169203331';
const FIXED_EXEMPLARS = new Map([
  [
    'tcp-echo.connection.duration_seconds',
    { bounds: [0.001, 0.01], exemplars: [null, { value: 0.009, traceId: TRACE, spanId: SPAN, timestampMs: FIXED_TIME_MS }, null] },
  ],
]);

test('openmetrics: golden text — family names without _total, _created, units as name suffixes, exemplar, # EOF', () => {
  assert.equal(
    renderOpenMetrics(FIXED_METRICS, FIXED_EXEMPLARS),
    [
      '# TYPE target info',
      '# HELP target Target metadata',
      'target_info{service_name="tcp-echo"} 1',
      '# TYPE tcp_echo_sockets_opened counter',
      '# HELP tcp_echo_sockets_opened Connections accepted.',
      'tcp_echo_sockets_opened_total 3',
      'tcp_echo_sockets_opened_created 1700000000',
      '# TYPE tcp_echo_sockets_active gauge',
      '# HELP tcp_echo_sockets_active Connections open now.',
      'tcp_echo_sockets_active 1',
      '# TYPE tcp_echo_sockets_close_reasons counter',
      '# HELP tcp_echo_sockets_close_reasons Closes by reason.',
      'tcp_echo_sockets_close_reasons_total{reason="eof"} 2',
      'tcp_echo_sockets_close_reasons_created{reason="eof"} 1700000000',
      'tcp_echo_sockets_close_reasons_total{reason="reset"} 0',
      'tcp_echo_sockets_close_reasons_created{reason="reset"} 1700000000',
      '# TYPE process_memory_rss_bytes gauge',
      '# UNIT process_memory_rss_bytes bytes',
      '# HELP process_memory_rss_bytes Resident set size.',
      'process_memory_rss_bytes 1048576',
      '# TYPE tcp_echo_connection_duration_seconds histogram',
      '# UNIT tcp_echo_connection_duration_seconds seconds',
      '# HELP tcp_echo_connection_duration_seconds Connection lifetime.',
      'tcp_echo_connection_duration_seconds_bucket{le="0.001"} 3',
      `tcp_echo_connection_duration_seconds_bucket{le="0.01"} 4 # {trace_id="${TRACE}",span_id="${SPAN}"} 0.009 1700000000.123`,
      'tcp_echo_connection_duration_seconds_bucket{le="+Inf"} 4',
      'tcp_echo_connection_duration_seconds_count 4',
      'tcp_echo_connection_duration_seconds_sum 0.012',
      'tcp_echo_connection_duration_seconds_created 1700000000',
      '# EOF',
      '',
    ].join('\n'),
  );
  assert.deepEqual(checkOpenMetrics(renderOpenMetrics(FIXED_METRICS, FIXED_EXEMPLARS)).problems, []);
});

test('openmetrics: the same series names as the Prometheus text (dashboards work on either)', () => {
  const sampleNames = (text: string) =>
    new Set(
      text
        .split('\n')
        .filter((line) => line !== '' && !line.startsWith('#'))
        .map((line) => line.split(/[{ ]/)[0] as string)
        .filter((name) => !name.endsWith('_created')),
    );
  assert.deepEqual(sampleNames(renderOpenMetrics(FIXED_METRICS)), sampleNames(renderPrometheus(FIXED_METRICS)));
});

test('openmetrics: integral le bounds are canonical (1.0), escapes in labels and HELP, exemplars only on their own bounds', () => {
  // The resource is a class instance (structuredClone would drop its methods); the metrics are plain data.
  const metrics = { resource: FIXED_METRICS.resource, scopeMetrics: structuredClone(FIXED_METRICS.scopeMetrics) };
  const histogram = metrics.scopeMetrics[0]!.metrics[4]!;
  assert.equal(histogram.dataPointType, DataPointType.HISTOGRAM);
  (histogram.dataPoints[0]!.value as { buckets: { boundaries: number[] } }).buckets.boundaries = [1, 10];
  (histogram.descriptor as { description: string }).description = 'a "quoted" \\ help\nline';
  (metrics.scopeMetrics[0]!.metrics[2]!.dataPoints[0]!.attributes as Record<string, string>).reason = 'say "hi"\\\n';
  const text = renderOpenMetrics(metrics, FIXED_EXEMPLARS);
  assert.match(text, /^tcp_echo_connection_duration_seconds_bucket\{le="1\.0"\} 3$/m);
  assert.match(text, /^tcp_echo_connection_duration_seconds_bucket\{le="10\.0"\} 4$/m); // bounds differ: no exemplar
  assert.match(text, /^# HELP tcp_echo_connection_duration_seconds a \\"quoted\\" \\\\ help\\nline$/m);
  assert.match(text, /^tcp_echo_sockets_close_reasons_total\{reason="say \\"hi\\"\\\\\\n"\} 2$/m);
  assert.deepEqual(checkOpenMetrics(text).problems, []);
});

test('the grammar checker rejects what Prometheus would: it is not a checker that cannot fail', () => {
  const good = renderOpenMetrics(FIXED_METRICS, FIXED_EXEMPLARS);
  const broken = [
    good.replace('# EOF\n', ''),
    good.replace('# UNIT tcp_echo_connection_duration_seconds seconds', '# UNIT tcp_echo_connection_duration_seconds s'),
    good.replace('tcp_echo_sockets_opened_total 3', 'tcp_echo_sockets_opened 3'),
    good.replace('le="0.01"} 4 #', 'le="0.01"} 2 #'),
    good.replace('0.009 1700000000.123', '0.5 1700000000.123'),
    good.replace('{le="+Inf"} 4', '{le="100.0"} 4'),
    good.replace('# TYPE tcp_echo_sockets_active gauge\n', '# TYPE tcp_echo_sockets_active gauge\n# TYPE tcp_echo_sockets_active gauge\n'),
  ];
  for (const text of broken) assert.notDeepEqual(checkOpenMetrics(text).problems, [], text);
});

test('content negotiation: OpenMetrics only when the client names it with a quality at least that of text/plain', () => {
  // What Prometheus 2.x and 3.x send by default, and with scrape_protocols [OpenMetricsText1.0.0].
  assert.equal(
    prefersOpenMetrics(
      'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
    ),
    true,
  );
  assert.equal(prefersOpenMetrics('application/openmetrics-text;version=1.0.0;q=0.5,*/*;q=0.1'), true);
  // Prometheus 3's default, with its escaping parameter.
  assert.equal(
    prefersOpenMetrics(
      'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,' +
        'text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2',
    ),
    true,
  );
  assert.equal(prefersOpenMetrics('application/openmetrics-text'), true);
  assert.equal(prefersOpenMetrics(['text/plain;q=0.2', 'application/openmetrics-text; version="0.0.1"']), true);
  for (const classic of [
    undefined,
    '',
    '*/*',
    'text/plain;version=0.0.4;q=1,*/*;q=0.1',
    'text/plain, application/openmetrics-text;q=0.5',
    'application/openmetrics-text;q=0',
    'application/openmetrics-text;version=2.0.0',
    'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited',
  ]) {
    assert.equal(prefersOpenMetrics(classic), false, String(classic));
  }
});

test('exemplar store: latest per bucket, the SDK bucket rule, fixed memory, merge keeps the latest', () => {
  const bounds = [0.001, 0.01, 1];
  assert.deepEqual([0, 0.001, 0.0010001, 0.01, 0.5, 1, 1.5].map((v) => bucketIndex(bounds, v)), [0, 0, 1, 1, 2, 2, 3]);
  const store = new ExemplarStore(bounds);
  assert.deepEqual(store.snapshot(), { bounds, exemplars: [null, null, null, null] });
  store.record(0.005, 'a'.repeat(32), '1'.repeat(16), 1000);
  store.record(0.006, 'b'.repeat(32), '2'.repeat(16), 2000);
  store.record(5, 'c'.repeat(32), '3'.repeat(16), 3000);
  for (let i = 0; i < 10_000; i++) store.record(0.0001, 'd'.repeat(32), '4'.repeat(16), 4000 + i);
  const snapshot = store.snapshot();
  assert.equal(snapshot.exemplars.length, bounds.length + 1);
  assert.deepEqual(snapshot.exemplars, [
    { value: 0.0001, traceId: 'd'.repeat(32), spanId: '4'.repeat(16), timestampMs: 13_999 },
    { value: 0.006, traceId: 'b'.repeat(32), spanId: '2'.repeat(16), timestampMs: 2000 },
    null,
    { value: 5, traceId: 'c'.repeat(32), spanId: '3'.repeat(16), timestampMs: 3000 },
  ]);
  const other = new ExemplarStore(bounds);
  other.record(0.007, 'e'.repeat(32), '5'.repeat(16), 1500); // older than b: loses
  other.record(0.5, 'f'.repeat(32), '6'.repeat(16), 1);
  const merged = mergeExemplarSets([snapshot, other.snapshot(), new ExemplarStore([1, 2]).snapshot()]);
  assert.equal(merged?.exemplars[1]?.traceId, 'b'.repeat(32));
  assert.equal(merged?.exemplars[2]?.traceId, 'f'.repeat(32));
  assert.equal(mergeExemplarSets([]), undefined);
  // By instrument (cluster mode: the primary's own and each worker's pairs): one set per name.
  const byName = mergeExemplarsByInstrument([[['h', snapshot]], [['h', other.snapshot()], ['g', other.snapshot()]], []]);
  assert.deepEqual([...byName.keys()].sort(), ['g', 'h']);
  assert.deepEqual(byName.get('h'), mergeExemplarSets([snapshot, other.snapshot()]));
});

const scrape = (accept: string | undefined): HttpRequest => ({
  method: 'GET',
  path: '/metrics',
  query: new URLSearchParams(),
  pathParams: {},
  headers: accept === undefined ? {} : { accept },
  body: Buffer.alloc(0),
});

test('/metrics: a sampled connection leaves its span ids as the bucket exemplar; an unsampled one leaves none', async (t) => {
  const storage = new StatisticsStorage({ serviceName: 'tcp-echo' });
  t.after(() => storage.stop());
  const stats = new EchoStats();
  registerEchoMetrics(storage, stats);
  assert.deepEqual(CONNECTION_DURATION_BOUNDS_S.slice(0, 3), [0.001, 0.0025, 0.005]);
  stats.recordDuration(0.003, { sampled: true, traceId: TRACE, spanId: SPAN });
  stats.recordDuration(0.0004, {}); // not sampled: counted, no exemplar
  stats.recordDuration(0.0002); // no trace at all

  const response = await prometheusHandler(storage)(scrape('application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5'));
  assert.equal(response.headers?.['content-type'], 'application/openmetrics-text; version=1.0.0; charset=utf-8');
  assert.equal(response.headers?.vary, 'Accept');
  const check = checkOpenMetrics(String(response.body));
  assert.deepEqual(check.problems, []);
  const buckets = check.samples.filter((s) => s.name === 'tcp_echo_connection_duration_seconds_bucket');
  assert.deepEqual(
    buckets.filter((s) => s.exemplar !== undefined).map((s) => [s.labels.le, s.value, s.exemplar?.labels, s.exemplar?.value]),
    [['0.005', 3, { trace_id: TRACE, span_id: SPAN }, 0.003]],
  );
  assert.equal(buckets.find((s) => s.labels.le === '0.001')?.value, 2);

  const classic = await prometheusHandler(storage)(scrape(undefined));
  assert.doesNotMatch(String(classic.body), /trace_id|# EOF|_created/);
});
