/**
 * `/metrics` for everyone who does not ask for OpenMetrics is today's Prometheus text 0.0.4, byte
 * for byte. The golden text below was captured from this very setup before OpenMetrics and
 * exemplars existed (commit "Golden test of the classic /metrics body"), plus what later changes
 * added on purpose (the accept-errors family, the PROXY reasons and the event-loop delay's meaning in help texts); it covers every
 * `tcp-echo.*` family, whose values the test fixes. The runtime families (CPU, memory, event loop)
 * have values no test can fix, so for them only the metadata lines are compared.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { registerEchoMetrics } from '../../../src/echo/echo-instruments.js';
import { EchoStats } from '../../../src/echo/stats.js';
import { prometheusHandler } from '../../../src/monitor/handlers/server-monitor.js';
import type { HttpRequest } from '../../../src/monitor/http.js';
import { StatisticsStorage } from '../../../src/telemetry/statistics-storage.js';

const GOLDEN_ECHO_FAMILIES = [
  '# HELP tcp_echo_sockets_opened_total Connections accepted (rejected ones included).',
  '# TYPE tcp_echo_sockets_opened_total counter',
  'tcp_echo_sockets_opened_total 5',
  '# HELP tcp_echo_sockets_closed_total Connections finished, for any reason (see tcp-echo.sockets.close-reasons).',
  '# TYPE tcp_echo_sockets_closed_total counter',
  'tcp_echo_sockets_closed_total 4',
  '# HELP tcp_echo_sockets_active Connections open now.',
  '# TYPE tcp_echo_sockets_active gauge',
  'tcp_echo_sockets_active 0',
  '# HELP tcp_echo_sockets_close_reasons_total Connections finished, by reason: eof, reset, timeout, error, shutdown, rejected, and with the PROXY protocol on proxy-missing, proxy-malformed, proxy-oversized, proxy-timeout.',
  '# TYPE tcp_echo_sockets_close_reasons_total counter',
  'tcp_echo_sockets_close_reasons_total{reason="eof"} 3',
  'tcp_echo_sockets_close_reasons_total{reason="reset"} 1',
  'tcp_echo_sockets_close_reasons_total{reason="timeout"} 0',
  'tcp_echo_sockets_close_reasons_total{reason="error"} 0',
  'tcp_echo_sockets_close_reasons_total{reason="shutdown"} 0',
  'tcp_echo_sockets_close_reasons_total{reason="rejected"} 0',
  '# HELP tcp_echo_bytes_read_total Bytes read from clients.',
  '# TYPE tcp_echo_bytes_read_total counter',
  'tcp_echo_bytes_read_total 1234',
  '# HELP tcp_echo_bytes_written_total Bytes written back to clients (handed to the kernel).',
  '# TYPE tcp_echo_bytes_written_total counter',
  'tcp_echo_bytes_written_total 1200',
  '# HELP tcp_echo_backpressure_pauses_total Times a connection write side hit its bound and reading paused until it drained.',
  '# TYPE tcp_echo_backpressure_pauses_total counter',
  'tcp_echo_backpressure_pauses_total 2',
  '# HELP tcp_echo_backpressure_buffered_bytes Bytes read but not yet written back, over all open connections.',
  '# TYPE tcp_echo_backpressure_buffered_bytes gauge',
  'tcp_echo_backpressure_buffered_bytes 0',
  '# HELP tcp_echo_accept_errors_total Failed accepts reported by the listener (EMFILE/ENFILE, ENOBUFS). max_connections stays below the open-file limit, so connections refused for lack of descriptors show up as close reason rejected instead.',
  '# TYPE tcp_echo_accept_errors_total counter',
  'tcp_echo_accept_errors_total 0',
  '# HELP tcp_echo_connection_duration_seconds Connection lifetime, from accept to close, in seconds.',
  '# UNIT tcp_echo_connection_duration_seconds s',
  '# TYPE tcp_echo_connection_duration_seconds histogram',
  'tcp_echo_connection_duration_seconds_count 5',
  'tcp_echo_connection_duration_seconds_sum 12.7064',
  'tcp_echo_connection_duration_seconds_bucket{le="0.001"} 1',
  'tcp_echo_connection_duration_seconds_bucket{le="0.0025"} 1',
  'tcp_echo_connection_duration_seconds_bucket{le="0.005"} 3',
  'tcp_echo_connection_duration_seconds_bucket{le="0.01"} 3',
  'tcp_echo_connection_duration_seconds_bucket{le="0.025"} 3',
  'tcp_echo_connection_duration_seconds_bucket{le="0.05"} 3',
  'tcp_echo_connection_duration_seconds_bucket{le="0.1"} 3',
  'tcp_echo_connection_duration_seconds_bucket{le="0.25"} 3',
  'tcp_echo_connection_duration_seconds_bucket{le="0.5"} 3',
  'tcp_echo_connection_duration_seconds_bucket{le="1"} 4',
  'tcp_echo_connection_duration_seconds_bucket{le="2.5"} 4',
  'tcp_echo_connection_duration_seconds_bucket{le="5"} 4',
  'tcp_echo_connection_duration_seconds_bucket{le="10"} 4',
  'tcp_echo_connection_duration_seconds_bucket{le="30"} 5',
  'tcp_echo_connection_duration_seconds_bucket{le="60"} 5',
  'tcp_echo_connection_duration_seconds_bucket{le="300"} 5',
  'tcp_echo_connection_duration_seconds_bucket{le="600"} 5',
  'tcp_echo_connection_duration_seconds_bucket{le="1800"} 5',
  'tcp_echo_connection_duration_seconds_bucket{le="3600"} 5',
  'tcp_echo_connection_duration_seconds_bucket{le="+Inf"} 5',
  '',
].join('\n');

const GOLDEN_RUNTIME_METADATA = [
  '# HELP target_info Target metadata',
  '# TYPE target_info gauge',
  '# HELP process_memory_rss_bytes Resident set size of the process, in bytes.',
  '# UNIT process_memory_rss_bytes By',
  '# TYPE process_memory_rss_bytes gauge',
  '# HELP process_cpu_time_seconds_total CPU time used by the process, in seconds, by mode (user, system).',
  '# UNIT process_cpu_time_seconds_total s',
  '# TYPE process_cpu_time_seconds_total counter',
  '# HELP process_open_fds Open file descriptors of the process.',
  '# TYPE process_open_fds gauge',
  '# HELP process_uptime_seconds Seconds since the process started.',
  '# UNIT process_uptime_seconds s',
  '# TYPE process_uptime_seconds gauge',
  '# HELP engine_event_loop_delay_p50_seconds Event-loop delay (lateness of a 10 ms timer; 0 when idle), median over the last collection window, in seconds.',
  '# UNIT engine_event_loop_delay_p50_seconds s',
  '# TYPE engine_event_loop_delay_p50_seconds gauge',
  '# HELP engine_event_loop_delay_p99_seconds Event-loop delay (lateness of a 10 ms timer; 0 when idle), 99th percentile over the last collection window, in seconds.',
  '# UNIT engine_event_loop_delay_p99_seconds s',
  '# TYPE engine_event_loop_delay_p99_seconds gauge',
  '# HELP engine_event_loop_utilization Share of time the event loop was busy over the last collection window (0..1).',
  '# TYPE engine_event_loop_utilization gauge',
];

/** A storage whose echo metrics hold fixed values. */
function fixedStorage(): StatisticsStorage {
  const storage = new StatisticsStorage({ serviceName: 'tcp-echo' });
  const stats = new EchoStats();
  registerEchoMetrics(storage, stats);
  stats.opened = 5;
  stats.closed = 4;
  stats.closeReasons.eof = 3;
  stats.closeReasons.reset = 1;
  stats.closedBytesRead = 1234;
  stats.closedBytesWritten = 1200;
  stats.backpressurePauses = 2;
  for (const seconds of [0.0004, 0.003, 0.003, 0.7, 12]) stats.recordDuration(seconds);
  return storage;
}

