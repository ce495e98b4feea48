/**
 * Bad input to the monitor listener: malformed request lines, 1 MiB headers, too many headers,
 * slow headers (slowloris), bad query parameters, unknown methods, bad bodies, and a crowd of idle
 * connections. Each gets a 4xx or a closed connection, never a 5xx or a stack trace; the monitor
 * answers again right after; and echo clients running the whole time see no error.
 */
import assert from 'node:assert/strict';
import type net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { connect, percentile, pingPong, waitFor, type PingPongResult } from '../../helpers/echo-client.js';
import { looksLikeStackTrace } from '../../helpers/monitor-client.js';
import { rawHttp, type RawResponse } from '../../helpers/raw-http.js';
import { startService, type RunningService } from '../../helpers/service.js';

/** The slow-header bounds this test configures (the listener's defaults are longer). */
const HEADERS_TIMEOUT_MS = 2000;
const REQUEST_TIMEOUT_MS = 3000;
/** The cap on concurrent monitor connections this test configures. */
const MONITOR_MAX_CONNECTIONS = 64;

let service: RunningService;
let echoLoad: Promise<PingPongResult>;
let stopEcho = false;

before(async () => {
  service = await startService({
    components: (c) => {
      const server = c.server as { listener: Record<string, unknown> };
      server.listener.headers_timeout = `${HEADERS_TIMEOUT_MS}ms`;
      server.listener.request_timeout = `${REQUEST_TIMEOUT_MS}ms`;
      server.listener.max_connections = MONITOR_MAX_CONNECTIONS;
    },
  });
  // Echo clients for the whole file: whatever the monitor suffers, they must not notice.
  echoLoad = pingPong(service.echoPort, {
    clients: 8,
    durationMs: 120_000,
    maxRounds: 1_000_000,
    size: 256,
    pauseMs: 5,
    stop: () => stopEcho,
  });
});

after(async () => {
  stopEcho = true;
  await service?.stop();
});

/** A 4xx, or a connection the server closed without answering: anything else fails. */
function assertRejected(what: string, r: RawResponse): void {
  assert.ok(!looksLikeStackTrace(r.text), `${what}: the answer carries a stack trace:\n${r.text.slice(0, 500)}`);
  if (r.status === undefined) {
    assert.ok(r.closedByServer, `${what}: no answer and the connection stayed open (${r.elapsedMs} ms)`);
    return;
  }
  assert.ok(r.status >= 400 && r.status < 500, `${what}: answered ${r.status}, expected a 4xx:\n${r.text.slice(0, 300)}`);
}

/** The monitor still answers /ping with 200. */
async function assertMonitorAlive(what: string): Promise<void> {
  const ok = await waitFor(async () => {
    try {
      const response = await fetch(`${service.monitorUrl}/ping`, { signal: AbortSignal.timeout(10_000) });
      await response.arrayBuffer();
      return response.status === 200;
    } catch {
      return false;
    }
  }, 30_000, 100);
  assert.ok(ok, `after ${what}: /ping no longer answers 200`);
}

const CRLF = '\r\n';

