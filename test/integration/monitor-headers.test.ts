/**
 * `server.listener.max_headers_count` as Node 22/24 enforce it: a request with at most that many
 * headers is served; one with more is answered 431 (not served with the extra headers dropped,
 * as Node 20 did), and the listener keeps serving.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rawHttp } from '../helpers/raw-http.js';
import { startService } from '../helpers/service.js';

test('max_headers_count: more headers than allowed get 431, up to it are served', { timeout: 60_000 }, async (t) => {
  const service = await startService({
    components: (c) => {
      c.server = { listener: { ...(c.server!.listener as Record<string, unknown>), max_headers_count: 10 } };
    },
  });
  t.after(() => service.stop());
  const request = (headers: string[]) =>
    rawHttp(service.monitorPort, [`GET /ping HTTP/1.0\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`]);
  // 10 leaves room for the readiness probe's fetch (about 7 headers).
  const ten = ['Host: 127.0.0.1', ...Array.from({ length: 9 }, (_, i) => `X-H${i}: ${i}`)];
  assert.equal((await request(ten)).status, 200, 'ten headers: served');
  assert.equal((await request([...ten, 'X-More: 1', 'X-Most: 2'])).status, 431, 'twelve headers: 431');
  assert.equal((await request(ten)).status, 200, 'still serving');
});
