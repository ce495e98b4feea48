/**
 * tcp-echo driven the way userver's own test client drives it (USERVER-TESTSUITE.md): started with
 * the config pytest_userver's hooks produce — from tcp-echo's config/static_config.yaml and from
 * userver's sample static_config.yaml (test/fixtures/pytest-userver/) — with `--config <file>` as
 * the only argument, judged ready the client's way, then sent the request sequence of §3.2 (and
 * the §7.2 actions) over real HTTP, each answer asserted, and stopped with SIGINT (exit 0).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { USERVER_SAMPLE_LINES, waitFor } from '../helpers/echo-client.js';
import { monitorJson } from '../helpers/monitor-client.js';
import {
  FIXTURES,
  parseTskvLine,
  startLikePytest,
  testsControl,
  valueAt,
  type PytestService,
} from '../helpers/pytest-userver.js';

const DATA = USERVER_SAMPLE_LINES;
const DATA_LENGTH = DATA.reduce((n, b) => n + b.length, 0);

/** The prepare step's `control` body at the start of a test (§3.3). */
const CONTROL_BODY = {
  invalidate_caches: { update_type: 'full', exclude_names: [], force_incremental_names: ['dynamic-config-client-updater'] },
  testpoints: [],
  mock_now: '2024-10-25T09:12:33.123456+0000',
};

/** The sample's test_basic echo: connect over IPv4 to localhost, send while receiving, all bytes back. */
async function echoBasic(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: 'localhost', port, family: 4 });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const received: Buffer[] = [];
  let length = 0;
  const all = new Promise<void>((resolve) =>
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      length += chunk.length;
      if (length >= DATA_LENGTH) resolve();
    }),
  );
  for (const part of DATA) socket.write(part);
  await all;
  assert.deepEqual(Buffer.concat(received), Buffer.concat(DATA));
  return socket;
}

async function closed(socket: net.Socket): Promise<void> {
  socket.end();
  if (!socket.destroyed) await new Promise((resolve) => socket.once('close', resolve));
}

/** `http://localhost:<port>`: pytest_userver's monitor client asks localhost. */
const local = (port: number) => `http://localhost:${port}`;

/** Polls the monitor until `path` reads `expected` (bounded), then returns the value. */
async function metricEventually(port: number, at: string, expected: number): Promise<unknown> {
  let value: unknown;
  await waitFor(async () => (value = valueAt(await monitorJson(local(port), `path=${encodeURIComponent(at)}`), at)) === expected, 20_000);
  return value;
}

/** §3.2 steps 2–4 for the sample's tests that reset metrics, then the smoke test. */
async function sampleSequence(service: PytestService): Promise<void> {
  const port = service.servicePort;
  for (let i = 0; i < 2; i++) {
    assert.deepEqual(await testsControl(port, 'control', i === 0 ? CONTROL_BODY : { testpoints: [] }), {
      status: 200,
      contentType: 'application/json; charset=utf-8',
      body: {},
    });
    assert.deepEqual((await testsControl(port, 'reset_metrics')).body, {});
    const socket = await echoBasic(service.echoPort);
    // Counters are read from the listener's process(es) at collection time: poll, never assume.
    assert.equal(await metricEventually(port, 'tcp-echo.bytes.read', DATA_LENGTH), DATA_LENGTH);
    const metrics = await monitorJson(local(port), 'prefix=tcp-echo.');
    assert.equal(valueAt(metrics, 'tcp-echo.sockets.opened'), 1, 'the readiness probes before reset_metrics are not counted');
    assert.equal(valueAt(metrics, 'tcp-echo.sockets.closed'), 0);
    assert.equal(valueAt(metrics, 'tcp-echo.bytes.read'), DATA_LENGTH);
    for (const [at, nodes] of Object.entries(metrics)) {
      assert.ok(at.startsWith('tcp-echo.'), at);
      for (const node of nodes) assert.ok(['RATE', 'GAUGE', 'HIST_RATE'].includes(node.type), `${at}: ${node.type}`);
    }
    await closed(socket);
    assert.equal(await metricEventually(port, 'tcp-echo.sockets.closed', 1), 1);
  }
  // test_metrics_smoke: an unfiltered reply has more than one path.
  assert.ok(Object.keys(await monitorJson(local(port))).length > 1);
}

