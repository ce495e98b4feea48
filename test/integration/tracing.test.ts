/**
 * Tracing end to end: the real built service, real sockets, and the in-test OTLP/HTTP receiver.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { until, echoAll } from '../helpers/echo-client.js';
import { promSample } from '../helpers/monitor-client.js';
import { byTrace, SPAN_KIND, otlpReceiverFor, startOtlpReceiver, summary, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { freePort, startServiceFor, type RunningService } from '../helpers/service.js';

/** Env that turns tracing on (the helper disables the SDK by default) with quick batches. */
function tracingEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { OTEL_SDK_DISABLED: 'false', OTEL_BSP_SCHEDULE_DELAY: '50', ...extra };
}

const start = startServiceFor;
const receiver = (t: TestContext): Promise<OtlpReceiver> => otlpReceiverFor(t);

const echo = echoAll;

/** Runs `total` echoes with `concurrency` at a time; returns how many came back byte for byte. */
async function echoMany(port: number, total: number, concurrency: number): Promise<number> {
  let next = 0;
  let ok = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const payload = Buffer.from(`connection ${i} `.padEnd(32, '.'));
      const back = await echo(port, payload).catch(() => Buffer.alloc(0));
      if (back.equals(payload)) ok++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return ok;
}

/**
 * Spans of connections that carried data. startService()'s readiness probe opens (and closes) one
 * connection of its own before the test starts: its `sock` span is real but not the test's.
 */
function withData(spans: readonly ReceivedSpan[]): ReceivedSpan[] {
  const traces = new Set(spans.filter((s) => s.name === 'sock' && Number(s.attributes['sock.bytes_read']) > 0).map((s) => s.traceId));
  return spans.filter((s) => traces.has(s.traceId));
}

async function metricsText(service: RunningService): Promise<string> {
  const response = await fetch(`${service.monitorUrl}/metrics`);
  return response.text();
}



