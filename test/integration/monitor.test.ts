/**
 * The monitor HTTP listener of the real service: every format and filter over HTTP, reset
 * semantics across JSON and Prometheus, tests-control, 404/405/400s, malformed requests (the echo
 * is unaffected), /ping during shutdown, and the metric set with its Prometheus names.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { promSample } from '../helpers/monitor-client.js';
import { rawHttp } from '../helpers/raw-http.js';
import { startService, type RunningService } from '../helpers/service.js';

let service: RunningService;
before(async () => {
  // startService sets OTEL_SDK_DISABLED=true: the monitor must not depend on it.
  service = await startService();
});
after(async () => {
  await service?.stop();
});

const get = (path: string, init?: RequestInit) => fetch(`${service.monitorUrl}${path}`, init);

async function json(path: string): Promise<Record<string, Array<{ value: unknown; labels: Record<string, string>; type: string }>>> {
  const response = await get(path);
  assert.equal(response.status, 200, path);
  assert.equal(response.headers.get('content-type'), 'application/json; charset=utf-8');
  return (await response.json()) as never;
}

async function echoOnce(text: string): Promise<void> {
  const socket = net.connect(service.echoPort, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(text);
  const [data] = (await once(socket, 'data')) as [Buffer];
  assert.equal(data.toString(), text);
  socket.end();
  await once(socket, 'close');
}

const METRIC_SET: ReadonlyArray<[string, string, string]> = [
  ['tcp-echo.sockets.opened', 'RATE', 'tcp_echo_sockets_opened_total'],
  ['tcp-echo.sockets.closed', 'RATE', 'tcp_echo_sockets_closed_total'],
  ['tcp-echo.sockets.active', 'GAUGE', 'tcp_echo_sockets_active'],
  ['tcp-echo.sockets.close-reasons', 'RATE', 'tcp_echo_sockets_close_reasons_total'],
  ['tcp-echo.bytes.read', 'RATE', 'tcp_echo_bytes_read_total'],
  ['tcp-echo.bytes.written', 'RATE', 'tcp_echo_bytes_written_total'],
  ['tcp-echo.connection.duration', 'HIST_RATE', 'tcp_echo_connection_duration_seconds_bucket'],
  ['tcp-echo.backpressure.pauses', 'RATE', 'tcp_echo_backpressure_pauses_total'],
  ['tcp-echo.backpressure.buffered-bytes', 'GAUGE', 'tcp_echo_backpressure_buffered_bytes'],
  ['tcp-echo.tracing.spans.exported', 'RATE', 'tcp_echo_tracing_spans_exported_total'],
  ['tcp-echo.tracing.spans.dropped', 'RATE', 'tcp_echo_tracing_spans_dropped_total'],
  ['logger.lines.written', 'RATE', 'logger_lines_written_total'],
  ['logger.lines.dropped', 'RATE', 'logger_lines_dropped_total'],
  ['process.memory.rss', 'GAUGE', 'process_memory_rss_bytes'],
  ['process.cpu.time', 'RATE', 'process_cpu_time_seconds_total'],
  ['process.open-fds', 'GAUGE', 'process_open_fds'],
  ['process.uptime', 'GAUGE', 'process_uptime_seconds'],
  ['engine.event-loop.delay.p50', 'GAUGE', 'engine_event_loop_delay_p50_seconds'],
  ['engine.event-loop.delay.p99', 'GAUGE', 'engine_event_loop_delay_p99_seconds'],
  ['engine.event-loop.utilization', 'GAUGE', 'engine_event_loop_utilization'],
];

test('the metric set: every JSON path with its type, every Prometheus name in /metrics', async () => {
  await echoOnce('fill the histogram');
  const [view, metrics] = [await json('/service/monitor'), await get('/metrics')];
  assert.equal(metrics.status, 200);
  assert.equal(metrics.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  const text = await metrics.text();
  const problems: string[] = [];
  for (const [path, type, promName] of METRIC_SET) {
    const nodes = view[path];
    if (!nodes) problems.push(`JSON: no ${path}`);
    else if (nodes.some((n) => n.type !== type)) problems.push(`JSON: ${path} is not ${type}`);
    if (!new RegExp(`^${promName}[{ ]`, 'm').test(text)) problems.push(`Prometheus: no ${promName}`);
  }
  assert.deepEqual(problems, []);
  assert.deepEqual(
    view['tcp-echo.sockets.close-reasons']?.map((n) => n.labels.reason).sort(),
    ['eof', 'error', 'rejected', 'reset', 'shutdown', 'timeout'],
  );
  assert.deepEqual(view['tcp-echo.sockets.closed']?.map((n) => n.labels), [{}], 'closed is unlabelled');
});

test('formats: json by default, prometheus equals /metrics in shape, pretty and graphite', async () => {
  const byDefault = await json('/service/monitor?path=tcp-echo.sockets.opened');
  assert.deepEqual(Object.keys(byDefault), ['tcp-echo.sockets.opened']);
  assert.deepEqual(byDefault['tcp-echo.sockets.opened']?.[0]?.labels, {});

  const prom = await get('/service/monitor?format=prometheus&prefix=tcp-echo.sockets.');
  assert.equal(prom.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  const promText = await prom.text();
  assert.match(promText, /^# TYPE tcp_echo_sockets_opened_total counter$/m);
  assert.doesNotMatch(promText, /^(?:tcp_echo_bytes_read_total|process_)/m);

  const pretty = await get('/service/monitor?format=pretty&labels={"reason":"eof"}');
  assert.equal(pretty.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.match(await pretty.text(), /^tcp-echo\.sockets\.close-reasons: reason=eof\tRATE\t\d+\n$/);

  const graphite = await (await get('/service/monitor?format=graphite&path=tcp-echo.sockets.active')).text();
  assert.match(graphite, /^tcp-echo\.sockets\.active \d+ \d{10}\n$/);
});

test('bad queries are 400s with a message; unknown paths 404; wrong methods 405 with Allow', async () => {
  const unknown = await get('/service/monitor?format=xml');
  assert.equal(unknown.status, 400);
  assert.deepEqual(await unknown.json(), {
    code: 'ECHO_ERR_HTTP_BAD_REQUEST',
    message: "unknown format 'xml': expected one of json, prometheus, pretty, graphite",
  });
  const labels = await get('/service/monitor?labels=reason');
  assert.equal(labels.status, 400);
  assert.match(((await labels.json()) as { message: string }).message, /'labels' is not valid JSON/);

  const missing = await get('/service/nope');
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as { code: string }).code, 'ECHO_ERR_HTTP_NOT_FOUND');

  const post = await get('/metrics', { method: 'POST', body: '' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
  const getTests = await get('/tests/control');
  assert.equal(getTests.status, 405);
  assert.equal(getTests.headers.get('allow'), 'POST');
});

test('tests-control: control answers {}, unknown actions 404 JSON, bad JSON 400', async () => {
  const control = await get('/tests/control', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
  assert.equal(control.status, 200);
  assert.deepEqual(await control.json(), {});
  const unknown = await get('/tests/launch', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
  assert.equal(unknown.status, 404);
  const error = (await unknown.json()) as { code: string; message: string };
  assert.equal(error.code, 'ECHO_ERR_HTTP_NOT_FOUND');
  assert.match(error.message, /^unknown tests-control action 'launch': expected one of control, get_dynamic_config_defaults, reset_metrics, /);
  const badBody = await get('/tests/control', { method: 'POST', body: '{oops', headers: { 'content-type': 'application/json' } });
  assert.equal(badBody.status, 400);
});

test('reset_metrics: JSON counters restart from zero, gauges do not, Prometheus counters keep counting', async () => {
  await echoOnce('before reset');
  const promValue = async (name: string) => {
    const sample = promSample(await (await get('/metrics')).text(), name);
    assert.ok(sample !== undefined, name);
    return sample;
  };
  const openedBefore = await promValue('tcp_echo_sockets_opened_total');
  assert.ok(openedBefore >= 1);
  const response = await get('/tests/reset_metrics', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
  assert.deepEqual([response.status, await response.json()], [200, {}]);

  const zero = await json('/service/monitor?prefix=tcp-echo.');
  for (const [path, nodes] of Object.entries(zero)) {
    for (const node of nodes) {
      if (node.type === 'RATE') assert.equal(node.value, 0, `${path} ${JSON.stringify(node.labels)}`);
      if (node.type === 'HIST_RATE') {
        const h = node.value as { buckets: number[]; inf: number };
        assert.deepEqual([Math.max(...h.buckets), h.inf], [0, 0], path);
      }
    }
  }
  const uptime = (await json('/service/monitor?path=process.uptime'))['process.uptime']?.[0]?.value as number;
  assert.ok(uptime > 0, 'gauges are not reset');

  await echoOnce('after reset');
  const after = await json('/service/monitor?prefix=tcp-echo.sockets.');
  assert.equal(after['tcp-echo.sockets.opened']?.[0]?.value, 1);
  assert.equal(await promValue('tcp_echo_sockets_opened_total'), openedBefore + 1);
});

test('the resource: service.name comes from OTEL_SERVICE_NAME (target_info), never as JSON labels', { timeout: 60_000 }, async (t) => {
  const named = await startService({ env: { OTEL_SERVICE_NAME: 'echo-under-test' } });
  t.after(() => named.stop());
  const text = await (await fetch(`${named.monitorUrl}/metrics`)).text();
  assert.match(text, /^target_info\{[^}]*service_name="echo-under-test"/m);
  const view = await (await fetch(`${named.monitorUrl}/service/monitor`)).text();
  assert.doesNotMatch(view, /echo-under-test|service\.name/);
  assert.match(await (await fetch(`${service.monitorUrl}/metrics`)).text(), /^target_info\{[^}]*service_name="tcp-echo"/m);
});

test('/ping answers 500 once shutdown begins (during graceful_shutdown_interval)', { timeout: 60_000 }, async (t) => {
  const draining = await startService({ manager: { graceful_shutdown_interval: '3s' } });
  t.after(() => draining.stop());
  assert.equal((await fetch(`${draining.monitorUrl}/ping`)).status, 200);
  draining.child.kill('SIGTERM');
  let status = 0;
  const deadline = Date.now() + 2500;
  while (Date.now() < deadline && status !== 500) {
    status = (await fetch(`${draining.monitorUrl}/ping`).catch(() => ({ status: -1 }))).status;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(status, 500);
  assert.equal(await draining.exited, 0);
});

test('config problems of the monitor fail before anything listens, naming the file and key', { timeout: 60_000 }, async (t) => {
  const { baseComponents, freePort, runCli } = await import('../helpers/service.js');
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const path = await import('node:path');
  const { stringify } = await import('yaml');
  const dir = mkdtempSync(path.join(tmpdir(), 'tcp-echo-monitor-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const run = async (edit: (c: Record<string, Record<string, unknown>>) => void) => {
    const components = baseComponents(await freePort(), await freePort());
    edit(components);
    const file = path.join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, stringify({ components_manager: { components } }));
    const result = await runCli(['-c', file]);
    return { ...result, file };
  };
  const cases: Array<[string, (c: Record<string, Record<string, unknown>>) => void, (file: string) => RegExp]> = [
    ['method', (c) => (c['handler-ping']!.method = 'GET,PST'), (f) => new RegExp(`${f}: components_manager\\.components\\.handler-ping\\.method: 'PST' is not an HTTP method; did you mean 'POST'\\?`)],
    ['path', (c) => (c['handler-ping']!.path = 'ping'), (f) => new RegExp(`${f}: components_manager\\.components\\.handler-ping\\.path: "ping" is not a valid path: it must start with '/'`)],
    [
      'conflict',
      (c) => (c['handler-ping']!.path = '/metrics'),
      (f) => new RegExp(`${f}: components_manager\\.components\\.handler-server-monitor\\.metrics_path: route GET /metrics \\(handler-server-monitor\\) conflicts with GET /metrics registered by handler-ping`),
    ],
    [
      'timeouts',
      (c) => ((c.server!.listener as Record<string, unknown>).headers_timeout = '20s'),
      (f) => new RegExp(`${f}: components_manager\\.components\\.server\\.listener\\.headers_timeout: 20000 ms is longer than request_timeout`),
    ],
    ['port range', (c) => ((c.server!.listener as Record<string, unknown>).port = 70000), (f) => new RegExp(`${f}: components_manager\\.components\\.server\\.listener\\.port: 70000 is out of range`)],
  ];
  for (const [name, edit, expected] of cases) {
    const { code, stderr, file } = await run(edit);
    assert.notEqual(code, 0, name);
    assert.match(stderr, expected(file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), `${name}:\n${stderr}`);
    assert.doesNotMatch(stderr, /\n\s+at /, `${name}: no stack trace`);
  }
  // The monitor port already in use: a ListenError naming the component, address and port.
  const busy = net.createServer().listen(0, '127.0.0.1');
  await once(busy, 'listening');
  t.after(() => busy.close());
  const busyPort = (busy.address() as net.AddressInfo).port;
  const { code, stderr } = await run((c) => ((c.server!.listener as Record<string, unknown>).port = busyPort));
  assert.notEqual(code, 0);
  assert.match(stderr, new RegExp(`server: cannot listen on 127\\.0\\.0\\.1:${busyPort}: address already in use \\(EADDRINUSE\\); set components_manager\\.components\\.server\\.listener\\.port`));
});
