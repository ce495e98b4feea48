/**
 * The OpenTelemetry ConnectionTracer against real loopback sockets of our own and the in-test
 * OTLP receiver, in process (the echo component is exercised in test/integration/tracing.test.ts).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { validate } from '../../../src/config/schema.js';
import type { LogFields, LogLevel, Logger } from '../../../src/log/logger.js';
import type { ConnectionInfo, ConnectionTrace, ConnectionTracer } from '../../../src/telemetry/connection-trace.js';
import { TracingPipeline } from '../../../src/telemetry/tracing/pipeline.js';
import { SpanCounters } from '../../../src/telemetry/tracing/span-counters.js';
import { resolveTracingSettings, tracerSchema, type TracingSettings } from '../../../src/telemetry/tracing/settings.js';
import { byTrace, SPAN_KIND, startOtlpReceiver, type OtlpReceiver } from '../../helpers/otlp-receiver.js';

const AT = { file: 'test.yaml', keyPath: 'components_manager.components.tracer' };

interface Line {
  level: LogLevel;
  text: string;
  fields: Record<string, unknown>;
}

/** A Logger that records lines with their bound and per-call fields. */
function recordingLogger(lines: Line[], bound: LogFields = {}, level: LogLevel = 'debug'): Logger {
  const order = ['trace', 'debug', 'info', 'warning', 'error', 'critical', 'none'];
  const enabled = (l: LogLevel) => order.indexOf(l) >= order.indexOf(level);
  const method = (l: LogLevel) => (text: string, fields?: LogFields) => {
    if (enabled(l)) lines.push({ level: l, text, fields: { ...bound, ...fields } });
  };
  return {
    trace: method('trace'),
    debug: method('debug'),
    info: method('info'),
    warning: method('warning'),
    error: method('error'),
    critical: method('critical'),
    child: (fields) => recordingLogger(lines, { ...bound, ...fields }, level),
    bind: (fields) => recordingLogger(lines, { ...bound, ...fields.fields() }, level),
    isEnabled: enabled,
    line: (prepared, v0, v1, v2, v3, v4) => {
      if (enabled(prepared.level)) lines.push({ level: prepared.level, text: prepared.text, fields: { ...bound, ...prepared.fields(v0, v1, v2, v3, v4) } });
    },
  };
}

function settings(section: Record<string, unknown>, env: Record<string, string> = {}): TracingSettings {
  return resolveTracingSettings(validate(tracerSchema, section, AT), env, AT);
}

/**
 * A tiny traced echo server of our own: calls the tracer the way the echo component does
 * (start at accept, sendStarted at the first chunk, sendEnded + end at close).
 */
async function tracedEcho(tracer: ConnectionTracer, logger: Logger) {
  let number = 0;
  const traces: ConnectionTrace[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const info: ConnectionInfo = {
      fd: (socket as unknown as { _handle?: { fd?: number } })._handle?.fd,
      number: ++number,
      peerAddress: socket.remoteAddress,
      peerPort: socket.remotePort,
      localAddress: socket.localAddress,
      localPort: socket.localPort,
      networkType: socket.remoteFamily === 'IPv6' ? 'ipv6' : 'ipv4',
    };
    const trace = tracer.start(info, logger);
    traces.push(trace);
    trace.logger.info('Accepted socket');
    let error: Error | undefined;
    socket.once('data', () => trace.sendStarted());
    socket.on('error', (e) => (error = e));
    socket.pipe(socket);
    socket.on('finish', () => trace.sendEnded());
    socket.on('close', () => {
      const reason = error ? ((error as NodeJS.ErrnoException).code === 'ECONNRESET' ? 'reset' : 'error') : 'eof';
      trace.logger.info('Closing socket', { reason });
      trace.end({ reason, bytesRead: socket.bytesRead, bytesWritten: socket.bytesWritten, ...(error ? { error } : {}) });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as net.AddressInfo).port, traces };
}

/** Connect, send `payload`, read it all back, close. */
async function echoOnce(port: number, payload: Buffer): Promise<Buffer> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.end(payload);
  await once(socket, 'close');
  return Buffer.concat(chunks);
}

