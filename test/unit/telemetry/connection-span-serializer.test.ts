/**
 * The one-pass OTLP JSON encoder for connection spans (issue 13) must write exactly the request
 * the SDK's JsonTraceSerializer writes for the same spans: the same text, and so, decoded, the
 * same ids, names, kinds, parent, times, attributes (intValue vs stringValue), status, resource
 * and scope. Spans come from the real connection tracer's record path; batches it does not cover
 * (SDK spans, mixed batches) fall back to the SDK serializer. The exporter built on it sends to a
 * real OTLP receiver with the OTEL_EXPORTER_OTLP_* settings the SDK's exporter honours. The same
 * for protobuf (http/protobuf, the default): the bytes are the SDK's ProtobufTraceSerializer's.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { performance } from 'node:perf_hooks';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { AlwaysOnSampler, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import type { LogFields, Logger } from '../../../src/log/logger.js';
import type { ConnectionInfo, ConnectionOutcome } from '../../../src/telemetry/connection-trace.js';
import { ConnectionSpanOtlpExporter } from '../../../src/telemetry/tracing/connection-span-exporter.js';
import { ConnectionSpanProtobufSerializer, encodeConnectionSpansProtobuf } from '../../../src/telemetry/tracing/connection-span-protobuf.js';
import { ConnectionSpanJsonSerializer, encodeConnectionSpans } from '../../../src/telemetry/tracing/connection-span-serializer.js';
import { ConnectionSpan, OtelConnectionTracer, PresetIdGenerator } from '../../../src/telemetry/tracing/otel-connection-tracer.js';
import { decodeTraceRequest } from '../../helpers/otlp-proto.js';
import { startOtlpReceiver } from '../../helpers/otlp-receiver.js';

const quietLogger: Logger = {
  trace() {}, debug() {}, info() {}, warning() {}, error() {}, critical() {},
  child(_fields: LogFields) {
    return quietLogger;
  },
  bind: () => quietLogger,
  isEnabled: () => false,
  line: () => {},
};

const SCOPE = { name: 'tcp-echo', version: undefined, schemaUrl: undefined };

/** Connection spans as the record path makes them, for each info and outcome. */
function connectionSpans(resource: Resource, cases: readonly Case[]): ReadableSpan[] {
  const spans: ReadableSpan[] = [];
  const ids = new PresetIdGenerator();
  const provider = new TracerProvider({ resource, sampler: new AlwaysOnSampler(), idGenerator: ids });
  const tracer = new OtelConnectionTracer(provider.getTracer('tcp-echo'), new AlwaysOnSampler(), ids, 'ask', {
    resource,
    scope: SCOPE,
    processors: [{ onEnd: (span: ReadableSpan) => spans.push(span) }],
  });
  for (const { info, outcome, sends } of cases) {
    const connection = tracer.start(info, quietLogger);
    if (sends) {
      connection.sendStarted();
      connection.sendEnded();
    }
    connection.end(outcome);
  }
  return spans;
}

function text(bytes: Uint8Array | undefined): string {
  assert.ok(bytes !== undefined);
  return Buffer.from(bytes).toString('utf8');
}

interface Case {
  readonly info: ConnectionInfo;
  readonly outcome: ConnectionOutcome;
  readonly sends: boolean;
}

const TCP: ConnectionInfo = { fd: 17, number: 42, peerAddress: '127.0.0.1', peerPort: 50123, localAddress: '127.0.0.1', localPort: 8181, networkType: 'ipv4' };
const PROXIED: ConnectionInfo = { ...TCP, number: 43, clientAddress: '2001:db8::7', clientPort: 4000 };
const UNIX: ConnectionInfo = { fd: undefined, number: 44, peerAddress: undefined, peerPort: undefined, localAddress: undefined, localPort: undefined, networkType: undefined, transport: 'unix' };
const CASES: readonly [Case, Case, Case] = [
  { info: TCP, outcome: { reason: 'eof', bytesRead: 32, bytesWritten: 32 } as ConnectionOutcome, sends: true },
  {
    info: PROXIED,
    outcome: { reason: 'error', bytesRead: 3, bytesWritten: 0, error: Object.assign(new Error('write "EPIPE" \u00e9\u2028\n'), { code: 'EPIPE' }) } as ConnectionOutcome,
    sends: true,
  },
  { info: UNIX, outcome: { reason: 'timeout', bytesRead: 0, bytesWritten: 2 ** 40 } as ConnectionOutcome, sends: false },
];