describe('tracing over OTLP/HTTP', () => {
  it('one connection: a sock span with its attributes and a send child; its log lines carry the trace id', async (t) => {
    const r = await receiver(t);
    const service = await start(t, { env: tracingEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: r.url }) });
    const payload = Buffer.from('x'.repeat(32));
    assert.deepEqual(await echo(service.echoPort, payload), payload);
    const all = await r.waitFor((s) => withData(s).length >= 2, 30_000);
    const spans = withData(all);
    assert.equal(spans.length, 2, summary(all));
    const sock = spans.find((s) => s.name === 'sock')!;
    const send = spans.find((s) => s.name === 'send')!;
    assert.equal(sock.kind, SPAN_KIND.server);
    assert.equal(sock.parentSpanId, undefined);
    assert.equal(send.traceId, sock.traceId);
    assert.equal(send.parentSpanId, sock.spanId);
    const a = sock.attributes;
    assert.ok(Number.isInteger(a.fd) && (a.fd as number) > 2, `fd ${a.fd}`);
    assert.equal(a['sock.number'], 2, 'the readiness probe was connection 1');
    assert.equal(a['network.transport'], 'tcp');
    assert.equal(a['network.type'], 'ipv4');
    assert.equal(a['network.peer.address'], '127.0.0.1', 'IPv4, not ::ffff:127.0.0.1');
    assert.ok(Number.isInteger(a['network.peer.port']));
    assert.equal(a['server.address'], '127.0.0.1');
    assert.equal(a['server.port'], service.echoPort);
    assert.equal(a['sock.bytes_read'], 32);
    assert.equal(a['sock.bytes_written'], 32);
    assert.equal(a['sock.close_reason'], 'eof');
    assert.equal(sock.status.code, 0);
    assert.ok(sock.endTimeUnixNano > sock.startTimeUnixNano);
    assert.ok(send.startTimeUnixNano >= sock.startTimeUnixNano && send.endTimeUnixNano <= sock.endTimeUnixNano);
    assert.equal(sock.resource['service.name'], 'tcp-echo');
    // Log correlation: the connection's lines (open and close) carry the sock span's ids.
    // Both lines (accepted, closing): the close line trails the span through the log queue.
    const connectionLines = (): string[] => service.stderr().split('\n').filter((l) => l.includes(`trace_id=${sock.traceId}`));
    await until(() => connectionLines().length >= 2, 'the connection log lines (accepted and closing)', 30_000);
    const lines = connectionLines();
    for (const line of lines) {
      assert.match(line, new RegExp(`\\tspan_id=${sock.spanId}(\\t|$)`));
      assert.match(line, new RegExp(`\\tfd=${a.fd}(\\t|$)`));
    }
    // With an OTLP endpoint the span log is off by default (log-spans: auto).
    assert.doesNotMatch(service.stderr(), /stopwatch_name=/);
    // The export is counted.
    await until(async () => (promSample(await metricsText(service), 'tcp_echo_tracing_spans_exported_total') ?? 0) >= 2, 'exported counter', 30_000);
  });

  it('server.address: the listener\'s own address when bound to one, the address each client reached on a wildcard listener', async (t) => {
    const r = await receiver(t);
    const service = await start(t, {
      env: tracingEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: r.url }),
      components: (c) => {
        (c['tcp-echo'] as Record<string, unknown>).address = '0.0.0.0';
      },
    });
    // All of 127.0.0.0/8 is loopback: a wildcard listener is reached on each of these addresses.
    const reachedOn = ['127.0.0.2', '127.0.0.3'];
    for (const host of reachedOn) {
      const socket = net.connect(service.echoPort, host);
      socket.on('error', () => {});
      const back: Buffer[] = [];
      socket.on('data', (c: Buffer) => back.push(c));
      await once(socket, 'connect');
      socket.end(Buffer.from(`via ${host}`));
      await once(socket, 'close');
      assert.equal(Buffer.concat(back).toString(), `via ${host}`);
    }
    const socks = (): ReceivedSpan[] => withData(r.spans).filter((s) => s.name === 'sock');
    await r.waitFor(() => socks().length >= 2, 30_000);
    assert.deepEqual(socks().map((s) => s.attributes['server.address']).sort(), reachedOn);
    for (const sock of socks()) assert.equal(sock.attributes['server.port'], service.echoPort);
  });

  it('N connections give N traces; the config file endpoint works; OTEL_SERVICE_NAME wins over service-name', async (t) => {
    const r = await receiver(t);
    const service = await start(t, {
      env: tracingEnv({ OTEL_SERVICE_NAME: 'from-env', OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test' }),
      components: (c) => {
        c.tracer = { endpoint: r.url, 'service-name': 'from-file' };
      },
    });
    const n = 30;
    assert.equal(await echoMany(service.echoPort, n, 6), n);
    const spans = withData(await r.waitFor((s) => withData(s).length >= 2 * n, 15_000));
    const traces = byTrace(spans);
    assert.equal(traces.size, n);
    for (const [, list] of traces) {
      assert.deepEqual(list.map((s) => s.name).sort(), ['send', 'sock']);
      assert.equal(list.find((s) => s.name === 'send')!.parentSpanId, list.find((s) => s.name === 'sock')!.spanId);
    }
    const numbers = [...traces.values()].map((l) => l.find((s) => s.name === 'sock')!.attributes['sock.number']);
    assert.deepEqual(
      [...numbers].sort((x, y) => Number(x) - Number(y)),
      Array.from({ length: n }, (_, i) => i + 2),
    );
    assert.equal(spans[0]!.resource['service.name'], 'from-env');
    assert.equal(spans[0]!.resource['deployment.environment'], 'test');
  });

  it('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT and _HEADERS win over the config endpoint; gzip via _COMPRESSION', async (t) => {
    const r = await receiver(t);
    const deadPort = await freePort();
    const service = await start(t, {
      env: tracingEnv({
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: r.tracesUrl,
        OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=secret%20value',
        OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
      }),
      components: (c) => {
        c.tracer = { endpoint: `http://127.0.0.1:${deadPort}` };
      },
    });
    await echo(service.echoPort, Buffer.from('hi'));
    await r.waitFor((s) => withData(s).length >= 2, 30_000);
    assert.equal(r.lastHeaders()?.['x-api-key'], 'secret value');
    assert.equal(r.lastHeaders()?.['content-encoding'], 'gzip');
    assert.equal(r.malformed(), 0);
  });

  it('OTEL_TRACES_SAMPLER=traceidratio with arg 0: no spans, echo unchanged', async (t) => {
    const r = await receiver(t);
    const service = await start(t, {
      env: tracingEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: r.url, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' }),
    });
    assert.equal(await echoMany(service.echoPort, 50, 5), 50);
    assert.equal(await service.stop(), 0);
    assert.equal(r.requests(), 0, 'nothing was exported');
    assert.doesNotMatch(service.stderr(), /trace_id=/, 'unsampled connections log no trace ids');
    assert.match(service.stderr(), /Closing socket.*\tfd=\d+/, 'their lines still carry the fd');
  });

  it('SIGTERM with open connections: their spans arrive with close reason shutdown', async (t) => {
    const r = await receiver(t);
    const service = await start(t, { env: tracingEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: r.url, OTEL_BSP_SCHEDULE_DELAY: '60000' }) });
    const sockets: net.Socket[] = [];
    for (let i = 0; i < 3; i++) {
      const socket = net.connect(service.echoPort, '127.0.0.1');
      socket.on('error', () => {});
      socket.on('data', () => {});
      await once(socket, 'connect');
      socket.write('ping');
      sockets.push(socket);
    }
    t.after(() => sockets.forEach((s) => s.destroy()));
    // Every connection has echoed once, so each has a send span open too.
    await until(() => sockets.every((s) => s.bytesRead >= 4), 'the first echoes', 30_000);
    assert.equal(r.requests(), 0, 'a 60 s schedule delay holds spans back until the shutdown flush');
    const started = Date.now();
    assert.equal(await service.stop(), 0);
    const tookMs = Date.now() - started;
    const socks = withData(r.spans).filter((s) => s.name === 'sock');
    assert.equal(socks.length, 3, summary(r.spans));
    for (const sock of socks) {
      assert.equal(sock.attributes['sock.close_reason'], 'shutdown');
      assert.equal(sock.attributes['sock.bytes_read'], 4);
      assert.ok(r.spans.some((s) => s.name === 'send' && s.parentSpanId === sock.spanId));
    }
    // A hang guard, not a speed bound (2 busy cores can add seconds): the spans above are the assertion.
    assert.ok(tookMs < 30_000, `shutdown took ${tookMs} ms`);
  });
});

