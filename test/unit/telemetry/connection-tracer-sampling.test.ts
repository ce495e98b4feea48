/**
 * The connection tracer's root decision and the logger it binds: with an always-on root the
 * sampler is not asked (its answer is known) and every connection is still traced; with any other
 * it is asked once per connection with the span's own trace id. Either way each line of the
 * connection, written by a real logger in tskv and in JSON, carries the ids its exported `sock`
 * span has, and an unsampled connection's lines carry only the fd.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Attributes, type Context, type Link, type SpanKind } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  TracerProvider,
  type ReadableSpan,
  type Sampler,
  type SamplingResult,
  type Span,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { LoggerRegistry } from '../../../src/log/logger-registry.js';
import { QueuedSink } from '../../../src/log/queued-sink.js';
import type { ConnectionInfo } from '../../../src/telemetry/connection-trace.js';
import { OtelConnectionTracer, PresetIdGenerator, type RootDecision } from '../../../src/telemetry/tracing/otel-connection-tracer.js';
import { MemoryTarget } from '../log/memory-target.js';

/** Answers as `inner` does and remembers every trace id it was asked about. */
class CountingSampler implements Sampler {
  readonly asked: string[] = [];
  constructor(private readonly inner: Sampler) {}
  shouldSample(context: Context, traceId: string, name: string, kind: SpanKind, attributes: Attributes, links: Link[]): SamplingResult {
    this.asked.push(traceId);
    return this.inner.shouldSample(context, traceId, name, kind, attributes, links);
  }
}

class Collect implements SpanProcessor {
  readonly spans: ReadableSpan[] = [];
  onStart(_span: Span, _context: Context): void {}
  onEnd(span: ReadableSpan): void {
    this.spans.push(span);
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const INFO: ConnectionInfo = {
  fd: 17, number: 42, peerAddress: '127.0.0.1', peerPort: 50123, localAddress: '127.0.0.1', localPort: 8181, networkType: 'ipv4',
};

function setup(decision: RootDecision, inner: Sampler) {
  const target = new MemoryTarget();
  const registry: LoggerRegistry = new LoggerRegistry({
    defaultSink: () => new QueuedSink(target, { maxLines: 1000, maxChars: 1 << 20, counters: registry.counters }),
  });
  const sampler = new CountingSampler(inner);
  const collect = new Collect();
  const ids = new PresetIdGenerator();
  const provider = new TracerProvider({ resource: resourceFromAttributes({ 'service.name': 'tcp-echo' }), sampler, idGenerator: ids });
  const tracer = new OtelConnectionTracer(provider.getTracer('tcp-echo'), sampler, ids, decision, {
    resource: resourceFromAttributes({ 'service.name': 'tcp-echo' }),
    scope: { name: 'tcp-echo', version: undefined, schemaUrl: undefined },
    processors: [collect],
  });
  const connection = () => {
    const trace = tracer.start(INFO, registry.getLogger('tcp-echo'));
    trace.logger.info('Accepted connection', { sock_number: INFO.number });
    trace.sendStarted();
    trace.logger.info('Closing socket', { reason: 'eof' });
    trace.end({ reason: 'eof', bytesRead: 1, bytesWritten: 1 });
  };
  const flush = () => registry.current().sink.flush(2000);
  return { registry, target, sampler, collect, connection, flush };
}

function sockSpans(collect: Collect): ReadableSpan[] {
  return collect.spans.filter((s) => s.name === 'sock');
}

describe('connection tracer: the root decision', () => {
  it('always: the sampler is never asked, every connection is traced, and its tskv lines carry its span ids', async () => {
    const { target, sampler, collect, connection, flush } = setup('always', new AlwaysOnSampler());
    for (let i = 0; i < 3; i++) connection();
    await flush();
    assert.deepEqual(sampler.asked, []);
    const socks = sockSpans(collect);
    assert.equal(socks.length, 3);
    assert.equal(collect.spans.length, 6, 'a send child each');
    const lines = target.lines();
    assert.equal(lines.length, 6);
    socks.forEach((sock, i) => {
      const { traceId, spanId } = sock.spanContext();
      assert.match(traceId, /^[0-9a-f]{32}$/);
      assert.match(spanId, /^[0-9a-f]{16}$/);
      for (const line of lines.slice(2 * i, 2 * i + 2)) assert.ok(line.includes(`\ttrace_id=${traceId}\tspan_id=${spanId}\tfd=17\t`), line);
    });
    assert.equal(new Set(socks.map((s) => s.spanContext().traceId)).size, 3, 'a trace per connection');
  });

  it('always, JSON lines: the same ids, from the same bytes', async () => {
    const { registry, target, collect, connection, flush } = setup('always', new AlwaysOnSampler());
    registry.configure({ level: 'info', format: 'json', sink: registry.defaultSink() });
    connection();
    await flush();
    const [sock] = sockSpans(collect);
    const { traceId, spanId } = sock!.spanContext();
    for (const line of target.lines()) {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      assert.equal(parsed.trace_id, traceId);
      assert.equal(parsed.span_id, spanId);
      assert.equal(parsed.fd, 17);
    }
  });

  it('ask: the sampler is asked once per connection, with the trace id the span then has', async () => {
    const { sampler, collect, connection } = setup('ask', new AlwaysOnSampler());
    connection();
    connection();
    assert.deepEqual(
      sampler.asked,
      sockSpans(collect).map((s) => s.spanContext().traceId),
    );
  });

  it('ask, sampled out: no span, and lines with the fd only', async () => {
    const { target, sampler, collect, connection, flush } = setup('ask', new AlwaysOffSampler());
    connection();
    await flush();
    assert.equal(sampler.asked.length, 1);
    assert.equal(collect.spans.length, 0);
    for (const line of target.lines()) {
      assert.ok(line.includes('\tfd=17\t'), line);
      assert.ok(!line.includes('trace_id'), line);
    }
  });
});