describe('one-pass OTLP (JSON and protobuf) for connection spans', () => {
  const resource = resourceFromAttributes({
    'service.name': 'tcp-echo',
    'host.name': 'h',
    'process.pid': 1234,
    'process.command_args': ['node', 'dist/main.js', '--x=\u00fc'],
    'sample.ratio': 0.5,
    'sample.flag': true,
  });

  it('writes the same request as the SDK serializer, text and decoded fields', () => {
    const spans = connectionSpans(resource, CASES);
    assert.equal(spans.length, 5);
    assert.ok(spans.every((span) => span instanceof ConnectionSpan));
    const ours = encodeConnectionSpans(spans);
    assert.ok(ours !== undefined, 'a batch of connection spans is encoded in one pass');
    const sdk = text(JsonTraceSerializer.serializeRequest(spans));
    assert.equal(ours, sdk);
    assert.equal(text(ConnectionSpanJsonSerializer.serializeRequest(spans)), sdk);
    // Decoded, field by field (what a collector sees).
    const decoded = JSON.parse(ours) as { resourceSpans: { resource: { attributes: unknown[] }; scopeSpans: { scope: unknown; spans: Record<string, unknown>[] }[] }[] };
    assert.deepEqual(decoded, JSON.parse(sdk));
    assert.equal(decoded.resourceSpans.length, 1);
    const scopeSpans = decoded.resourceSpans[0]!.scopeSpans[0]!;
    assert.deepEqual(scopeSpans.scope, { name: 'tcp-echo' });
    const otlp = scopeSpans.spans;
    for (const [i, span] of spans.entries()) {
      const context = span.spanContext();
      const encoded = otlp[i]!;
      assert.equal(encoded.traceId, context.traceId);
      assert.equal(encoded.spanId, context.spanId);
      assert.equal(encoded.parentSpanId, span.parentSpanContext?.spanId);
      assert.equal(encoded.name, span.name);
      assert.equal(encoded.kind, span.kind + 1);
      assert.equal(BigInt(encoded.startTimeUnixNano as string), BigInt(span.startTime[0]) * 1_000_000_000n + BigInt(span.startTime[1]));
      assert.equal(BigInt(encoded.endTimeUnixNano as string), BigInt(span.endTime[0]) * 1_000_000_000n + BigInt(span.endTime[1]));
    }
    const proxiedSock = otlp[3]!;
    assert.deepEqual(proxiedSock.status, { code: 2, message: 'write "EPIPE" \u00e9\u2028\n' });
    const attributes = proxiedSock.attributes as { key: string; value: Record<string, unknown> }[];
    assert.deepEqual(attributes.find((a) => a.key === 'client.address')?.value, { stringValue: '2001:db8::7' });
    assert.deepEqual(attributes.find((a) => a.key === 'client.port')?.value, { intValue: 4000 });
    assert.deepEqual(attributes.find((a) => a.key === 'error.type')?.value, { stringValue: 'EPIPE' });
    const unixAttributes = otlp[4]!.attributes as { key: string; value: Record<string, unknown> }[];
    assert.deepEqual(unixAttributes.find((a) => a.key === 'network.transport')?.value, { stringValue: 'unix' });
    assert.deepEqual(unixAttributes.find((a) => a.key === 'sock.bytes_written')?.value, { intValue: 2 ** 40 });
  });

  it('writes times (leading zeros in the nanoseconds, 64-bit nanoseconds) as the SDK does', () => {
    const [span] = connectionSpans(resource, [CASES[2]]);
    // The same span with other times: its fields are read-only views, so the clock values they
    // come from are shadowed, picked so the nanoseconds part starts with zeros and ends near 1e9.
    const toNextSecond = 1000 - (performance.timeOrigin % 1000);
    const shifted = Object.create(span as object, {
      startedAtMs: { value: 86_400_000 + toNextSecond + 0.000_005 },
      endedAtMs: { value: 86_401_000 + toNextSecond - 0.000_001 },
    }) as ReadableSpan;
    assert.ok(shifted.startTime[1] < 1000, `start nanoseconds ${shifted.startTime[1]}`);
    assert.ok(shifted.endTime[1] > 999_999_000, `end nanoseconds ${shifted.endTime[1]}`);
    assert.equal(encodeConnectionSpans([shifted]), text(JsonTraceSerializer.serializeRequest([shifted])));
    assert.ok(Buffer.from(encodeConnectionSpansProtobuf([shifted])!).equals(Buffer.from(ProtobufTraceSerializer.serializeRequest([shifted])!)));
  });

  it('falls back to the SDK serializer for SDK spans and mixed batches', () => {
    const provider = new TracerProvider({ resource });
    const sdkSpan = provider.getTracer('other').startSpan('x', { attributes: { list: [1, 2] } });
    sdkSpan.end();
    const readable = sdkSpan as unknown as ReadableSpan;
    const mixed = [...connectionSpans(resource, [CASES[0]]), readable];
    assert.equal(encodeConnectionSpans([readable]), undefined);
    assert.equal(encodeConnectionSpans(mixed), undefined);
    assert.equal(text(ConnectionSpanJsonSerializer.serializeRequest(mixed)), text(JsonTraceSerializer.serializeRequest(mixed)));
    const otherResource = connectionSpans(resourceFromAttributes({ 'service.name': 'b' }), [CASES[2]]);
    const two = [...connectionSpans(resource, [CASES[2]]), ...otherResource];
    assert.equal(encodeConnectionSpans(two), undefined, 'two resources: the SDK groups them');
    assert.equal(text(ConnectionSpanJsonSerializer.serializeRequest(two)), text(JsonTraceSerializer.serializeRequest(two)));
  });

  it('writes the same protobuf bytes as the SDK serializer, and they decode to the same spans', () => {
    // A long error message and a long address: lengths that need two-byte varints.
    const long: Case = {
      info: { ...PROXIED, number: 45, clientAddress: 'a'.repeat(200) },
      outcome: { reason: 'error', bytesRead: 1, bytesWritten: 0, error: new Error('e'.repeat(300)) },
      sends: true,
    };
    // Short non-ASCII text: the UTF-8 path beside the ASCII fast path of short strings.
    const accented: Case = {
      info: { ...PROXIED, number: 46 },
      outcome: { reason: 'error', bytesRead: 2, bytesWritten: 2, error: new Error('réinitialisé ✓') },
      sends: true,
    };
    const spans = connectionSpans(resource, [...CASES, long, accented]);
    const ours = encodeConnectionSpansProtobuf(spans);
    assert.ok(ours !== undefined, 'a batch of connection spans is encoded in one pass');
    const sdk = ProtobufTraceSerializer.serializeRequest(spans);
    assert.ok(sdk !== undefined);
    assert.ok(Buffer.from(ours).equals(Buffer.from(sdk)), 'byte for byte the SDK encoding');
    assert.ok(Buffer.from(ConnectionSpanProtobufSerializer.serializeRequest(spans)!).equals(Buffer.from(sdk)));
    // Decoded with the OTLP proto definitions, field by field against the JSON the SDK writes.
    const decoded = decodeTraceRequest(ours) as { resourceSpans: { scopeSpans: { scope: unknown; spans: Record<string, unknown>[] }[] }[] };
    assert.equal(decoded.resourceSpans.length, 1);
    const scopeSpans = decoded.resourceSpans[0]!.scopeSpans[0]!;
    assert.equal((scopeSpans.scope as { name: string }).name, 'tcp-echo');
    const decodedSpans = scopeSpans.spans;
    assert.equal(decodedSpans.length, spans.length);
    for (const [i, span] of spans.entries()) {
      const got = decodedSpans[i]!;
      const context = span.spanContext();
      assert.equal(Buffer.from(got.traceId as string, 'base64').toString('hex'), context.traceId);
      assert.equal(Buffer.from(got.spanId as string, 'base64').toString('hex'), context.spanId);
      assert.equal(got.parentSpanId === undefined ? undefined : Buffer.from(got.parentSpanId as string, 'base64').toString('hex'), span.parentSpanContext?.spanId);
      assert.equal(got.name, span.name);
      assert.equal(got.kind, span.kind + 1);
      assert.equal(BigInt(got.startTimeUnixNano as string), BigInt(span.startTime[0]) * 1_000_000_000n + BigInt(span.startTime[1]));
      assert.equal(BigInt(got.endTimeUnixNano as string), BigInt(span.endTime[0]) * 1_000_000_000n + BigInt(span.endTime[1]));
      const attributes = Object.fromEntries((got.attributes as { key: string; value: Record<string, unknown> }[]).map((a) => [a.key, a.value]));
      for (const [key, value] of Object.entries(span.attributes)) {
        assert.deepEqual(attributes[key], typeof value === 'string' ? { stringValue: value } : { intValue: String(value) }, key);
      }
      assert.equal(Object.keys(attributes).length, Object.keys(span.attributes).length);
      assert.equal((got.status as { code?: number } | undefined)?.code ?? 0, span.status.code);
      assert.equal((got.status as { message?: string } | undefined)?.message, span.status.message);
    }
  });

  it('falls back to the SDK protobuf serializer for SDK spans and mixed batches', () => {
    const provider = new TracerProvider({ resource });
    const sdkSpan = provider.getTracer('other').startSpan('x', { attributes: { list: [1, 2], negative: -3 } });
    sdkSpan.end();
    const mixed = [...connectionSpans(resource, [CASES[0]]), sdkSpan as unknown as ReadableSpan];
    assert.equal(encodeConnectionSpansProtobuf(mixed), undefined);
    assert.ok(Buffer.from(ConnectionSpanProtobufSerializer.serializeRequest(mixed)!).equals(Buffer.from(ProtobufTraceSerializer.serializeRequest(mixed)!)));
  });

  describe('the exporter', () => {
    const saved = { ...process.env };
    after(() => {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    });

    for (const protocol of ['http/json', 'http/protobuf'] as const) {
      it(`sends them (${protocol}) to the collector with the OTEL_EXPORTER_OTLP_* endpoint, headers and compression`, async () => {
        const receiver = await startOtlpReceiver();
        try {
          process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = receiver.tracesUrl;
          process.env.OTEL_EXPORTER_OTLP_HEADERS = 'x-tenant=i13';
          process.env.OTEL_EXPORTER_OTLP_COMPRESSION = 'gzip';
          const exporter = new ConnectionSpanOtlpExporter({}, protocol);
          const spans = connectionSpans(resource, CASES);
          const result = await new Promise<ExportResult>((resolve) => exporter.export(spans, resolve));
          assert.equal(result.code, ExportResultCode.SUCCESS, String(result.error));
          const received = await receiver.waitFor((got) => got.length === spans.length, 30_000);
          assert.deepEqual(received.map((s) => s.spanId), spans.map((s) => s.spanContext().spanId));
          assert.equal(received[3]!.attributes['client.address'], '2001:db8::7');
          assert.equal(received[3]!.attributes['client.port'], 4000);
          assert.equal(received[0]!.resource['service.name'], 'tcp-echo');
          assert.equal(receiver.lastHeaders()?.['x-tenant'], 'i13');
          assert.equal(receiver.lastHeaders()?.['content-encoding'], 'gzip');
          assert.equal(receiver.malformed(), 0);
          assert.deepEqual(receiver.encodings('/v1/traces'), [protocol === 'http/json' ? 'json' : 'protobuf']);
          await exporter.shutdown();
        } finally {
          await receiver.close();
        }
      });
    }
  });
});
