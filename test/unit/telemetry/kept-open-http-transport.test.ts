/**
 * The kept-open OTLP/HTTP sender against real collectors on loopback: Node's HTTP server (what
 * most test collectors and the OpenTelemetry Collector's HTTP receiver behave like) and raw TCP
 * servers for what an HTTP server would never do on purpose (answer nothing, close mid-request,
 * answer twice). It must send what the SDK's transport sends, answer the SDK's delegate with the
 * same outcomes, keep one connection across exports, and fail bounded and cleanly otherwise.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { OTLPExporterError } from '@opentelemetry/otlp-exporter-base';
import { KeptOpenHttpTransport, MAX_RESPONSE_BODY_BYTES, OtlpRequestError, type KeptOpenHttpOptions } from '../../../src/telemetry/otlp/kept-open-http-transport.js';
import { HttpResponseError } from '../../../src/telemetry/otlp/http-response-reader.js';
import { RetryingTransport } from '../../../src/telemetry/otlp/retrying-transport.js';
import { until } from '../../helpers/echo-client.js';

/** Generous: the attempt deadline, never a measure of speed. */
const TIMEOUT = 30_000;
/** The SDK transport's User-Agent, from the installed exporter package itself. */
const SDK_AGENT = `OTel-OTLP-Exporter-JavaScript/${
  (JSON.parse(readFileSync(fileURLToPath(new URL('../../../node_modules/@opentelemetry/otlp-exporter-base/package.json', import.meta.url)), 'utf8')) as { version: string }).version
}`;

interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  readonly connection: number;
}

/** A Node HTTP collector whose answer per request `answer` decides; records requests and connections. */
async function collector(t: TestContext, answer: (req: Received, res: http.ServerResponse) => void = (_q, res) => res.end()) {
  const requests: Received[] = [];
  let connections = 0;
  const closed: number[] = [];
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => {
      const received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(parts), connection: (req.socket as net.Socket & { id: number }).id };
      requests.push(received);
      answer(received, res);
    });
  });
  server.on('connection', (socket: net.Socket & { id: number }) => {
    socket.id = ++connections;
    socket.on('close', () => closed.push(socket.id));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces?tenant=a`;
  return { server, url, requests, connections: () => connections, closed };
}

/** A raw TCP collector: `onConnection` owns each socket. */
async function rawCollector(t: TestContext, onConnection: (socket: net.Socket, index: number) => void) {
  let index = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    onConnection(socket, ++index);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`, connections: () => index };
}

function sender(t: TestContext, url: string, options: Partial<KeptOpenHttpOptions> = {}): KeptOpenHttpTransport {
  const transport = new KeptOpenHttpTransport({ url, headers: async () => ({ 'Content-Type': 'application/x-protobuf' }), compression: 'none', ...options });
  t.after(() => transport.shutdown());
  return transport;
}

/** Reads one whole request (head and Content-Length body) from a raw socket. */
function onRequests(socket: net.Socket, handle: (head: string, body: Buffer, n: number) => void): void {
  let buffer = Buffer.alloc(0);
  let n = 0;
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buffer.toString('latin1', 0, end);
      const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
      if (buffer.length < end + 4 + length) return;
      const body = buffer.subarray(end + 4, end + 4 + length);
      buffer = buffer.subarray(end + 4 + length);
      handle(head, body, ++n);
    }
  });
}

