/** The readiness and liveness answers on their own. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isReadinessSource } from '../../../src/components/readiness.js';
import { livenessHandler, readinessHandler } from '../../../src/monitor/handlers/health.js';
import type { HttpRequest } from '../../../src/monitor/http.js';

const request: HttpRequest = { method: 'GET', path: '/readyz', query: new URLSearchParams(), pathParams: {}, headers: {}, body: Buffer.alloc(0) };

test('readiness: 503 while the echo is not ready, 200 once it is, 503 from the moment shutdown begins', async () => {
  const lifecycle = { stopping: false };
  const echo = { ready: false };
  const handler = readinessHandler(lifecycle, () => echo);
  assert.deepEqual(await handler(request), { status: 503, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'starting\n' });
  echo.ready = true;
  assert.equal((await handler(request)).status, 200);
  lifecycle.stopping = true;
  assert.deepEqual((await handler(request)).body, 'shutting down\n');
  assert.equal((await handler(request)).status, 503);
});

test('readiness without an echo component: ready while not stopping', async () => {
  const lifecycle = { stopping: false };
  const handler = readinessHandler(lifecycle, () => undefined);
  assert.equal((await handler(request)).status, 200);
  lifecycle.stopping = true;
  assert.equal((await handler(request)).status, 503);
});

test('liveness answers 200; readiness sources are recognised by a boolean ready', async () => {
  assert.equal((await livenessHandler()(request)).status, 200);
  assert.ok(isReadinessSource({ ready: false }));
  assert.ok(!isReadinessSource({ start() {} }));
  assert.ok(!isReadinessSource(undefined));
});
