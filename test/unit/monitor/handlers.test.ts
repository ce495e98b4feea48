/** The handler functions on their own: query parsing, tests-control actions and bodies, ping. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HttpBadRequestError, HttpNotFoundError } from '../../../src/errors.js';
import { Readiness } from '../../../src/components/readiness.js';
import { pingHandler } from '../../../src/monitor/handlers/ping.js';
import { parseMonitorQuery } from '../../../src/monitor/handlers/server-monitor.js';
import { testsControlHandler } from '../../../src/monitor/handlers/tests-control.js';
import type { HttpRequest } from '../../../src/monitor/http.js';

const request = (pathParams: Record<string, string>, body = ''): HttpRequest => ({
  method: 'POST',
  path: '/tests/x',
  query: new URLSearchParams(),
  pathParams,
  headers: {},
  body: Buffer.from(body),
});

test('monitor query: json by default, filters passed through, unknown format lists the formats', () => {
  assert.deepEqual(parseMonitorQuery(new URLSearchParams('')), { format: 'json', filter: {} });
  assert.deepEqual(parseMonitorQuery(new URLSearchParams('format=pretty&prefix=tcp-echo.&path=a.b&labels={"reason":"eof"}')), {
    format: 'pretty',
    filter: { prefix: 'tcp-echo.', path: 'a.b', labels: { reason: 'eof' } },
  });
  for (const format of ['xml', '', 'JSON']) {
    assert.throws(
      () => parseMonitorQuery(new URLSearchParams({ format })),
      (e: unknown) =>
        e instanceof HttpBadRequestError &&
        e.status === 400 &&
        e.message === `unknown format '${format}': expected one of json, prometheus, pretty, graphite`,
    );
  }
  assert.throws(() => parseMonitorQuery(new URLSearchParams('labels=oops')), HttpBadRequestError);
});

test('tests-control: reset_metrics resets, control answers {}, unknown action is a 404, bad bodies a 400', async () => {
  let resets = 0;
  const handler = testsControlHandler({
    storage: { resetMetrics: async () => void resets++, snapshot: async () => ({ timestampMs: 0, points: [] }) },
  });
  const reset = await handler(request({ action: 'reset_metrics' }, '{}'));
  assert.deepEqual([reset.status, reset.body, resets], [200, '{}', 1]);
  const control = await handler(request({ action: 'control' }, '{"invalidate_caches":{}}'));
  assert.deepEqual([control.status, control.body, resets], [200, '{}', 1]);
  assert.equal((await handler(request({ action: 'control' }))).status, 200, 'empty body is {}');
  await assert.rejects(
    Promise.resolve().then(() => handler(request({ action: 'launch' }, '{}'))),
    (e: unknown) =>
      e instanceof HttpNotFoundError &&
      e.status === 404 &&
      e.message.startsWith("unknown tests-control action 'launch': expected one of control, get_dynamic_config_defaults, reset_metrics,"),
  );
  for (const body of ['{', '[1]', '"x"', 'null']) {
    await assert.rejects(
      Promise.resolve().then(() => handler(request({ action: 'control' }, body))),
      (e: unknown) => e instanceof HttpBadRequestError && e.status === 400,
      body,
    );
  }
  const withoutStorage = testsControlHandler({});
  assert.equal((await withoutStorage(request({ action: 'reset_metrics' }))).status, 200);
  // A typo gets the nearest action.
  await assert.rejects(
    Promise.resolve().then(() => handler(request({ action: 'reset_metric' }, '{}'))),
    (e: unknown) => e instanceof HttpNotFoundError && e.message.includes("did you mean 'reset_metrics'?"),
  );
});

test('tests-control: bodies as pytest_userver sends them; wrong types are a 400, never a 500', async () => {
  const handler = testsControlHandler({ dynamicConfig: { defaults: { USERVER_LOG_REQUEST: true } } });
  const answer = async (action: string, body: unknown) => {
    const response = await handler(request({ action }, JSON.stringify(body)));
    return [response.status, JSON.parse(String(response.body))];
  };
  assert.deepEqual(await answer('get_dynamic_config_defaults', {}), [200, { USERVER_LOG_REQUEST: true }]);
  assert.deepEqual(await answer('control', { testpoints: ['a'], mock_now: null, invalidate_caches: { update_type: 'full' } }), [200, {}]);
  assert.deepEqual(await answer('metrics_portability', { prefix: null }), [200, {}], 'no storage: nothing to warn about');
  assert.deepEqual(await answer('log_capture', { log_level: 'INFO', socket_logging_duplication: false }), [200, {}]);
  for (const [action, body] of [
    ['control', { testpoints: 'a' }],
    ['control', { mock_now: 5 }],
    ['control', { invalidate_caches: [] }],
    ['log_capture', { log_level: 'loud', socket_logging_duplication: false }],
    ['log_capture', { log_level: 'info' }],
    ['log_capture', { log_level: 'info', socket_logging_duplication: true }],
    ['metrics_portability', { prefix: 3 }],
    ['suspend_periodic_tasks', { names: [1] }],
    ['run_periodic_task', {}],
    ['log_flush', { logger_name: 5 }],
  ] as const) {
    await assert.rejects(
      Promise.resolve().then(() => handler(request({ action }, JSON.stringify(body)))),
      (e: unknown) => e instanceof HttpBadRequestError && e.status === 400,
      `${action} ${JSON.stringify(body)}`,
    );
  }
});

test('ping: 200 while serving, 500 once stopping', async () => {
  const lifecycle = { stopping: false };
  const ping = pingHandler(lifecycle);
  assert.equal((await ping(request({}))).status, 200);
  lifecycle.stopping = true;
  assert.equal((await ping(request({}))).status, 500);
});

test('ping: 503 until every readiness gate is open, 200 then, 500 once stopping', async () => {
  const lifecycle = { stopping: false };
  const readiness = new Readiness();
  const echo = readiness.gate('tcp-echo');
  const manager = readiness.gate('components-manager');
  const ping = pingHandler(lifecycle, readiness);
  assert.equal((await ping(request({}))).status, 503);
  manager.open();
  assert.deepEqual(readiness.waitingFor, ['tcp-echo']);
  assert.equal((await ping(request({}))).status, 503);
  echo.open();
  assert.equal((await ping(request({}))).status, 200);
  echo.close();
  assert.equal((await ping(request({}))).status, 503, 'a gate that closes again (every worker gone) makes the service unready');
  echo.open();
  lifecycle.stopping = true;
  assert.equal((await ping(request({}))).status, 500);
});