describe('tracing when the collector misbehaves', () => {
  it('collector down: 200 connections echo, the process stays up, SIGTERM exits within the flush timeout', async (t) => {
    const deadPort = await freePort();
    const service = await start(t, {
      env: tracingEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${deadPort}` }),
      components: (c) => {
        c.tracer = { 'flush-timeout': '2s' };
      },
    });
    assert.equal(await echoMany(service.echoPort, 200, 10), 200);
    assert.equal(service.child.exitCode, null, 'still running');
    const ping = await fetch(`${service.monitorUrl}/ping`);
    assert.equal(ping.status, 200);
    const started = Date.now();
    assert.equal(await service.stop(), 0);
    const tookMs = Date.now() - started;
    // flush-timeout 2 s bounds the flush, and the OTLP request timeout is capped at max(1 s, that).
    // Asserted as a hang guard: on 2 busy cores an exit can take seconds more than the bound.
    assert.ok(tookMs < 30_000, `shutdown took ${tookMs} ms`);
    assert.doesNotMatch(service.stderr(), /leaked handle/, 'the exporter left no request or retry timer behind');
    assert.doesNotMatch(service.stdout(), /\S/, 'OpenTelemetry wrote nothing to stdout');
    assert.match(
      service.stderr(),
      /level=WARNING\tmodule=(opentelemetry|tracer)\t/,
      'export failures reach our log at warning, not stdout',
    );
  });

  it('a collector that answers only after 180 s: echo unaffected, SIGTERM exits within the flush timeout', async (t) => {
    // So slow that a shutdown waiting for it would take minutes: the bound below tells the two apart
    // with room for a busy machine.
    const r = await startOtlpReceiver({ delayMs: 180_000 });
    t.after(() => r.close());
    const service = await start(t, {
      env: tracingEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: r.url, OTEL_BSP_SCHEDULE_DELAY: '10' }),
      components: (c) => {
        c.tracer = { 'flush-timeout': '1s' };
      },
    });
    assert.equal(await echoMany(service.echoPort, 100, 10), 100);
    await until(() => r.requests() >= 1, 'an export request to hang on the collector', 60_000);
    const started = Date.now();
    assert.equal(await service.stop(), 0);
    const tookMs = Date.now() - started;
    assert.ok(tookMs < 60_000, `shutdown took ${tookMs} ms with a 1 s flush timeout`);
    assert.doesNotMatch(service.stderr(), /leaked handle/, 'the exporter left no request or retry timer behind');
  });

  it('a collector answering 500: spans are dropped and counted, echo is unaffected, diag lines are rate-limited', async (t) => {
    const r = await startOtlpReceiver({ status: 500 });
    t.after(() => r.close());
    const service = await start(t, {
      env: tracingEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: r.url, OTEL_BSP_SCHEDULE_DELAY: '10', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '2' }),
    });
    assert.equal(await echoMany(service.echoPort, 100, 10), 100);
    await until(async () => (promSample(await metricsText(service), 'tcp_echo_tracing_spans_dropped_total') ?? 0) >= 200, 'the dropped counter to reach 200', 30_000);
    const text = await metricsText(service);
    assert.equal(promSample(text, 'tcp_echo_tracing_spans_exported_total'), 0);
    assert.match(text, /# HELP tcp_echo_tracing_spans_dropped_total /);
    assert.ok(r.requests() >= 50, `${r.requests()} export requests`);
    const diagLines = service.stderr().split('\n').filter((l) => l.includes('module=opentelemetry')).length;
    assert.ok(diagLines >= 1 && diagLines <= 10, `${diagLines} OpenTelemetry lines for ${r.requests()} failed exports`);
  });
});

describe('the span log and switching tracing off', () => {
  it('with no endpoint anywhere, finished spans are written to the log userver-style', async (t) => {
    const service = await start(t, { env: tracingEnv() });
    const payload = Buffer.from('hello');
    assert.deepEqual(await echo(service.echoPort, payload), payload);
    const field = (line: string, key: string) => new RegExp(`\\t${key}=([^\\t]*)`).exec(line)?.[1];
    // The readiness probe's connection logs a sock span too (no bytes, no send child): skip it.
    const isOurs = (l: string) => l.includes('stopwatch_name=sock') && Number(field(l, 'sock_bytes_read') ?? field(l, 'sock.bytes_read')) > 0;
    await until(() => service.stderr().split('\n').some(isOurs), 'the sock span line', 30_000);
    const lines = service.stderr().split('\n');
    const sockLine = lines.find(isOurs)!;
    const sendLine = lines.find((l) => l.includes('stopwatch_name=send'))!;
    assert.ok(sendLine, 'a send span line');
    assert.match(field(sockLine, 'total_time') ?? '', /^\d+\.\d{3}$/);
    assert.equal(field(sockLine, 'stopwatch_units'), 'ms');
    assert.match(field(sockLine, 'start_timestamp') ?? '', /^\d{10}\.\d{6}$/);
    assert.match(field(sockLine, 'fd') ?? '', /^\d+$/);
    assert.match(field(sockLine, 'trace_id') ?? '', /^[0-9a-f]{32}$/);
    assert.equal(field(sendLine, 'trace_id'), field(sockLine, 'trace_id'));
    assert.equal(field(sendLine, 'parent_id'), field(sockLine, 'span_id'));
    const closing = lines.find((l) => l.includes('Closing socket') && l.includes(`trace_id=${field(sockLine, 'trace_id')}`));
    assert.ok(closing, 'the Closing socket line carries the span trace_id');
    assert.equal(field(closing, 'trace_id'), field(sockLine, 'trace_id'));
  });

  it('OTEL_SDK_DISABLED=true: no spans, no trace ids, echo and metrics unaffected', async (t) => {
    const r = await receiver(t);
    const service = await start(t, { env: { OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: r.url } });
    assert.equal(await echoMany(service.echoPort, 20, 4), 20);
    const text = await metricsText(service);
    assert.equal(promSample(text, 'tcp_echo_tracing_spans_exported_total'), 0);
    assert.equal(promSample(text, 'tcp_echo_sockets_opened_total'), 21, '20 and the readiness probe');
    const json = (await (await fetch(`${service.monitorUrl}/service/monitor?format=json&prefix=tcp-echo.tracing`)).json()) as Record<string, unknown>;
    assert.deepEqual(json['tcp-echo.tracing.spans.exported'], [{ value: 0, labels: {}, type: 'RATE' }]);
    assert.deepEqual(json['tcp-echo.tracing.spans.dropped'], [{ value: 0, labels: {}, type: 'RATE' }]);
    assert.equal(await service.stop(), 0);
    assert.equal(r.requests(), 0);
    assert.doesNotMatch(service.stderr(), /trace_id=|stopwatch_name=/);
  });

  it('a bad tracer endpoint in the config fails start with the key path', async (t) => {
    await assert.rejects(
      start(t, { env: tracingEnv(), components: (c) => void (c.tracer = { endpoint: 'ftp://x' }), readyTimeoutMs: 60_000 }),
      /components_manager\.components\.tracer\.endpoint: "ftp:\/\/x" is not an http\(s\) URL/,
    );
  });
});
