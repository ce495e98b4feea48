/**
 * The PROXY header reader on real loopback sockets, in-process: once the header is read the socket
 * carries exactly the listeners it had at accept (nothing of the reader is left per chunk), the
 * bytes behind the header come first, and the verdicts (timeout, shutdown, EOF) reach the handlers.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { ProxyHeaderReader, type RefusedReason } from '../../../src/echo/proxy-header-reader.js';
import type { ProxyHeader } from '../../../src/echo/proxy-protocol.js';
import { collect, connect, serverClosed } from '../../helpers/echo-client.js';
import { proxyV1, proxyV2 } from '../../helpers/proxy-header.js';

const EVENTS = ['data', 'end', 'error', 'close', 'readable', 'pause', 'resume', 'timeout'] as const;

function listenerCounts(socket: net.Socket): Record<string, number> {
  return Object.fromEntries(EVENTS.map((e) => [e, socket.listenerCount(e)]));
}

interface Harness {
  port: number;
  reader: ProxyHeaderReader;
  headers: Array<{ header: ProxyHeader; atAccept: Record<string, number>; atHeader: Record<string, number> }>;
  refused: Array<{ reason: RefusedReason; detail: string }>;
}

/** A server whose sockets go through the reader and then echo via pipe. */
async function harness(t: TestContext, headerTimeoutMs = 5000): Promise<Harness> {
  const headers: Harness['headers'] = [];
  const refused: Harness['refused'] = [];
  const atAccept = new WeakMap<net.Socket, Record<string, number>>();
  const reader = new ProxyHeaderReader(
    { headerTimeoutMs, maxHeaderBytes: 4096 },
    {
      onHeader(socket, header) {
        headers.push({ header, atAccept: atAccept.get(socket)!, atHeader: listenerCounts(socket) });
        socket.on('error', () => {});
        socket.pipe(socket);
      },
      onRefused(_socket, reason, detail) {
        refused.push({ reason, detail });
      },
    },
  );
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    atAccept.set(socket, listenerCounts(socket));
    reader.begin(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    reader.closeAll();
    server.close();
  });
  return { port: (server.address() as net.AddressInfo).port, reader, headers, refused };
}

test('after the header the socket has exactly its accept-time listeners; the bytes behind the header come first', async (t) => {
  const h = await harness(t);
  const socket = await connect(h.port);
  const payload = Buffer.from('first bytes, sent in the same write as the header');
  const echoed = collect(socket, payload.length, { untilEnd: true });
  socket.end(Buffer.concat([proxyV2({ source: { address: '192.0.2.10', port: 1234 } }), payload]));
  assert.deepEqual(await echoed, payload);
  assert.equal(h.headers.length, 1);
  const [{ header, atAccept, atHeader }] = h.headers as [Harness['headers'][number]];
  assert.deepEqual(header.source, { address: '192.0.2.10', port: 1234 });
  assert.deepEqual(atHeader, atAccept, 'no listener of the reader is left on the socket');
  assert.equal(h.reader.waiting, 0);
  socket.destroy();
});

test('a header that does not complete in time is refused with proxy-timeout; shutdown refuses the rest', async (t) => {
  const h = await harness(t, 200);
  const slow = await connect(h.port);
  slow.write(proxyV1('192.0.2.1', 1, '192.0.2.2', 2).subarray(0, 10));
  await serverClosed(slow);
  slow.destroy();
  assert.equal(h.refused.at(-1)?.reason, 'proxy-timeout');
  assert.match(h.refused.at(-1)!.detail, /no complete header after 200 ms \(10 byte\(s\) received\)/);

  const h2 = await harness(t, 60_000);
  const waiting = await connect(h2.port);
  waiting.write('PROX');
  while (h2.reader.waiting === 0) await new Promise((r) => setTimeout(r, 5));
  h2.reader.closeAll();
  await serverClosed(waiting);
  waiting.destroy();
  assert.deepEqual(h2.refused.map((r) => r.reason), ['shutdown']);
});

test('EOF before any byte is an ordinary eof; EOF inside a header is malformed', async (t) => {
  const h = await harness(t);
  const empty = await connect(h.port);
  empty.end();
  await serverClosed(empty);
  empty.destroy();
  const partial = await connect(h.port);
  partial.end(Buffer.from('PROXY TCP4 1.2'));
  await serverClosed(partial);
  partial.destroy();
  while (h.refused.length < 2) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(h.refused.map((r) => r.reason).sort(), ['eof', 'proxy-malformed']);
});
