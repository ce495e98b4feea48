/** The raw HTTP helper stops at the first complete response, or waits for the close when asked. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { rawHttp } from '../../helpers/raw-http.js';

/** A server that answers each request with `response` and keeps the connection open until `closeAfterMs`. */
async function server(t: TestContext, response: string, closeAfterMs: number): Promise<number> {
  const s = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => socket.write(response));
    setTimeout(() => socket.destroy(), closeAfterMs).unref();
  });
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  t.after(() => s.close());
  return (s.address() as net.AddressInfo).port;
}

const REQUEST = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';

test('a Content-Length response ends the exchange; the connection is left to us', async (t) => {
  const response = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello';
  const port = await server(t, response, 60_000);
  const r = await rawHttp(port, [REQUEST], { timeoutMs: 30_000 });
  assert.equal(r.status, 200);
  assert.equal(r.text, response);
  assert.equal(r.closedByServer, false);
  assert.ok(r.elapsedMs < 30_000, 'ended by the response, not by the timeout');
});

test('a chunked response ends at its last chunk', async (t) => {
  const response = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n';
  const port = await server(t, response, 60_000);
  const r = await rawHttp(port, [REQUEST], { timeoutMs: 30_000 });
  assert.equal(r.text, response);
  assert.equal(r.closedByServer, false);
});

test('untilClose waits for the server to close; a response without framing is read to the close', async (t) => {
  const framed = await server(t, 'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n', 200);
  const waited = await rawHttp(framed, [REQUEST], { timeoutMs: 30_000, untilClose: true });
  assert.equal(waited.status, 400);
  assert.equal(waited.closedByServer, true);

  const unframed = await server(t, 'HTTP/1.0 200 OK\r\n\r\nuntil the end', 200);
  const r = await rawHttp(unframed, [REQUEST], { timeoutMs: 30_000 });
  assert.equal(r.text, 'HTTP/1.0 200 OK\r\n\r\nuntil the end');
  assert.equal(r.closedByServer, true);
});
