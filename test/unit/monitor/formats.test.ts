/** Golden exact-string tests of every /service/monitor format for one fixed collection. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HttpBadRequestError } from '../../../src/errors.js';
import { filterSnapshot, parseLabelsParameter } from '../../../src/monitor/formats/filter.js';
import { renderGraphite } from '../../../src/monitor/formats/graphite.js';
import { renderJson } from '../../../src/monitor/formats/json.js';
import { renderPretty } from '../../../src/monitor/formats/pretty.js';
import { renderPrometheus } from '../../../src/monitor/formats/prometheus.js';
import { metricPath, toSnapshot } from '../../../src/telemetry/metrics/snapshot.js';
import { FIXED_METRICS, FIXED_TIME_MS } from './fixture.js';

const snapshot = toSnapshot(FIXED_METRICS, FIXED_TIME_MS);

test('json: userver shape, sorted paths, labels {} when none, histogram {bounds, buckets, inf}', () => {
  assert.equal(
    renderJson(snapshot),
    '{"process.memory.rss":[{"value":1048576,"labels":{},"type":"GAUGE"}],' +
      '"tcp-echo.connection.duration":[{"value":{"bounds":[0.001,0.01],"buckets":[3,1],"inf":0},"labels":{},"type":"HIST_RATE"}],' +
      '"tcp-echo.sockets.active":[{"value":1,"labels":{},"type":"GAUGE"}],' +
      '"tcp-echo.sockets.close-reasons":[{"value":2,"labels":{"reason":"eof"},"type":"RATE"},' +
      '{"value":0,"labels":{"reason":"reset"},"type":"RATE"}],' +
      '"tcp-echo.sockets.opened":[{"value":3,"labels":{},"type":"RATE"}]}',
  );
});

test('pretty: a line per point, labels after the colon, tab-separated type and value', () => {
  assert.equal(
    renderPretty(snapshot),
    'process.memory.rss:\tGAUGE\t1048576\n' +
      'tcp-echo.connection.duration:\tHIST_RATE\t[0.001]=3 [0.01]=1 [inf]=0\n' +
      'tcp-echo.sockets.active:\tGAUGE\t1\n' +
      'tcp-echo.sockets.close-reasons: reason=eof\tRATE\t2\n' +
      'tcp-echo.sockets.close-reasons: reason=reset\tRATE\t0\n' +
      'tcp-echo.sockets.opened:\tRATE\t3\n',
  );
});

test('graphite: tagged plaintext with unix seconds; a line per histogram bucket', () => {
  assert.equal(
    renderGraphite(snapshot),
    'process.memory.rss 1048576 1700000000\n' +
      'tcp-echo.connection.duration;le=0.001 3 1700000000\n' +
      'tcp-echo.connection.duration;le=0.01 1 1700000000\n' +
      'tcp-echo.connection.duration;le=inf 0 1700000000\n' +
      'tcp-echo.sockets.active 1 1700000000\n' +
      'tcp-echo.sockets.close-reasons;reason=eof 2 1700000000\n' +
      'tcp-echo.sockets.close-reasons;reason=reset 0 1700000000\n' +
      'tcp-echo.sockets.opened 3 1700000000\n',
  );
});

test('prometheus: the exporter serializer, _total on counters, base-unit names, no scope labels', () => {
  assert.equal(
    renderPrometheus(FIXED_METRICS),
    [
      '# HELP target_info Target metadata',
      '# TYPE target_info gauge',
      'target_info{service_name="tcp-echo"} 1',
      '# HELP tcp_echo_sockets_opened_total Connections accepted.',
      '# TYPE tcp_echo_sockets_opened_total counter',
      'tcp_echo_sockets_opened_total 3',
      '# HELP tcp_echo_sockets_active Connections open now.',
      '# TYPE tcp_echo_sockets_active gauge',
      'tcp_echo_sockets_active 1',
      '# HELP tcp_echo_sockets_close_reasons_total Closes by reason.',
      '# TYPE tcp_echo_sockets_close_reasons_total counter',
      'tcp_echo_sockets_close_reasons_total{reason="eof"} 2',
      'tcp_echo_sockets_close_reasons_total{reason="reset"} 0',
      '# HELP process_memory_rss_bytes Resident set size.',
      '# UNIT process_memory_rss_bytes By',
      '# TYPE process_memory_rss_bytes gauge',
      'process_memory_rss_bytes 1048576',
      '# HELP tcp_echo_connection_duration_seconds Connection lifetime.',
      '# UNIT tcp_echo_connection_duration_seconds s',
      '# TYPE tcp_echo_connection_duration_seconds histogram',
      'tcp_echo_connection_duration_seconds_count 4',
      'tcp_echo_connection_duration_seconds_sum 0.012',
      'tcp_echo_connection_duration_seconds_bucket{le="0.001"} 3',
      'tcp_echo_connection_duration_seconds_bucket{le="0.01"} 4',
      'tcp_echo_connection_duration_seconds_bucket{le="+Inf"} 4',
      '',
    ].join('\n'),
  );
});

test('prometheus: filters apply to metric paths and point labels', () => {
  const text = renderPrometheus(FIXED_METRICS, { prefix: 'tcp-echo.sockets.close', labels: { reason: 'reset' } });
  assert.match(text, /^tcp_echo_sockets_close_reasons_total\{reason="reset"\} 0$/m);
  assert.doesNotMatch(text, /reason="eof"/);
  assert.doesNotMatch(text, /tcp_echo_sockets_opened_total/);
  assert.match(renderPrometheus(FIXED_METRICS, { path: 'process.memory.rss' }), /^process_memory_rss_bytes 1048576$/m);
});

test('metricPath drops only a trailing _seconds or _bytes', () => {
  assert.equal(metricPath('tcp-echo.connection.duration_seconds'), 'tcp-echo.connection.duration');
  assert.equal(metricPath('process.memory.rss_bytes'), 'process.memory.rss');
  assert.equal(metricPath('tcp-echo.backpressure.buffered-bytes'), 'tcp-echo.backpressure.buffered-bytes');
  assert.equal(metricPath('tcp-echo.sockets.opened'), 'tcp-echo.sockets.opened');
});

test('filters: prefix, exact path, labels (subset, exact values), combined', () => {
  const paths = (f: Parameters<typeof filterSnapshot>[1]) => filterSnapshot(snapshot, f).points.map((p) => p.path);
  assert.deepEqual(paths({ prefix: 'tcp-echo.sockets.' }), [
    'tcp-echo.sockets.active',
    'tcp-echo.sockets.close-reasons',
    'tcp-echo.sockets.close-reasons',
    'tcp-echo.sockets.opened',
  ]);
  assert.deepEqual(paths({ path: 'tcp-echo.sockets' }), []);
  assert.deepEqual(paths({ path: 'tcp-echo.sockets.opened' }), ['tcp-echo.sockets.opened']);
  const eof = filterSnapshot(snapshot, { labels: { reason: 'eof' } }).points;
  assert.deepEqual(eof.map((p) => [p.path, p.value]), [['tcp-echo.sockets.close-reasons', 2]]);
  assert.deepEqual(paths({ labels: { reason: 'EOF' } }), []);
  assert.deepEqual(paths({ prefix: 'process.', labels: { reason: 'eof' } }), []);
  assert.equal(filterSnapshot(snapshot, {}), snapshot);
});

test('labels parameter: a JSON object of strings; anything else is a 400 that says what is expected', () => {
  assert.deepEqual(parseLabelsParameter('{"reason":"eof"}'), { reason: 'eof' });
  assert.deepEqual(parseLabelsParameter('{"n":1,"b":true}'), { n: '1', b: 'true' });
  for (const bad of ['', '{', '[]', '"eof"', 'null', '{"reason":{"x":1}}', '{"reason":null}']) {
    assert.throws(
      () => parseLabelsParameter(bad),
      (e: unknown) => e instanceof HttpBadRequestError && e.status === 400 && /labels/.test(e.message),
      `labels=${bad}`,
    );
  }
});