async function assertCleanShutdown(service: PytestService): Promise<void> {
  const { code, signal, killed } = await service.shutdown();
  assert.deepEqual({ code, signal, killed }, { code: 0, signal: null, killed: false }, service.stderr());
}

test("tcp-echo's own config as pytest_userver rewrites it: start, §3.2 sequence, every §7.2 action, SIGINT exit 0", async (t) => {
  const service = await startLikePytest({
    fixture: 'tcp-echo',
    readiness: 'ping',
    runValues: ({ servicePort, echoPort, capturePort, dir }) => ({
      config: {
        'components_manager.components.server.listener.port': servicePort,
        'components_manager.components.logging.loggers.default.file_path': path.join(dir, 'service.log'),
        'components_manager.components.logging.loggers.default.testsuite-capture.port': capturePort,
      },
      vars: { echo_port: echoPort, 'userver-dumps-root': path.join(dir, 'userver-cache-dumps') },
    }),
  });
  t.after(() => service.shutdown(5000));
  const port = service.servicePort;

  await t.test('get_dynamic_config_defaults answers the (empty) defaults object', async () => {
    assert.deepEqual(await testsControl(port, 'get_dynamic_config_defaults'), {
      status: 200,
      contentType: 'application/json; charset=utf-8',
      body: {},
    });
  });

  await t.test('control + reset_metrics before each echo test; metrics read as value_at reads them', () => sampleSequence(service));

  await t.test('metrics_portability: {} over all metrics and over the tcp-echo prefix', async () => {
    assert.deepEqual(await testsControl(port, 'metrics_portability', { prefix: null }), {
      status: 200,
      contentType: 'application/json; charset=utf-8',
      body: {},
    });
    assert.deepEqual((await testsControl(port, 'metrics_portability', { prefix: 'tcp-echo' })).body, {});
  });

  await t.test('log capture: connect on enable, DEBUG records of an echo while on, flush and close on disable', async () => {
    const connection = service.capture.expectConnection();
    assert.deepEqual(await testsControl(port, 'log_capture', { log_level: 'DEBUG', socket_logging_duplication: true }), {
      status: 200,
      contentType: 'application/json; charset=utf-8',
      body: {},
    });
    const captured = await connection;
    const socket = await echoBasic(service.echoPort);
    await closed(socket);
    const closing = await captured.waitFor({ text: 'Closing socket' });
    assert.equal(closing.level, 'INFO');
    assert.equal(closing.bytes_read, String(DATA_LENGTH));
    // The last line before the disable: logged while capturing, so it must arrive (the flush).
    const marker = await testsControl(port, 'log_flush', { logger_name: null });
    assert.equal(marker.status, 200);
    const off = await testsControl(port, 'log_capture', { log_level: 'debug', socket_logging_duplication: false });
    assert.deepEqual(off.body, {});
    await captured.ended;
    const records = captured.records(); // throws on any line pytest_userver could not parse
    assert.ok(records.every((r) => ['TRACE', 'DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'].includes(r.level ?? '')));
    assert.ok(records.some((r) => r.text === 'Accepted connection' && r.level === 'INFO'));
    assert.ok(records.some((r) => r.text === 'log capture stopping'), 'a line logged just before the disable was flushed');
    // One connection per capture: a second capture connects anew.
    const again = service.capture.expectConnection();
    assert.equal((await testsControl(port, 'log_capture', { log_level: 'info', socket_logging_duplication: true })).status, 200);
    const second = await again;
    assert.equal((await testsControl(port, 'log_capture', { log_level: 'info', socket_logging_duplication: false })).status, 200);
    await second.ended;
    assert.ok(second.records().every((r) => r.level !== 'DEBUG' && r.level !== 'TRACE'), 'INFO capture carries nothing below INFO');
  });

  await t.test('log_flush writes the tskv lines to the file pytest attaches on failure', async () => {
    assert.deepEqual(await testsControl(port, 'log_flush', { logger_name: null }), {
      status: 200,
      contentType: 'application/json; charset=utf-8',
      body: {},
    });
    const lines = readFileSync(service.logFile, 'utf8').split('\n').filter((l) => l !== '');
    assert.ok(lines.length > 0);
    const records = lines.map(parseTskvLine);
    assert.ok(records.some((r) => r.text === 'Accepted connection'));
    assert.equal((await testsControl(port, 'log_flush', { logger_name: 'access' })).status, 404, 'unknown logger: 4xx, never 500');
  });

  await t.test('periodic-task, task, cache-dump and url actions answer as userver does for a service without them', async () => {
    const ok = { status: 200, contentType: 'application/json; charset=utf-8', body: {} };
    assert.deepEqual(await testsControl(port, 'suspend_periodic_tasks', { names: ['x'] }), ok);
    assert.deepEqual(await testsControl(port, 'suspend_periodic_tasks', { names: [] }), ok);
    assert.deepEqual(await testsControl(port, 'write_cache_dumps', { names: [] }), ok);
    assert.deepEqual(await testsControl(port, 'read_cache_dumps', { names: [] }), ok);
    assert.deepEqual(await testsControl(port, 'http_allowed_urls_extra', { allowed_urls_extra: ['http://x/'] }), ok);
    // pytest_userver's tasks_list posts an empty body without a Content-Type.
    assert.deepEqual((await testsControl(port, 'tasks_list', null)).body, { tasks: [] });
    for (const [action, body] of [
      ['run_periodic_task', { name: 'x' }],
      ['task_run', { name: 'x' }],
      ['task_spawn', { name: 'x' }],
      ['task_stop', { task_id: 'x' }],
    ] as const) {
      const answer = await testsControl(port, action, body);
      assert.equal(answer.status, 404, action);
      assert.equal((answer.body as { code: string }).code, 'ECHO_ERR_HTTP_NOT_FOUND');
    }
    // userver: `control` may carry the action in its body.
    assert.deepEqual((await testsControl(port, 'control', { action: 'tasks_list' })).body, { tasks: [] });
    const unknown = await testsControl(port, 'no_such_action');
    assert.equal(unknown.status, 404);
    assert.match(unknown.contentType ?? '', /^application\/json/);
  });

  await t.test('SIGINT: exit code 0', () => assertCleanShutdown(service));
});