describe('OTLP export of connection spans', () => {
  let receiver: OtlpReceiver;
  let pipeline: TracingPipeline;
  let echo: Awaited<ReturnType<typeof tracedEcho>>;
  const lines: Line[] = [];

  before(async () => {
    receiver = await startOtlpReceiver();
    pipeline = new TracingPipeline(
      settings({ endpoint: receiver.url, 'schedule-delay': '20ms' }),
      recordingLogger(lines),
      new SpanCounters(),
    );
    echo = await tracedEcho(pipeline.connections, recordingLogger(lines));
  });

  after(async () => {
    echo.server.close();
    await pipeline.shutdown(2000);
    await receiver.close();
  });

  it('one connection gives one sock span with the attributes and one send child in the same trace', async () => {
    const payload = Buffer.from('x'.repeat(32));
    assert.deepEqual(await echoOnce(echo.port, payload), payload);
    const spans = await receiver.waitFor((s) => s.length >= 2, 30_000);
    const sock = spans.find((s) => s.name === 'sock');
    const send = spans.find((s) => s.name === 'send');
    assert.ok(sock && send, `both spans arrive: ${spans.map((s) => s.name).join(',')}`);
    assert.equal(sock.kind, SPAN_KIND.server);
    assert.equal(sock.parentSpanId, undefined, 'sock is a root span');
    assert.equal(send.traceId, sock.traceId);
    assert.equal(send.parentSpanId, sock.spanId);
    assert.equal(send.kind, SPAN_KIND.internal);
    const a = sock.attributes;
    assert.equal(typeof a.fd, 'number', 'fd is an integer attribute');
    assert.ok(Number.isInteger(a.fd) && (a.fd as number) > 2, `fd ${a.fd}`);
    assert.equal(send.attributes.fd, a.fd, "the send child carries the fd too (userver's tags are inherited)");
    assert.equal(a['sock.number'], 1);
    assert.equal(a['network.transport'], 'tcp');
    assert.equal(a['network.type'], 'ipv4');
    assert.equal(a['network.peer.address'], '127.0.0.1');
    assert.equal(typeof a['network.peer.port'], 'number');
    assert.equal(a['server.address'], '127.0.0.1');
    assert.equal(a['server.port'], echo.port);
    assert.equal(a['sock.bytes_read'], 32);
    assert.equal(a['sock.bytes_written'], 32);
    assert.equal(a['sock.close_reason'], 'eof');
    assert.equal(sock.status.code, 0, 'an ordinary close leaves the status unset');
    assert.ok(
      send.startTimeUnixNano >= sock.startTimeUnixNano && send.endTimeUnixNano <= sock.endTimeUnixNano,
      `send [${send.startTimeUnixNano}, ${send.endTimeUnixNano}] within sock [${sock.startTimeUnixNano}, ${sock.endTimeUnixNano}]`,
    );
    assert.equal(sock.resource['service.name'], 'tcp-echo');
    assert.equal(sock.scope, 'tcp-echo');
  });

  it("a connection's log lines carry its sock span's trace_id and span_id and the fd", async () => {
    const before = receiver.spans.length;
    await echoOnce(echo.port, Buffer.from('hello'));
    const spans = await receiver.waitFor((s) => s.slice(before).some((x) => x.name === 'sock'), 30_000);
    const sock = spans.slice(before).find((s) => s.name === 'sock')!;
    const mine = lines.filter((l) => l.fields.trace_id === sock.traceId);
    assert.deepEqual(
      mine.map((l) => l.text),
      ['Accepted socket', 'Closing socket'],
    );
    for (const line of mine) {
      assert.equal(line.fields.span_id, sock.spanId);
      assert.equal(line.fields.fd, sock.attributes.fd);
    }
  });

  it('N connections give N traces, each a sock root with one send child', async () => {
    const before = receiver.spans.length;
    const n = 25;
    await Promise.all(Array.from({ length: n }, (_, i) => echoOnce(echo.port, Buffer.from(`conn ${i}`))));
    const spans = await receiver.waitFor((s) => s.length - before >= 2 * n, 30_000);
    const traces = byTrace(spans.slice(before));
    assert.equal(traces.size, n);
    const numbers = new Set<unknown>();
    for (const [, list] of traces) {
      assert.deepEqual(list.map((s) => s.name).sort(), ['send', 'sock']);
      const sock = list.find((s) => s.name === 'sock')!;
      assert.equal(list.find((s) => s.name === 'send')!.parentSpanId, sock.spanId);
      numbers.add(sock.attributes['sock.number']);
    }
    assert.equal(numbers.size, n, 'every connection has its own sock.number');
    // The collector's answer reaches the exporter a moment after the receiver recorded the spans.
    const deadline = Date.now() + 5000;
    while (pipeline.counters.exported < receiver.spans.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(pipeline.counters.exported, receiver.spans.length);
    assert.equal(pipeline.counters.dropped, 0);
  });

  it('a connection that sends nothing has a sock span and no send span', async () => {
    const before = receiver.spans.length;
    const socket = net.connect(echo.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.end();
    await once(socket, 'close');
    const spans = await receiver.waitFor((s) => s.slice(before).some((x) => x.name === 'sock'), 30_000);
    const sock = spans.slice(before).find((s) => s.name === 'sock')!;
    assert.equal(sock.attributes['sock.bytes_read'], 0);
    assert.equal(spans.slice(before).filter((s) => s.traceId === sock.traceId).length, 1);
  });
});

describe('connection trace edge cases', () => {
  it('a socket error sets status ERROR and error.type; a reset does not', async () => {
    const receiver = await startOtlpReceiver();
    const pipeline = new TracingPipeline(settings({ endpoint: receiver.url }), recordingLogger([]), new SpanCounters());
    const info: ConnectionInfo = {
      fd: undefined,
      number: 7,
      peerAddress: '::1',
      peerPort: 5000,
      localAddress: '::1',
      localPort: 8181,
      networkType: 'ipv6',
    };
    const lines: Line[] = [];
    const failing = pipeline.connections.start(info, recordingLogger(lines));
    const error = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
    failing.sendStarted();
    failing.sendStarted();
    failing.end({ reason: 'error', bytesRead: 5, bytesWritten: 3, error });
    failing.end({ reason: 'eof', bytesRead: 0, bytesWritten: 0 });
    const reset = pipeline.connections.start({ ...info, number: 8 }, recordingLogger(lines));
    reset.end({ reason: 'reset', bytesRead: 1, bytesWritten: 0, error: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) });
    const result = await pipeline.shutdown(3000);
    assert.equal(result.flushed, true);
    const spans = receiver.spans;
    assert.equal(spans.length, 3, 'two sock spans and one send span, each ended once');
    const bad = spans.find((s) => s.attributes['sock.number'] === 7)!;
    assert.equal(bad.status.code, 2);
    assert.equal(bad.status.message, 'write EPIPE');
    assert.equal(bad.attributes['error.type'], 'EPIPE');
    assert.equal(bad.attributes['sock.close_reason'], 'error');
    assert.equal('fd' in bad.attributes, false, 'fd absent rather than wrong');
    assert.ok(spans.filter((s) => s.name === 'send').every((s) => !('fd' in s.attributes)), 'on the send child too');
    assert.equal(bad.attributes['network.type'], 'ipv6');
    const rst = spans.find((s) => s.attributes['sock.number'] === 8)!;
    assert.equal(rst.status.code, 0);
    assert.equal(rst.attributes['sock.close_reason'], 'reset');
    assert.equal('error.type' in rst.attributes, false);
    assert.equal(lines.length, 0);
    await receiver.close();
  });

  it('shutdown ends spans still open with close reason shutdown, and is safe twice', async () => {
    const receiver = await startOtlpReceiver();
    const pipeline = new TracingPipeline(settings({ endpoint: receiver.url }), recordingLogger([]), new SpanCounters());
    const info = { fd: 11, number: 1, peerAddress: '127.0.0.1', peerPort: 1, localAddress: '127.0.0.1', localPort: 2, networkType: 'ipv4' } as const;
    const open = pipeline.connections.start(info, recordingLogger([]));
    open.sendStarted();
    const first = pipeline.shutdown(3000);
    const second = pipeline.shutdown(3000);
    assert.equal(first, second);
    const result = await first;
    assert.equal(result.endedOpen, 1);
    assert.equal(result.flushed, true);
    const sock = receiver.spans.find((s) => s.name === 'sock')!;
    assert.equal(sock.attributes['sock.close_reason'], 'shutdown');
    assert.ok(receiver.spans.some((s) => s.name === 'send' && s.parentSpanId === sock.spanId));
    open.end({ reason: 'eof', bytesRead: 0, bytesWritten: 0 }); // late end after shutdown: no throw, no span
    await receiver.close();
  });

  for (const ratio of [0, 1e-12]) {
    it(`sampler ratio ${ratio}: no spans, the logger gets only the fd, and the calls are no-ops`, async () => {
      const receiver = await startOtlpReceiver();
      const counters = new SpanCounters();
      // 0 takes the shortcut that skips the SDK; 1e-12 goes through the SDK's sampler (non-recording spans).
      const pipeline = new TracingPipeline(settings({ endpoint: receiver.url, 'sampler-ratio': ratio }), recordingLogger([]), counters);
      const lines: Line[] = [];
      for (let i = 1; i <= 50; i++) {
        const t = pipeline.connections.start(
          { fd: 20, number: i, peerAddress: '127.0.0.1', peerPort: 1, localAddress: '127.0.0.1', localPort: 2, networkType: 'ipv4' },
          recordingLogger(lines),
        );
        t.logger.info('line');
        t.sendStarted();
        t.sendEnded();
        t.end({ reason: 'eof', bytesRead: 1, bytesWritten: 1 });
      }
      await pipeline.shutdown(2000);
      assert.equal(receiver.requests(), 0);
      assert.equal(counters.exported, 0);
      assert.equal(lines.length, 50);
      assert.deepEqual(lines[0]!.fields, { fd: 20 });
      await receiver.close();
    });
  }
});

describe('a failing or slow collector', () => {
  it('failed exports are counted as dropped and cost the caller nothing', async () => {
    const receiver = await startOtlpReceiver({ status: 500 });
    const counters = new SpanCounters();
    const pipeline = new TracingPipeline(
      settings({ endpoint: receiver.url, 'schedule-delay': '10ms' }),
      recordingLogger([]),
      counters,
    );
    const info = { fd: 5, number: 1, peerAddress: '127.0.0.1', peerPort: 1, localAddress: '127.0.0.1', localPort: 2, networkType: 'ipv4' } as const;
    for (let i = 0; i < 10; i++) pipeline.connections.start({ ...info, number: i + 1 }, recordingLogger([])).end({ reason: 'eof', bytesRead: 0, bytesWritten: 0 });
    // Generous: on 2 busy cores the failing exports can take seconds; the counts are the assertion.
    const deadline = Date.now() + 60_000;
    while (counters.dropped < 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(counters.dropped, 10);
    assert.equal(counters.droppedExportFailed, 10);
    assert.equal(counters.exported, 0);
    assert.ok(receiver.requests() >= 1);
    await pipeline.shutdown(1000);
    await receiver.close();
  });

  it('a full queue drops and counts; shutdown against a collector that never answers gives up at the flush timeout', async (t) => {
    const receiver = await startOtlpReceiver({ delayMs: 60_000 });
    // Closed even when an assertion fails: the stuck collector would hold the file open for a minute.
    t.after(() => receiver.close());
    const counters = new SpanCounters();
    const pipeline = new TracingPipeline(
      settings({ endpoint: receiver.url, 'max-queue-size': 8, 'max-export-batch-size': 4, 'schedule-delay': '10ms', 'flush-timeout': '300ms' }),
      recordingLogger([]),
      counters,
    );
    const info = { fd: 5, number: 1, peerAddress: '127.0.0.1', peerPort: 1, localAddress: '127.0.0.1', localPort: 2, networkType: 'ipv4' } as const;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 1000; i++) pipeline.connections.start({ ...info, number: i + 1 }, recordingLogger([])).end({ reason: 'eof', bytesRead: 0, bytesWritten: 0 });
    const perConnectionUs = Number(process.hrtime.bigint() - t0) / 1000 / 1000;
    // A speed figure, not an assertion (it depends on the shared machine); `npm run bench` measures the cost.
    t.diagnostic(`per connection ${perConnectionUs.toFixed(1)} µs with a stuck collector and a full queue`);
    // At most 8 queued plus the batches in flight to the stuck collector; the rest are counted as dropped.
    assert.ok(counters.droppedQueueFull >= 1000 - 8 - 8 * 30, `queue-full drops: ${counters.droppedQueueFull}`);
    const started = Date.now();
    const result = await pipeline.shutdown(300);
    const took = Date.now() - started;
    assert.equal(result.flushed, false);
    t.diagnostic(`shutdown took ${took} ms (flush-timeout 300 ms)`);
    // Not hung: the collector holds each request 60 s, so a shutdown that ignored its timeout would take
    // ≥ 60 s; 20 s leaves a busy machine seconds of slack over the 300 ms flush timeout.
    assert.ok(took < 20_000, `shutdown took ${took} ms: it waited for the stuck collector`);
  });
});

describe('the span log (embedded default)', () => {
  it('writes each finished span userver-style with its tags and ids, and counts it', async () => {
    const spanLines: Line[] = [];
    const counters = new SpanCounters();
    const s = settings({});
    assert.equal(s.logSpans, true);
    const pipeline = new TracingPipeline(s, recordingLogger(spanLines, {}, 'info'), counters);
    const connLines: Line[] = [];
    const t = pipeline.connections.start(
      { fd: 42, number: 3, peerAddress: '127.0.0.1', peerPort: 40000, localAddress: '127.0.0.1', localPort: 8181, networkType: 'ipv4' },
      recordingLogger(connLines),
    );
    t.sendStarted();
    t.sendEnded();
    t.end({ reason: 'eof', bytesRead: 10, bytesWritten: 10 });
    await pipeline.shutdown(1000);
    assert.equal(spanLines.length, 2);
    assert.equal(counters.exported, 2);
    const [send, sock] = spanLines as [Line, Line];
    assert.equal(send.fields.stopwatch_name, 'send');
    assert.equal(sock.fields.stopwatch_name, 'sock');
    assert.equal(sock.level, 'info');
    assert.equal(sock.text, '');
    assert.equal(sock.fields.stopwatch_units, 'ms');
    assert.equal(sock.fields.span_ref_type, 'child');
    assert.match(String(sock.fields.total_time), /^\d+\.\d{3}$/);
    assert.match(String(sock.fields.start_timestamp), /^\d{10}\.\d{6}$/);
    assert.ok(Math.abs(Number(sock.fields.start_timestamp) - Date.now() / 1000) < 60);
    assert.equal(sock.fields.fd, 42);
    assert.equal(sock.fields['sock.number'], 3);
    assert.equal(sock.fields['sock.close_reason'], 'eof');
    assert.match(String(sock.fields.trace_id), /^[0-9a-f]{32}$/);
    assert.match(String(sock.fields.span_id), /^[0-9a-f]{16}$/);
    assert.equal('parent_id' in sock.fields, false);
    assert.equal(send.fields.trace_id, sock.fields.trace_id);
    assert.equal(send.fields.parent_id, sock.fields.span_id);
    // The connection's own logger is bound to the same ids.
    t.logger.info('after');
    assert.equal(connLines[0]!.fields.trace_id, sock.fields.trace_id);
    assert.equal(connLines[0]!.fields.span_id, sock.fields.span_id);
  });

  it('log-spans: always writes spans to the log and exports them over OTLP too', async () => {
    const receiver = await startOtlpReceiver();
    const spanLines: Line[] = [];
    const counters = new SpanCounters();
    const pipeline = new TracingPipeline(settings({ endpoint: receiver.url, 'log-spans': 'always' }), recordingLogger(spanLines, {}, 'info'), counters);
    const t = pipeline.connections.start(
      { fd: 9, number: 1, peerAddress: '127.0.0.1', peerPort: 1, localAddress: '127.0.0.1', localPort: 2, networkType: 'ipv4' },
      recordingLogger([]),
    );
    t.end({ reason: 'eof', bytesRead: 0, bytesWritten: 0 });
    assert.equal((await pipeline.shutdown(3000)).flushed, true);
    assert.equal(spanLines.length, 1);
    assert.equal(receiver.spans.length, 1);
    assert.equal(spanLines[0]!.fields.span_id, receiver.spans[0]!.spanId);
    assert.equal(counters.exported, 2, 'one span delivered to two destinations counts twice');
    await receiver.close();
  });

  it('writes nothing when the span logger is above info', async () => {
    const spanLines: Line[] = [];
    const counters = new SpanCounters();
    const pipeline = new TracingPipeline(settings({}), recordingLogger(spanLines, {}, 'warning'), counters);
    pipeline.connections
      .start({ fd: 1, number: 1, peerAddress: undefined, peerPort: undefined, localAddress: undefined, localPort: undefined, networkType: undefined }, recordingLogger([]))
      .end({ reason: 'eof', bytesRead: 0, bytesWritten: 0 });
    await pipeline.shutdown(1000);
    assert.equal(spanLines.length, 0);
    assert.equal(counters.exported, 0);
  });
});
