/** The readiness and liveness answers on their own. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Readiness } from '../../../src/components/readiness.js';
import { livenessHandler, readinessHandler } from '../../../src/monitor/handlers/health.js';
import type { HttpRequest } from '../../../src/monitor/http.js';

const request: HttpRequest = { method: 'GET', path: '/readyz', query: new URLSearchParams(), pathParams: {}, headers: {}, body: Buffer.alloc(0) };

test('readiness: 503 while a gate is closed, 200 once all are open, 503 from the moment shutdown begins', async () => {
  const lifecycle = { stopping: false };
  const readiness = new Readiness();
  const echo = readiness.gate('tcp-echo');
  const handler = readinessHandler(lifecycle, readiness);
  assert.deepEqual(await handler(request), { status: 503, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'starting\n' });
  echo.open();
  assert.equal((await handler(request)).status, 200);
  lifecycle.stopping = true;
  assert.deepEqual((await handler(request)).body, 'shutting down\n');
  assert.equal((await handler(request)).status, 503);
});

test('readiness without gates: ready while not stopping', async () => {
  const lifecycle = { stopping: false };
  const handler = readinessHandler(lifecycle, undefined);
  assert.equal((await handler(request)).status, 200);
  lifecycle.stopping = true;
  assert.equal((await handler(request)).status, 503);
});

test('liveness answers 200', async () => {
  assert.equal((await livenessHandler()(request)).status, 200);
});