test("userver's sample static_config.yaml as pytest_userver rewrites it: starts unchanged, TCP-probe readiness, §3.2 sequence, SIGINT exit 0", async (t) => {
  const fixture = parse(readFileSync(path.join(FIXTURES, 'userver-sample.config.yaml'), 'utf8'));
  const service = await startLikePytest({
    fixture: 'userver-sample',
    readiness: 'tcp',
    runValues: ({ servicePort, echoPort, capturePort, dir }) => ({
      config: {
        'components_manager.components.server.listener.port': servicePort,
        // The sample's own literal 8181, moved to a free port for a shared machine.
        'components_manager.components.tcp-echo.port': echoPort,
        'components_manager.components.logging.loggers.default.file_path': path.join(dir, 'service.log'),
        'components_manager.components.logging.loggers.default.testsuite-capture.port': capturePort,
      },
      vars: { 'userver-dumps-root': path.join(dir, 'userver-cache-dumps') },
    }),
  });
  t.after(() => service.shutdown(5000));
  const port = service.servicePort;

  await t.test('get_dynamic_config_defaults answers the --config-fallback values hook 10 put in dynamic-config.defaults', async () => {
    const answer = await testsControl(port, 'get_dynamic_config_defaults');
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body, fixture.components_manager.components['dynamic-config'].defaults);
  });

  await t.test('control (testpoints with a testpoint-url) + reset_metrics + echo + metrics', () => sampleSequence(service));

  await t.test('each accepted-only component is logged once as such', async () => {
    const names = ['testsuite-support', 'http-client', 'dns-client'];
    const lineOf = (name: string) => `component '${name}' is accepted for userver compatibility; no effect in tcp-echo`;
    let texts: (string | undefined)[] = [];
    // TCP-probe readiness can pass while the last components are still starting: poll the file.
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      assert.equal((await testsControl(port, 'log_flush', { logger_name: null })).status, 200);
      texts = readFileSync(path.join(service.dir, 'service.log'), 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => parseTskvLine(l).text);
      if (names.every((name) => texts.includes(lineOf(name)))) break;
    }
    for (const name of names) assert.equal(texts.filter((text) => text === lineOf(name)).length, 1, name);
  });

  await t.test('SIGINT: exit code 0 (the cluster primary stops its workers)', () => assertCleanShutdown(service));
});
