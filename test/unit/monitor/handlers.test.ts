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
  const handler = testsControlHandler({ resetMetrics: async () => void resets++ });
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
      e.message === "unknown tests-control action 'launch': expected one of reset_metrics, control",
  );
  for (const body of ['{', '[1]', '"x"', 'null']) {
    await assert.rejects(
      Promise.resolve().then(() => handler(request({ action: 'control' }, body))),
      (e: unknown) => e instanceof HttpBadRequestError && e.status === 400,
      body,
    );
  }
  const withoutStorage = testsControlHandler(undefined);
  assert.equal((await withoutStorage(request({ action: 'reset_metrics' }))).status, 200);
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