describe('monitor listener under bad input', () => {
  const malformed: Record<string, string | Buffer> = {
    'garbage request line': `GARBAGE${CRLF}${CRLF}`,
    'method only': `GET${CRLF}${CRLF}`,
    'binary bytes': Buffer.from([0, 1, 2, 255, 254, 13, 10, 13, 10]),
    'space in the target': `GET /service monitor HTTP/1.1${CRLF}Host: x${CRLF}${CRLF}`,
    'bad header line': `GET /ping HTTP/1.1${CRLF}no colon here${CRLF}${CRLF}`,
    'control bytes in a header': `GET /ping HTTP/1.1${CRLF}X-A: a\u0000b${CRLF}${CRLF}`,
    'negative content-length': `POST /tests/control HTTP/1.1${CRLF}Host: x${CRLF}Content-Length: -1${CRLF}${CRLF}`,
    'two content-lengths': `POST /tests/control HTTP/1.1${CRLF}Host: x${CRLF}Content-Length: 2${CRLF}Content-Length: 3${CRLF}${CRLF}{}`,
    'bad chunk size': `POST /tests/control HTTP/1.1${CRLF}Host: x${CRLF}Transfer-Encoding: chunked${CRLF}${CRLF}zz${CRLF}{}${CRLF}0${CRLF}${CRLF}`,
    'content-length and chunked (smuggling shape)': `GET /ping HTTP/1.1${CRLF}Host: x${CRLF}Content-Length: 1${CRLF}Transfer-Encoding: chunked${CRLF}${CRLF}0${CRLF}${CRLF}`,
    'declared body far over max_body_size': `POST /tests/reset_metrics HTTP/1.1${CRLF}Host: x${CRLF}Content-Length: 999999999${CRLF}${CRLF}`,
    'unknown method': `BREW /service/monitor HTTP/1.1${CRLF}Host: x${CRLF}${CRLF}`,
    'CONNECT': `CONNECT 127.0.0.1:1 HTTP/1.1${CRLF}Host: 127.0.0.1:1${CRLF}${CRLF}`,
  };
  // Odd but legal: Node's parser takes `GET /ping` as an HTTP/0.9 request, and an Upgrade the server
  // does not handle is served as a plain request. Any answer but a 5xx or a stack trace is fine.
  const odd: Record<string, string> = {
    'missing version (HTTP/0.9)': `GET /ping${CRLF}${CRLF}`,
    'upgrade to websocket': `GET /ping HTTP/1.1${CRLF}Host: x${CRLF}Connection: Upgrade${CRLF}Upgrade: websocket${CRLF}${CRLF}`,
  };
  for (const [what, request] of Object.entries(odd)) {
    test(`odd request: ${what}`, async () => {
      const r = await rawHttp(service.monitorPort, [request], { timeoutMs: 2000 });
      assert.ok(!looksLikeStackTrace(r.text), `${what}: stack trace:\n${r.text.slice(0, 500)}`);
      assert.ok(r.status === undefined || r.status < 500, `${what}: answered ${r.status}`);
      await assertMonitorAlive(what);
    });
  }
  for (const [what, request] of Object.entries(malformed)) {
    test(`malformed request: ${what}`, async () => {
      assertRejected(what, await rawHttp(service.monitorPort, [request], { timeoutMs: 5000 }));
      await assertMonitorAlive(what);
    });
  }

  test('wrong methods on known paths and unknown paths are 4xx', async () => {
    const cases: [string, string][] = [
      ['DELETE', '/service/monitor'],
      ['PUT', '/ping'],
      ['PATCH', '/metrics'],
      ['GET', '/tests/control'],
      ['OPTIONS', '/service/monitor'],
      ['TRACE', '/ping'],
      ['GET', '/no/such/path'],
      ['GET', '/../../etc/passwd'],
      ['GET', '//service/monitor'],
    ];
    for (const [method, target] of cases) {
      const r = await rawHttp(service.monitorPort, [`${method} ${target} HTTP/1.1${CRLF}Host: x${CRLF}Connection: close${CRLF}${CRLF}`]);
      // `//service/monitor` may be normalised to the real path: a 200 is fine there.
      if (target === '//service/monitor' && r.status === 200) continue;
      assertRejected(`${method} ${target}`, r);
      assert.notEqual(r.status, undefined, `${method} ${target}: a well-formed request deserves an answer`);
    }
  });

  test('1 MiB of headers: 431 or closed', async () => {
    const big = 'a'.repeat(1024 * 1024);
    assertRejected('1 MiB header', await rawHttp(service.monitorPort, [`GET /ping HTTP/1.1${CRLF}Host: x${CRLF}X-Big: ${big}${CRLF}${CRLF}`]));
    assertRejected('1 MiB URL', await rawHttp(service.monitorPort, [`GET /service/monitor?prefix=${big} HTTP/1.1${CRLF}Host: x${CRLF}${CRLF}`]));
    const many = Array.from({ length: 20_000 }, (_, i) => `X-H${i}: v${CRLF}`).join('');
    assertRejected('20,000 headers', await rawHttp(service.monitorPort, [`GET /ping HTTP/1.1${CRLF}Host: x${CRLF}${many}${CRLF}`]));
    await assertMonitorAlive('huge headers');
  });

  test('bad query parameters: 400, never 5xx', async () => {
    const queries = [
      'format=xml',
      'format=',
      'format=JSON%00',
      'labels={bad',
      'labels=[1,2]',
      'labels="x"',
      'labels=null',
      'labels={"a":{"b":1}}',
      `labels=${'['.repeat(10_000)}`,
      'format=json&format=xml',
      'prefix=%ZZ',
      'path=%E0%A4%A',
    ];
    const mustBe400 = new Set(['format=xml', 'labels={bad', 'labels=[1,2]']);
    for (const query of queries) {
      const response = await fetch(`${service.monitorUrl}/service/monitor?${query}`, { signal: AbortSignal.timeout(5000) });
      const body = await response.text();
      assert.ok(response.status < 500, `?${query}: answered ${response.status}: ${body.slice(0, 200)}`);
      assert.ok(!looksLikeStackTrace(body), `?${query}: stack trace in the body:\n${body.slice(0, 500)}`);
      if (mustBe400.has(query)) assert.equal(response.status, 400, `?${query}: ${body.slice(0, 200)}`);
    }
    await assertMonitorAlive('bad queries');
  });

  test('bad tests-control bodies: never a 5xx or a stack trace', async () => {
    const bodies = ['not json', '{"a":', '[]', '"x"', 'x'.repeat(2 * 1024 * 1024)];
    for (const body of bodies) {
      let status: number;
      let text: string;
      try {
        const response = await fetch(`${service.monitorUrl}/tests/reset_metrics`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json' },
          signal: AbortSignal.timeout(5000),
        });
        status = response.status;
        text = await response.text();
      } catch (error) {
        // A server that closes the connection on an oversized body is fine too.
        assert.ok(body.length > 1_000_000, `body ${JSON.stringify(body.slice(0, 20))}: ${(error as Error).message}`);
        continue;
      }
      // userver's tests-control ignores what it cannot use; a 200 for a harmless body is allowed, a 5xx never.
      assert.ok(status < 500, `body ${JSON.stringify(body.slice(0, 20))}: answered ${status}: ${text.slice(0, 200)}`);
      assert.ok(!looksLikeStackTrace(text), `stack trace in the answer:\n${text.slice(0, 500)}`);
    }
    await assertMonitorAlive('bad bodies');
  });

  test('slow headers (slowloris) are cut off by the headers timeout', async () => {
    // One header byte every 300 ms, forever (bounded to 30 parts): the server must give up.
    const parts = [`GET /ping HTTP/1.1${CRLF}Host: x${CRLF}`, ...Array.from({ length: 30 }, () => 'X')];
    // Cut off by the server while the client is still sending (its last part goes out after 9 s,
    // far past the 2 s timeout): a bound on what the timeout does, with room for a loaded machine.
    const gapMs = 300;
    const bound = (parts.length - 1) * gapMs;
    const clients = await Promise.all(
      Array.from({ length: 20 }, () => rawHttp(service.monitorPort, parts, { gapMs, timeoutMs: bound + 5000, untilClose: true })),
    );
    for (const r of clients) {
      assertRejected('slowloris', r);
      assert.ok(r.closedByServer && r.elapsedMs <= bound, `slow headers held the connection for ${r.elapsedMs} ms (bound ${bound})`);
    }
    // A slow body after complete headers is cut off by the request timeout.
    const slowBody = [
      `POST /tests/control HTTP/1.1${CRLF}Host: x${CRLF}Content-Length: 1000${CRLF}${CRLF}`,
      ...Array.from({ length: 40 }, () => ' '),
    ];
    const bodyBound = (slowBody.length - 1) * gapMs;
    const body = await rawHttp(service.monitorPort, slowBody, { gapMs, timeoutMs: bodyBound + 10_000, untilClose: true });
    assertRejected('slow body', body);
    assert.ok(body.closedByServer && body.elapsedMs <= bodyBound, `slow body held for ${body.elapsedMs} ms (bound ${bodyBound}, request timeout ${REQUEST_TIMEOUT_MS})`);
    await assertMonitorAlive('slowloris');
  });

  test('a crowd of idle monitor connections: echo unaffected, monitor recovers', async () => {
    const idle: net.Socket[] = [];
    let closedByServer = 0;
    try {
      for (let i = 0; i < 1000; i++) {
        try {
          const socket = await connect(service.monitorPort, { timeoutMs: 2000, allowHalfOpen: false });
          socket.on('error', () => {});
          socket.on('close', () => closedByServer++);
          socket.resume(); // see the server's FIN
          idle.push(socket);
        } catch {
          break; // the listener refusing more is one correct answer
        }
      }
      // The listener caps concurrent connections (server.listener.max_connections, default 128):
      // the rest are closed at once.
      await waitFor(() => idle.length - closedByServer <= MONITOR_MAX_CONNECTIONS, 30_000, 50);
      const open = idle.length - closedByServer;
      assert.ok(open <= MONITOR_MAX_CONNECTIONS, `${open} of ${idle.length} idle monitor connections stay open`);
    } finally {
      idle.forEach((s) => s.destroy());
    }
    await assertMonitorAlive(`${idle.length} idle monitor connections`);
  });

  test('echo clients saw nothing of all this', async (t) => {
    stopEcho = true;
    const result = await echoLoad;
    assert.deepEqual(result.errors, []);
    assert.equal(result.mismatches, 0);
    assert.ok(result.latenciesMs.length > 100, `only ${result.latenciesMs.length} echo rounds`);
    // Every round came back within pingPong's 10 s round bound (else it is in `errors`); the
    // latency is reported, not asserted (on a busy machine it measures the machine).
    t.diagnostic(`echo p99 ${percentile(result.latenciesMs, 99).toFixed(1)} ms over ${result.latenciesMs.length} rounds`);
    assert.equal(service.child.exitCode, null, 'the service is still running');
  });
});
