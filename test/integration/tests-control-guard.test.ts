/**
 * tests-control refuses what a browser on another site can send (issue 15, item 2): a POST with
 * `Content-Type: text/plain` (or none), any `Origin`, or `Sec-Fetch-Site: cross-site`, gets a 4xx
 * and changes nothing; userver's test client (JSON, no Origin) still works.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { collect, connect } from '../helpers/echo-client.js';
import { metric } from '../helpers/monitor-client.js';
import { rawHttp } from '../helpers/raw-http.js';
import { startService, type RunningService } from '../helpers/service.js';

const CRLF = '\r\n';
let service: RunningService;

before(async () => {
  service = await startService();
});
after(() => service?.stop());

/** One echo round trip, so `tcp-echo.sockets.opened` moves. */
async function echoOnce(): Promise<void> {
  const socket = await connect(service.echoPort);
  const received = collect(socket, 2, { untilEnd: true, timeoutMs: 10_000 });
  socket.end('hi');
  await received;
  socket.destroy();
}

/** A raw POST with exactly these headers (fetch would add its own). */
async function post(path: string, headers: Record<string, string>, body = '{}'): Promise<number | undefined> {
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}${CRLF}`).join('');
  const request = `POST ${path} HTTP/1.1${CRLF}Host: 127.0.0.1${CRLF}${lines}Content-Length: ${Buffer.byteLength(body)}${CRLF}Connection: close${CRLF}${CRLF}${body}`;
  const response = await rawHttp(service.monitorPort, [request], { timeoutMs: 10_000 });
  return response.status;
}

describe('tests-control CSRF guard', () => {
  const refused: [string, Record<string, string>, string?, number?][] = [
    ['text/plain (a simple cross-site POST)', { 'Content-Type': 'text/plain' }, '{}', 415],
    ['no Content-Type and no body', {}, '', 415],
    ['a form content type', { 'Content-Type': 'application/x-www-form-urlencoded' }, 'a=1', 415],
    ['JSON with a foreign Origin', { 'Content-Type': 'application/json', Origin: 'https://evil.example' }, '{}', 403],
    ['text/plain with a foreign Origin', { 'Content-Type': 'text/plain', Origin: 'https://evil.example' }, '{}', 403],
    ['Origin: null (sandboxed page)', { 'Content-Type': 'application/json', Origin: 'null' }, '{}', 403],
    ['Sec-Fetch-Site: cross-site', { 'Content-Type': 'application/json', 'Sec-Fetch-Site': 'cross-site' }, '{}', 403],
    ['Sec-Fetch-Site: same-site', { 'Content-Type': 'application/json', 'Sec-Fetch-Site': 'same-site' }, '{}', 403],
  ];
  for (const [label, headers, body, status] of refused) {
    test(`reset_metrics refused: ${label} → ${status}; counters kept`, async () => {
      await echoOnce();
      const before = await metric(service, 'tcp-echo.sockets.opened', {}, 'exact');
      assert.ok(before > 0);
      assert.equal(await post('/tests/reset_metrics', headers, body), status);
      assert.ok((await metric(service, 'tcp-echo.sockets.opened', {}, 'exact')) >= before, 'the counters were not reset');
    });
  }

  test('every action is guarded (control, unknown actions)', async () => {
    for (const action of ['control', 'reset_metrics', 'no_such_action']) {
      assert.equal(await post(`/tests/${action}`, { 'Content-Type': 'text/plain' }), 415, action);
      assert.equal(await post(`/tests/${action}`, { 'Content-Type': 'application/json', Origin: 'http://x' }), 403, action);
    }
  });

  test("userver's test client shape (JSON, no Origin) and Sec-Fetch-Site none/same-origin are served", async () => {
    assert.equal(await post('/tests/control', { 'Content-Type': 'application/json' }), 200);
    assert.equal(await post('/tests/control', { 'Content-Type': 'application/json; charset=utf-8' }), 200);
    assert.equal(await post('/tests/control', { 'Content-Type': 'Application/JSON', 'Sec-Fetch-Site': 'none' }), 200);
    assert.equal(await post('/tests/control', { 'Content-Type': 'application/json', 'Sec-Fetch-Site': 'same-origin' }), 200);
    await echoOnce();
    assert.ok((await metric(service, 'tcp-echo.sockets.opened', {}, 'exact')) > 0);
    assert.equal(await post('/tests/reset_metrics', { 'Content-Type': 'application/json' }), 200);
    assert.equal(await metric(service, 'tcp-echo.sockets.opened', {}, 'exact'), 0, 'reset');
  });
});
