/**
 * PROXY protocol on the real echo listener (`tcp-echo.proxy_protocol`), over real sockets: the
 * header is read and never echoed, the span and the log lines name the client it reports, and every
 * bad header closes only its own connection with its own close reason.
 */
import assert from 'node:assert/strict';
import type net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { collect, connect, firstDifference, ping, randomData, serverClosed, sleep, writeChunked } from '../helpers/echo-client.js';
import { metric, metricUntil } from '../helpers/monitor-client.js';
import { startOtlpReceiver, summary, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { proxyV1, proxyV1Unknown, proxyV2 } from '../helpers/proxy-header.js';
import { startService, type RunningService } from '../helpers/service.js';

const HEADER_TIMEOUT_MS = 2000;
const MAX_HEADER_BYTES = 512;
const REASONS = 'tcp-echo.sockets.close-reasons';

let service: RunningService;
let receiver: OtlpReceiver;

before(async () => {
  receiver = await startOtlpReceiver();
  service = await startService({
    env: { OTEL_SDK_DISABLED: 'false', OTEL_BSP_SCHEDULE_DELAY: '50', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url },
    components: (c) => {
      c['tcp-echo'] = {
        ...c['tcp-echo'],
        proxy_protocol: { enabled: true, header_timeout: `${HEADER_TIMEOUT_MS}ms`, max_header_size: MAX_HEADER_BYTES },
      };
    },
  });
});

after(async () => {
  await service?.stop();
  await receiver?.close();
});

/** Sends `header` then `payload` (each in `chunkSizes` writes), half-closes, and returns the whole echo. */
async function echoBehind(header: Buffer, payload: Buffer, chunkSizes: readonly number[] = [payload.length || 1]): Promise<{ echoed: Buffer; port: number }> {
  const socket = await connect(service.echoPort);
  // Read now: a closed socket no longer knows its port.
  const port = socket.localPort as number;
  try {
    const echoed = collect(socket, payload.length, { untilEnd: true });
    await writeChunked(socket, header, chunkSizes);
    await writeChunked(socket, payload, chunkSizes);
    socket.end();
    return { echoed: await echoed, port };
  } finally {
    socket.destroy();
  }
}

/** The `sock` span of the connection from local port `port` (the balancer side, i.e. the test's socket). */
async function sockSpanFrom(port: number): Promise<ReceivedSpan> {
  const spans = await receiver.waitFor((s) => s.some((x) => x.name === 'sock' && x.attributes['network.peer.port'] === port), 15_000);
  return spans.find((x) => x.name === 'sock' && x.attributes['network.peer.port'] === port) as ReceivedSpan;
}

async function closeReason(reason: string): Promise<number> {
  return metric(service, REASONS, { reason }, 'exact');
}

/** Sends `bytes` and expects the service to close the connection without echoing anything. */
async function expectRefused(bytes: Buffer, reason: string): Promise<void> {
  const before = await closeReason(reason);
  const socket = await connect(service.echoPort);
  socket.on('error', () => {});
  const received: Buffer[] = [];
  socket.on('data', (c: Buffer) => received.push(c));
  socket.write(bytes);
  await serverClosed(socket);
  socket.destroy();
  assert.equal(Buffer.concat(received).length, 0, 'nothing is echoed of a refused header');
  assert.equal(await metricUntil(service, REASONS, { reason }, 'exact', (v: number) => v >= before + 1), before + 1, `close reason ${reason}`);
}

describe('PROXY protocol on the echo listener', () => {
  it('v1 TCP4: the header is not echoed, the rest is byte-identical; span and log lines name the client', async (t) => {
    const payload = randomData(100_000);
    const { echoed, port } = await echoBehind(proxyV1('203.0.113.7', 51234, '10.0.0.5', 8181), payload, [7, 1000, 65536]);
    assert.equal(firstDifference(echoed, payload), -1);
    const span = await sockSpanFrom(port);
    const a = span.attributes;
    assert.equal(a['client.address'], '203.0.113.7');
    assert.equal(a['client.port'], 51234);
    assert.equal(a['network.peer.address'], '127.0.0.1', 'the peer stays the balancer');
    assert.equal(a['sock.bytes_written'], payload.length);
    t.diagnostic(`span: ${JSON.stringify(a)}`);
    const lines = () => service.stderr().split('\n').filter((l) => l.includes(`trace_id=${span.traceId}`));
    await metricUntil(service, 'tcp-echo.sockets.active', {}, 'exact', (v: number) => v === 0);
    const connectionLines = lines();
    assert.ok(connectionLines.some((l) => l.includes('text=Accepted connection')), connectionLines.join('\n'));
    assert.ok(connectionLines.some((l) => l.includes('text=Closing socket')), connectionLines.join('\n'));
    for (const line of connectionLines) {
      assert.match(line, /\tclient_address=203\.0\.113\.7(\t|$)/);
      assert.match(line, /\tclient_port=51234(\t|$)/);
    }
  });

  it('v1 TCP6 names the IPv6 client; v1 UNKNOWN keeps the socket peer', async () => {
    const six = await echoBehind(proxyV1('2001:db8::7', 443, '2001:db8::1', 8181), Buffer.from('over six\n'));
    assert.equal(six.echoed.toString(), 'over six\n');
    const sixSpan = await sockSpanFrom(six.port);
    assert.equal(sixSpan.attributes['client.address'], '2001:db8::7');
    assert.equal(sixSpan.attributes['client.port'], 443);

    const unknown = await echoBehind(proxyV1Unknown(), Buffer.from('unknown\n'));
    assert.equal(unknown.echoed.toString(), 'unknown\n');
    const unknownSpan = await sockSpanFrom(unknown.port);
    assert.equal(unknownSpan.attributes['client.address'], undefined);
    assert.equal(unknownSpan.attributes['network.peer.address'], '127.0.0.1');
  });

  it('v2 PROXY with TLVs, sent one byte per write, then data in small writes: echo identical, client from the header', async (t) => {
    const header = proxyV2({
      source: { address: '198.51.100.9', port: 40000 },
      destination: { address: '10.1.2.3', port: 8181 },
      tlvs: [
        { type: 0x02, value: Buffer.from('echo.example.com') },
        { type: 0xea, value: Buffer.from('\x01vpce-0123456789abcdef', 'latin1') },
      ],
    });
    const socket = await connect(service.echoPort);
    const port = socket.localPort as number;
    socket.setNoDelay(true);
    const payload = randomData(4096);
    const echoed = collect(socket, payload.length, { untilEnd: true });
    // One byte per write with a pause between: the header reaches the service in many segments.
    for (const byte of header) {
      socket.write(Buffer.of(byte));
      await sleep(2);
    }
    await writeChunked(socket, payload, [1, 3, 100]);
    socket.end();
    assert.equal(firstDifference(await echoed, payload), -1);
    socket.destroy();
    const span = await sockSpanFrom(port);
    assert.equal(span.attributes['client.address'], '198.51.100.9');
    assert.equal(span.attributes['client.port'], 40000);
    assert.equal(span.attributes['network.peer.address'], '127.0.0.1');
    t.diagnostic(`v2 span: ${summary([span])} ${JSON.stringify(span.attributes)}`);
  });

  it('v2 TCP6 and v2 LOCAL (a health check: the socket peer stands)', async () => {
    const six = await echoBehind(proxyV2({ source: { address: '2001:db8:0:0:1::42', port: 9 }, destination: { address: '::1', port: 1 } }), Buffer.from('v2 six'));
    assert.equal(six.echoed.toString(), 'v2 six');
    assert.equal((await sockSpanFrom(six.port)).attributes['client.address'], '2001:db8::1:0:0:42');
    const local = await echoBehind(proxyV2({ command: 'local' }), Buffer.from('local'));
    assert.equal(local.echoed.toString(), 'local');
    assert.equal((await sockSpanFrom(local.port)).attributes['client.address'], undefined);
  });

  it('garbage, a malformed and an oversized header each close only their connection, with their own close reason', async () => {
    // A connection that is already echoing must not notice any of it.
    const bystander = await connect(service.echoPort);
    bystander.write(proxyV1('192.0.2.1', 1, '192.0.2.2', 2));
    await ping(bystander, Buffer.from('before'));

    await expectRefused(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 'proxy-missing');
    await expectRefused(Buffer.from('PROXY TCP4 1.2.3.4 not-an-address 1 2\r\nhello'), 'proxy-malformed');
    const oversized = proxyV2({ source: { address: '1.2.3.4', port: 5 }, tlvs: [{ type: 0xe0, value: Buffer.alloc(MAX_HEADER_BYTES) }] });
    await expectRefused(oversized, 'proxy-oversized');
    await expectRefused(Buffer.from('PROXY UNKNOWN ' + 'x'.repeat(200)), 'proxy-oversized');

    await ping(bystander, Buffer.from('after'));
    bystander.end();
    await serverClosed(bystander);
    bystander.destroy();
  });

  it('a header that never completes is closed at header_timeout (reason proxy-timeout)', async () => {
    const before = await closeReason('proxy-timeout');
    const socket = await connect(service.echoPort);
    socket.on('error', () => {});
    const started = performance.now();
    socket.write(proxyV2({ source: { address: '1.2.3.4', port: 5 } }).subarray(0, 20));
    await serverClosed(socket, HEADER_TIMEOUT_MS * 10);
    const waited = performance.now() - started;
    socket.destroy();
    // A timer never fires early; a little slack for the clocks of two processes.
    assert.ok(waited >= HEADER_TIMEOUT_MS - 50, `closed after ${Math.round(waited)} ms, before the ${HEADER_TIMEOUT_MS} ms timeout`);
    assert.equal(await metricUntil(service, REASONS, { reason: 'proxy-timeout' }, 'exact', (v: number) => v >= before + 1), before + 1);
  });

  it('half-close after the header: everything sent is echoed, then the service closes', async () => {
    const socket = await connect(service.echoPort);
    const payload = randomData(300_000);
    const echoed = collect(socket, payload.length, { untilEnd: true });
    socket.write(proxyV1('203.0.113.8', 2, '10.0.0.5', 8181));
    await writeChunked(socket, payload, [65536]);
    socket.end();
    assert.equal(firstDifference(await echoed, payload), -1);
    socket.destroy();
  });

  it('backpressure after the header: a client that stops reading pauses the echo, then gets every byte', async () => {
    const pausesBefore = await metric(service, 'tcp-echo.backpressure.pauses', {}, 'exact');
    const socket: net.Socket = await connect(service.echoPort);
    socket.pause();
    const payload = randomData(8 * 1024 * 1024);
    socket.write(proxyV2({ source: { address: '198.51.100.10', port: 7 } }));
    const written = writeChunked(socket, payload, [65536]);
    await metricUntil(service, 'tcp-echo.backpressure.pauses', {}, 'exact', (v: number) => v > pausesBefore, 20_000);
    assert.ok((await metric(service, 'tcp-echo.backpressure.pauses', {}, 'exact')) > pausesBefore, 'the echo paused reading');
    const echoed = collect(socket, payload.length, { untilEnd: true, timeoutMs: 60_000 });
    await written;
    socket.end();
    assert.equal(firstDifference(await echoed, payload), -1);
    socket.destroy();
  });

  it('connections that close before sending anything count as eof, not as a bad header', async () => {
    const before = await closeReason('eof');
    const missing = await closeReason('proxy-missing');
    const socket = await connect(service.echoPort);
    socket.end();
    await serverClosed(socket);
    socket.destroy();
    assert.ok((await metricUntil(service, REASONS, { reason: 'eof' }, 'exact', (v: number) => v > before)) > before);
    assert.equal(await closeReason('proxy-missing'), missing);
  });
});

describe('PROXY protocol in cluster mode', () => {
  it('workers read the header and echo; their refusals show in the merged close reasons', { timeout: 120_000 }, async () => {
    const cluster = await startService({
      readyTimeoutMs: 60_000,
      components: (c) => {
        c['tcp-echo'] = { ...c['tcp-echo'], workers: 2, proxy_protocol: { enabled: true } };
      },
    });
    try {
      const socket = await connect(cluster.echoPort);
      const echoed = collect(socket, 5, { untilEnd: true });
      socket.end(Buffer.concat([proxyV1('203.0.113.9', 9, '10.0.0.5', 8181), Buffer.from('hello')]));
      assert.equal((await echoed).toString(), 'hello');
      socket.destroy();

      const garbage = await connect(cluster.echoPort);
      garbage.on('error', () => {});
      garbage.write('not a header');
      await serverClosed(garbage);
      garbage.destroy();
      const reasons = 'tcp-echo.sockets.close-reasons';
      assert.equal(await metricUntil(cluster, reasons, { reason: 'proxy-missing' }, 'exact', (v: number) => v >= 1, 20_000), 1);
    } finally {
      await cluster.stop();
    }
  });
});