const get = (headers: Record<string, string>): HttpRequest => ({
  method: 'GET',
  path: '/metrics',
  query: new URLSearchParams(),
  pathParams: {},
  headers,
  body: Buffer.alloc(0),
});

// Scrapers that do not ask for OpenMetrics: none at all, curl, Prometheus with OpenMetrics
// turned off (scrape_protocols: [PrometheusText0.0.4]), a browser.
const CLASSIC_ACCEPTS: Array<Record<string, string>> = [
  {},
  { accept: '*/*' },
  { accept: 'text/plain;version=0.0.4;q=1,*/*;q=0.1' },
  { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' },
];

for (const headers of CLASSIC_ACCEPTS) {
  test(`/metrics without an OpenMetrics Accept (${headers.accept ?? 'no Accept'}) is the classic text, byte for byte`, async (t) => {
    const storage = fixedStorage();
    t.after(() => storage.stop());
    const response = await prometheusHandler(storage)(get(headers));
    assert.equal(response.status, 200);
    assert.equal(response.headers?.['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    const body = String(response.body);
    const start = body.indexOf('# HELP tcp_echo_sockets_opened_total');
    assert.ok(start > 0, body);
    assert.equal(body.slice(start), GOLDEN_ECHO_FAMILIES);
    assert.deepEqual(
      body
        .slice(0, start)
        .split('\n')
        .filter((line) => line.startsWith('#')),
      GOLDEN_RUNTIME_METADATA,
    );
  });
}
