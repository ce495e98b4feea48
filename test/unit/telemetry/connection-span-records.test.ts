/**
 * The fast span path (issue 13): connection spans handed to the processors as plain records must
 * carry exactly what the SDK's own spans carry for the same connection — names, kinds, ids,
 * parent link, attributes (and their order), status, times, resource, scope, no links or events.
 * Each connection is traced twice, once through the SDK's tracer and once as records, with the
 * same ids and the same recorded times, and the two ReadableSpans are compared field by field.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TraceFlags, type Context } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, TracerProvider, type ReadableSpan, type Span, type SpanProcessor } from '@opentelemetry/sdk-trace';
import type { LogFields, Logger } from '../../../src/log/logger.js';
import type { ConnectionInfo } from '../../../src/telemetry/connection-trace.js';
import { OtelConnectionTracer, PresetIdGenerator } from '../../../src/telemetry/tracing/otel-connection-tracer.js';

const quietLogger: Logger = {
  trace() {}, debug() {}, info() {}, warning() {}, error() {}, critical() {},
  child(_fields: LogFields) {
    return quietLogger;
  },
  bind: () => quietLogger,
  isEnabled: () => false,
  line: () => {},
};

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

/** A ReadableSpan as plain data, ids replaced by their role so two runs with different random child ids compare. */
function plain(span: ReadableSpan, roles: Map<string, string>): Record<string, unknown> {
  const role = (id: string | undefined): string | undefined => (id === undefined ? undefined : (roles.get(id) ?? (roles.set(id, `id${roles.size}`), roles.get(id))));
  const context = span.spanContext();
  return {
    name: span.name,
    kind: span.kind,
    traceId: role(context.traceId),
    spanId: role(context.spanId),
    traceFlags: context.traceFlags,
    traceState: context.traceState,
    parent: span.parentSpanContext && {
      traceId: role(span.parentSpanContext.traceId),
      spanId: role(span.parentSpanContext.spanId),
      traceFlags: span.parentSpanContext.traceFlags,
      isRemote: span.parentSpanContext.isRemote,
    },
    startTime: span.startTime,
    endTime: span.endTime,
    duration: span.duration,
    ended: span.ended,
    status: { ...span.status },
    attributes: Object.entries(span.attributes),
    links: span.links,
    events: span.events,
    dropped: [span.droppedAttributesCount, span.droppedEventsCount, span.droppedLinksCount],
    resource: span.resource.attributes,
    scope: { ...span.instrumentationScope },
  };
}

const INFO: ConnectionInfo = {
  fd: 17, number: 42, peerAddress: '127.0.0.1', peerPort: 50123, localAddress: '127.0.0.1', localPort: 8181, networkType: 'ipv4',
};

describe('connection spans as records', () => {
  for (const { what, outcome, sends } of [
    { what: 'an ordinary close', outcome: { reason: 'eof', bytesRead: 32, bytesWritten: 32 } as const, sends: true },
    { what: 'a socket error', outcome: { reason: 'error', bytesRead: 3, bytesWritten: 0, error: Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }) } as const, sends: true },
    { what: 'a connection that never sent', outcome: { reason: 'timeout', bytesRead: 0, bytesWritten: 0 } as const, sends: false },
  ]) {
    it(`carry what the SDK's spans carry: ${what}`, () => {
      const resource = resourceFromAttributes({ 'service.name': 'tcp-echo', 'host.name': 'h' });
      const sdkSide = new Collect();
      const recordSide = new Collect();
      const ids = new PresetIdGenerator();
      const provider = new TracerProvider({ resource, sampler: new AlwaysOnSampler(), idGenerator: ids, spanProcessors: [sdkSide] });
      const tracer = provider.getTracer('tcp-echo');
      const viaSdk = new OtelConnectionTracer(tracer, new AlwaysOnSampler(), ids, 'ask');
      const viaRecords = new OtelConnectionTracer(tracer, new AlwaysOnSampler(), ids, 'ask', {
        resource,
        scope: { name: 'tcp-echo', version: undefined, schemaUrl: undefined },
        processors: [recordSide],
      });
      const a = viaSdk.start(INFO, quietLogger);
      const b = viaRecords.start(INFO, quietLogger);
      // The same ids and recorded times for both: copied from the first onto the second.
      const sa = a as unknown as { traceId: string; spanId: string; startedAt: number; sendStartedAt?: number; sendEndedAt?: number };
      const sb = b as unknown as { readonly traceId: string; readonly spanId: string; startedAt: number; sendStartedAt?: number; sendEndedAt?: number };
      if (sends) {
        a.sendStarted();
        a.sendEnded();
      }
      // The ids are bytes in each tracer's id slab (the hex strings are cut from them when read).
      const idsOf = (t: unknown) => t as { idSlab: Buffer; idAt: number };
      idsOf(a).idSlab.copy(idsOf(b).idSlab, idsOf(b).idAt, idsOf(a).idAt, idsOf(a).idAt + 32);
      Object.assign(sb, { startedAt: sa.startedAt, sendStartedAt: sa.sendStartedAt, sendEndedAt: sa.sendEndedAt });
      assert.equal(sb.traceId, sa.traceId);
      (b as unknown as { sendDone: boolean }).sendDone = true;
      // Both end at the same instant: performance.now() is read inside end(), so freeze it.
      const now = performance.now;
      const frozen = now.call(performance) + 5;
      performance.now = () => frozen;
      try {
        a.end(outcome);
        b.end(outcome);
      } finally {
        performance.now = now;
      }
      assert.equal(sdkSide.spans.length, sends ? 2 : 1);
      assert.equal(recordSide.spans.length, sdkSide.spans.length);
      const roles = new Map<string, string>();
      const expected = sdkSide.spans.map((s) => plain(s, roles));
      const rolesB = new Map<string, string>();
      const actual = recordSide.spans.map((s) => plain(s, rolesB));
      assert.deepEqual(actual, expected);
      assert.deepEqual([...roles.values()], [...rolesB.values()], 'the same ids in the same roles');
      assert.equal(recordSide.spans.at(-1)!.spanContext().spanId, sa.spanId, 'the sock span keeps the id its log lines carry');
      assert.equal(recordSide.spans.at(-1)!.spanContext().traceFlags, TraceFlags.SAMPLED);
      assert.equal(recordSide.spans.at(-1)!.resource, resource, "the provider's resource itself");
    });
  }
});