describe('kept-open OTLP/HTTP sender', () => {
  it('POSTs the bytes with the resolved headers, and keeps one connection across exports', async (t) => {
    const c = await collector(t, (_q, res) => res.end('{}'));
    const transport = sender(t, c.url, {
      headers: async () => ({ 'Content-Type': 'application/json', 'x-tenant': 'blue', Authorization: 'Bearer t0k3n', 'Content-Length': '999' }),
      userAgent: 'my-app/2',
    });
    const bodies = [Buffer.from('{"resourceSpans":[]}'), Buffer.alloc(300_000, 7), Buffer.from('third')];
    for (const body of bodies) {
      const result = await transport.send(body, TIMEOUT);
      assert.equal(result.status, 'success');
      assert.equal(result.status === 'success' && Buffer.from(result.data ?? []).toString(), '{}');
    }
    assert.equal(c.requests.length, 3);
    for (const [i, request] of c.requests.entries()) {
      assert.equal(request.method, 'POST');
      assert.equal(request.url, '/v1/traces?tenant=a');
      assert.equal(request.headers.host, new URL(c.url).host);
      assert.equal(request.headers['content-type'], 'application/json');
      assert.equal(request.headers['content-length'], String(bodies[i]?.length), 'the framing is ours, not the header function\'s');
      assert.equal(request.headers['x-tenant'], 'blue');
      assert.equal(request.headers.authorization, 'Bearer t0k3n');
      assert.equal(request.headers['user-agent'], `my-app/2 ${SDK_AGENT} tcp-echo-kept-open-sender`, 'the option first, as the SDK puts it');
      assert.deepEqual(request.body, bodies[i]);
      assert.equal(request.connection, 1);
    }
    assert.equal(c.connections(), 1);
    assert.equal(transport.connectionsOpened, 1);
  });

  it("User-Agent: the SDK transport's, with its version, then the sender's token", async (t) => {
    const c = await collector(t, (_q, res) => res.end('{}'));
    const transport = sender(t, c.url, { headers: async () => ({ 'Content-Type': 'application/x-protobuf', 'User-Agent': 'not-this/1' }) });
    assert.equal((await transport.send(Buffer.from('x'), TIMEOUT)).status, 'success');
    assert.match(SDK_AGENT, /\/\d+\.\d+\.\d+/, 'the installed exporter has a version');
    assert.equal(c.requests[0]?.headers['user-agent'], `${SDK_AGENT} tcp-echo-kept-open-sender`, 'a User-Agent header of the configuration is not ours to send twice');
  });

  it('gzip: Content-Encoding gzip and a body that gunzips to the export', async (t) => {
    const c = await collector(t);
    const transport = sender(t, c.url, { compression: 'gzip', headers: async () => ({ 'Content-Encoding': 'identity' }) });
    const body = Buffer.from('span '.repeat(10_000));
    assert.equal((await transport.send(body, TIMEOUT)).status, 'success');
    const [request] = c.requests;
    assert.equal(request?.headers['content-encoding'], 'gzip');
    assert.ok((request?.body.length ?? 0) < body.length);
    assert.deepEqual(gunzipSync(request?.body ?? Buffer.alloc(0)), body);
  });

  it('answers the SDK delegate as its own transport does: success, retryable with Retry-After, failure with the status and body', async (t) => {
    const later = new Date(Date.now() + 120_000).toUTCString();
    const answers: [number, Record<string, string>, string][] = [
      [503, { 'Retry-After': '3' }, 'busy'],
      [429, { 'Retry-After': later }, ''],
      [502, {}, ''],
      [504, { 'Retry-After': 'soon' }, ''],
      [400, {}, 'bad protobuf'],
      [200, {}, 'ok'],
    ];
    const c = await collector(t, (_q, res) => {
      const [status, headers, body] = answers[c.requests.length - 1] ?? [500, {}, ''];
      res.writeHead(status, headers).end(body);
    });
    const transport = sender(t, c.url);
    const results = [];
    for (let i = 0; i < answers.length; i++) results.push(await transport.send(Buffer.from('x'), TIMEOUT));
    const [r503, r429, r502, r504, r400, r200] = results;
    assert.equal(r503?.status, 'retryable');
    assert.equal(r503?.status === 'retryable' && r503.retryInMillis, 3000);
    assert.equal(r429?.status, 'retryable');
    const wait = r429?.status === 'retryable' ? (r429.retryInMillis ?? -1) : -1;
    assert.ok(wait > 60_000 && wait <= 120_000, `an HTTP date is a wait until then (${wait} ms)`);
    assert.deepEqual(r502?.status === 'retryable' && [r502.retryInMillis, (r502.error as OTLPExporterError).code], [undefined, 502]);
    assert.equal(r504?.status === 'retryable' && r504.retryInMillis, undefined, 'an unreadable Retry-After leaves the wait to the backoff');
    assert.equal(r400?.status, 'failure');
    const error = r400?.status === 'failure' ? r400.error : undefined;
    assert.ok(error instanceof OTLPExporterError);
    assert.equal(error.code, 400);
    assert.equal(error.data, 'bad protobuf');
    assert.equal(r200?.status, 'success');
    assert.equal(c.connections(), 1, 'error statuses keep the connection');
  });

  it('reads chunked answers and keeps the connection', async (t) => {
    const c = await collector(t, (_q, res) => {
      res.write('{"partialSuccess":');
      res.end('{}}');
    });
    const transport = sender(t, c.url);
    for (let i = 0; i < 2; i++) {
      const result = await transport.send(Buffer.from('x'), TIMEOUT);
      assert.equal(result.status === 'success' && Buffer.from(result.data ?? []).toString(), '{"partialSuccess":{}}');
    }
    assert.equal(c.connections(), 1);
  });

  it('a response body over 4 MiB fails the export and the connection, and the next export gets a new one', async (t) => {
    const c = await collector(t, (_q, res) => {
      if (c.requests.length === 1) res.end(Buffer.alloc(MAX_RESPONSE_BODY_BYTES + 1));
      else res.end();
    });
    const transport = sender(t, c.url);
    const big = await transport.send(Buffer.from('x'), TIMEOUT);
    assert.equal(big.status, 'failure');
    assert.ok(big.status === 'failure' && big.error instanceof HttpResponseError && big.error.code === 'ERR_OTLP_RESPONSE_TOO_LARGE');
    await until(() => c.closed.includes(1), 'the oversized answer\'s connection to close');
    assert.equal((await transport.send(Buffer.from('y'), TIMEOUT)).status, 'success');
    assert.equal(c.connections(), 2);
  });

  it('a collector that never answers: the attempt ends at its timeout, retryable, and the connection is closed', async (t) => {
    let peerClosed = false;
    const c = await rawCollector(t, (socket) => {
      socket.on('data', () => {});
      socket.on('close', () => (peerClosed = true));
    });
    const transport = sender(t, c.url);
    const result = await transport.send(Buffer.from('x'), 200);
    assert.equal(result.status, 'retryable');
    assert.equal(result.status === 'retryable' && result.error?.message, 'Request timed out');
    await until(() => peerClosed, 'the silent collector to see the close');
  });

  it('nothing listening: retryable ECONNREFUSED', async (t) => {
    const server = net.createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    const result = await sender(t, `http://127.0.0.1:${port}/v1/traces`).send(Buffer.from('x'), TIMEOUT);
    assert.equal(result.status, 'retryable');
    assert.equal(result.status === 'retryable' && (result.error as NodeJS.ErrnoException).code, 'ECONNREFUSED');
  });

  it('a kept-open connection the collector closed while idle is replaced without failing the export', async (t) => {
    const c = await collector(t);
    c.server.keepAliveTimeout = 50;
    const transport = sender(t, c.url);
    assert.equal((await transport.send(Buffer.from('a'), TIMEOUT)).status, 'success');
    await until(() => c.closed.includes(1), 'the collector to close the idle connection');
    assert.equal((await transport.send(Buffer.from('b'), TIMEOUT)).status, 'success');
    assert.deepEqual(c.requests.map((r) => r.connection), [1, 2]);
  });

  it('a close that races the next request (no answer at all) is sent again on a new connection; a close after answering starts is not', async (t) => {
    const c = await rawCollector(t, (socket, index) => {
      onRequests(socket, (_head, _body, n) => {
        if (index === 1 && n === 2) socket.destroy(); // the keep-alive race: closed, nothing answered
        else if (index === 2 && n === 2) socket.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'); // cut mid-answer
        else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      });
    });
    const transport = sender(t, c.url);
    assert.equal((await transport.send(Buffer.from('1'), TIMEOUT)).status, 'success');
    assert.equal((await transport.send(Buffer.from('2'), TIMEOUT)).status, 'success', 'sent again on connection 2');
    assert.equal(c.connections(), 2);
    const cut = await transport.send(Buffer.from('3'), TIMEOUT);
    assert.equal(cut.status, 'retryable', 'an answer cut short is the collector\'s failure: the retry policy decides');
    assert.ok(cut.status === 'retryable' && cut.error instanceof HttpResponseError && cut.error.code === 'ERR_OTLP_RESPONSE_TRUNCATED');
    assert.equal(c.connections(), 2);
  });

  it('bytes nobody asked for, or garbage for an answer, close the connection; the next export works', async (t) => {
    const c = await rawCollector(t, (socket, index) => {
      onRequests(socket, () => {
        if (index === 1) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n');
        else if (index === 2) socket.write('SSH-2.0-OpenSSH\r\n\r\n');
        else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      });
    });
    const transport = sender(t, c.url);
    assert.equal((await transport.send(Buffer.from('1'), TIMEOUT)).status, 'success');
    const garbage = await transport.send(Buffer.from('2'), TIMEOUT);
    assert.equal(garbage.status, 'failure');
    assert.ok(garbage.status === 'failure' && garbage.error instanceof HttpResponseError && garbage.error.code === 'ERR_OTLP_RESPONSE_MALFORMED');
    assert.equal((await transport.send(Buffer.from('3'), TIMEOUT)).status, 'success');
    assert.equal(c.connections(), 3);
  });

  it('a header HTTP does not allow fails the export before anything is sent', async (t) => {
    const c = await collector(t);
    const bad: Record<string, string>[] = [{ 'x-token': 'a\r\nX-Injected: 1' }, { 'bad name': 'v' }];
    for (const headers of bad) {
      const result = await sender(t, c.url, { headers: async () => headers }).send(Buffer.from('x'), TIMEOUT);
      assert.equal(result.status, 'failure');
      assert.ok(result.status === 'failure' && result.error instanceof OtlpRequestError && result.error.code === 'ERR_OTLP_BAD_HEADER');
    }
    assert.equal(c.connections(), 0);
  });

  it('concurrent exports each get a connection, and both connections are kept', async (t) => {
    const held: http.ServerResponse[] = [];
    const c = await collector(t, (_q, res) => {
      held.push(res);
      if (held.length === 2) for (const r of held.splice(0)) r.end();
      else if (c.requests.length > 2) held.shift()?.end();
    });
    const transport = sender(t, c.url);
    const both = await Promise.all([transport.send(Buffer.from('a'), TIMEOUT), transport.send(Buffer.from('b'), TIMEOUT)]);
    assert.deepEqual(both.map((r) => r.status), ['success', 'success']);
    assert.equal(c.connections(), 2);
    assert.equal((await transport.send(Buffer.from('c'), TIMEOUT)).status, 'success');
    assert.equal(c.connections(), 2, 'the third export reuses one of them');
  });

  it('shutdown closes idle connections, and an idle connection never holds the process', async (t) => {
    const c = await collector(t);
    const transport = sender(t, c.url);
    assert.equal((await transport.send(Buffer.from('a'), TIMEOUT)).status, 'success');
    transport.shutdown();
    await until(() => c.closed.includes(1), 'the collector to see the close');
    assert.equal((await transport.send(Buffer.from('b'), TIMEOUT)).status, 'failure', 'a shut-down sender sends nothing');

    // A process whose only handle is the idle kept-open connection exits on its own.
    const module = fileURLToPath(new URL('../../../src/telemetry/otlp/kept-open-http-transport.ts', import.meta.url));
    const script =
      `const { KeptOpenHttpTransport } = await import(${JSON.stringify(module)});` +
      `const t = new KeptOpenHttpTransport({ url: ${JSON.stringify(c.url)}, headers: async () => ({}), compression: 'none', idleMillis: 600000 });` +
      `const r = await t.send(Buffer.from('x'), 30000); console.log(r.status);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (part: Buffer) => (out += part.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    assert.equal(code, 0);
    assert.equal(out.trim(), 'success');
    assert.equal(c.requests.length, 2);
  });
});

describe('retrying transport (the SDK policy) over the kept-open sender', () => {
  it('waits as Retry-After says and succeeds on a later attempt', async (t) => {
    const c = await collector(t, (_q, res) => {
      if (c.requests.length <= 2) res.writeHead(503, { 'Retry-After': '1' }).end();
      else res.end();
    });
    const started = Date.now();
    const result = await new RetryingTransport(sender(t, c.url)).send(Buffer.from('x'), TIMEOUT);
    assert.equal(result.status, 'success');
    assert.equal(c.requests.length, 3);
    assert.ok(Date.now() - started >= 1900, 'two waits of one second each happened');
  });

  it('gives up after 5 retries, and never waits past the deadline', async (t) => {
    const c = await collector(t, (_q, res) => res.writeHead(503, { 'Retry-After': '0' }).end());
    const always = await new RetryingTransport(sender(t, c.url)).send(Buffer.from('x'), TIMEOUT);
    assert.equal(always.status, 'retryable');
    assert.equal(c.requests.length, 6);

    const d = await collector(t, (_q, res) => res.writeHead(429, { 'Retry-After': '3600' }).end());
    const far = await new RetryingTransport(sender(t, d.url)).send(Buffer.from('x'), TIMEOUT);
    assert.equal(far.status, 'retryable');
    assert.equal(d.requests.length, 1, 'a wait beyond the deadline returns the answer instead');
  });

  it('a failure is not retried', async (t) => {
    const c = await collector(t, (_q, res) => res.writeHead(401).end());
    assert.equal((await new RetryingTransport(sender(t, c.url)).send(Buffer.from('x'), TIMEOUT)).status, 'failure');
    assert.equal(c.requests.length, 1);
  });
});
