/**
 * OTLP/HTTP JSON for our connection spans in one pass (issue 13). The SDK's JsonTraceSerializer
 * builds an object tree per span (`sdkSpanToOtlpSpan`, `toAttributes`, a BigInt per timestamp) and
 * then stringifies it; for a batch made only of {@link ConnectionSpan} records sharing one
 * resource and one scope (what the connection tracer hands the batch processor) this writes the
 * same ExportTraceServiceRequest text straight away: the resource and scope parts once per
 * resource (cached), each span as one string, one UTF-8 copy per batch. Anything else (SDK spans
 * from other code on the global tracer, a mixed batch, an attribute value that is not a string,
 * number or boolean) goes through the SDK's serializer, so the bytes on the wire follow the OTLP
 * JSON mapping either way (test/unit/telemetry/connection-span-serializer.test.ts compares them).
 */
import type { Attributes, AttributeValue } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import { JsonTraceSerializer, type IExportTraceServiceResponse, type ISerializer } from '@opentelemetry/otlp-transformer';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { ConnectionSpan } from './otel-connection-tracer.js';

/** OTLP span flags: the W3C trace flags plus "has is_remote" (our parents are never remote). */
const SPAN_FLAGS_HAS_IS_REMOTE = 0x100;

/** `{"key":"…","value":` per attribute key: a connection span has a dozen fixed keys. */
const keyPrefixes = new Map<string, string>();
/** The opening of the request up to the first span, per resource and scope (never while the resource still resolves). */
const openings = new WeakMap<Resource, { scope: InstrumentationScope; opening: string; closing: string }>();

/** The serializer for our OTLP/HTTP JSON exporter. */
export const ConnectionSpanJsonSerializer: ISerializer<ReadableSpan[], IExportTraceServiceResponse> = {
  serializeRequest(spans: ReadableSpan[]): Uint8Array | undefined {
    const text = encodeConnectionSpans(spans);
    return text === undefined ? JsonTraceSerializer.serializeRequest(spans) : Buffer.from(text, 'utf8');
  },
  deserializeResponse: (data: Uint8Array) => JsonTraceSerializer.deserializeResponse(data),
};

/**
 * The ExportTraceServiceRequest in OTLP JSON for a batch of connection spans, or `undefined` when
 * the batch is not one this encoder covers (the caller then uses the SDK's serializer).
 */
export function encodeConnectionSpans(spans: readonly ReadableSpan[]): string | undefined {
  if (spans.length === 0) return undefined;
  const first = spans[0];
  if (!(first instanceof ConnectionSpan)) return undefined;
  const { resource, instrumentationScope: scope } = first;
  const frame = framing(resource, scope);
  if (frame === undefined) return undefined;
  let body = frame.opening;
  for (let i = 0; i < spans.length; i++) {
    const span = spans[i];
    if (!(span instanceof ConnectionSpan) || span.resource !== resource || span.instrumentationScope !== scope) return undefined;
    const encoded = encodeSpan(span);
    if (encoded === undefined) return undefined;
    body += i === 0 ? encoded : ',' + encoded;
  }
  return body + frame.closing;
}

function encodeSpan(span: ConnectionSpan): string | undefined {
  const context = span.spanContext();
  if (context.traceState !== undefined) return undefined;
  const attributes = encodeAttributes(span.attributes);
  if (attributes === undefined) return undefined;
  const parentId = span.parentSpanContext?.spanId;
  if (parentId !== undefined && span.parentSpanContext?.isRemote) return undefined;
  const { status } = span;
  // Field order and presence as JSON.stringify of the SDK's object (undefined members dropped).
  return (
    `{"traceId":"${context.traceId}","spanId":"${context.spanId}"` +
    (parentId ? `,"parentSpanId":"${parentId}"` : '') +
    `,"name":${JSON.stringify(span.name)},"kind":${span.kind + 1}` +
    `,"startTimeUnixNano":"${nanos(span.startTime)}","endTimeUnixNano":"${nanos(span.endTime)}"` +
    `,"attributes":[${attributes}],"droppedAttributesCount":${span.droppedAttributesCount}` +
    `,"events":[],"droppedEventsCount":${span.droppedEventsCount}` +
    `,"status":{"code":${status.code}${status.message === undefined ? '' : `,"message":${JSON.stringify(status.message)}`}}` +
    `,"links":[],"droppedLinksCount":${span.droppedLinksCount}` +
    `,"flags":${(context.traceFlags & 0xff) | SPAN_FLAGS_HAS_IS_REMOTE}}`
  );
}

function encodeAttributes(attributes: Attributes): string | undefined {
  let out = '';
  for (const key in attributes) {
    const value = attributes[key];
    let encoded: string;
    if (typeof value === 'string') encoded = `{"stringValue":${JSON.stringify(value)}}}`;
    else if (typeof value === 'number') encoded = Number.isInteger(value) ? `{"intValue":${value}}}` : `{"doubleValue":${JSON.stringify(value)}}}`;
    else if (typeof value === 'boolean') encoded = `{"boolValue":${value}}}`;
    else return undefined;
    let prefix = keyPrefixes.get(key);
    if (prefix === undefined) {
      prefix = `{"key":${JSON.stringify(key)},"value":`;
      if (keyPrefixes.size < 256) keyPrefixes.set(key, prefix);
    }
    out += out === '' ? prefix + encoded : ',' + prefix + encoded;
  }
  return out;
}

/** An HrTime as the decimal nanosecond string OTLP JSON carries, without a BigInt. */
function nanos(time: readonly [number, number]): string {
  const seconds = Math.trunc(time[0]);
  const fraction = Math.trunc(time[1]);
  if (seconds === 0) return String(fraction);
  if (seconds < 0 || fraction < 0 || fraction >= 1e9) return (BigInt(seconds) * 1_000_000_000n + BigInt(fraction)).toString();
  return String(seconds) + String(fraction).padStart(9, '0');
}

function framing(resource: Resource, scope: InstrumentationScope): { opening: string; closing: string } | undefined {
  const cached = openings.get(resource);
  if (cached !== undefined && cached.scope === scope) return cached;
  // Attributes still resolving would change after caching, and the SDK reads them per batch.
  if (resource.asyncAttributesPending) return undefined;
  const resourceObject: Record<string, unknown> = { attributes: toKeyValues(resource.attributes), droppedAttributesCount: 0 };
  if (resource.schemaUrl) resourceObject.schemaUrl = resource.schemaUrl;
  const scopeObject: Record<string, unknown> = { name: scope.name, version: scope.version };
  const scopeAttributes = (scope as { attributes?: Attributes }).attributes;
  if (scopeAttributes && Object.keys(scopeAttributes).length > 0) {
    scopeObject.attributes = toKeyValues(scopeAttributes);
    scopeObject.droppedAttributesCount = (scope as { droppedAttributesCount?: number }).droppedAttributesCount ?? 0;
  }
  const frame = {
    scope,
    opening: `{"resourceSpans":[{"resource":${JSON.stringify(resourceObject)},"scopeSpans":[{"scope":${JSON.stringify(scopeObject)},"spans":[`,
    closing:
      `]${scope.schemaUrl === undefined ? '' : `,"schemaUrl":${JSON.stringify(scope.schemaUrl)}`}}]` +
      `${resource.schemaUrl ? `,"schemaUrl":${JSON.stringify(resource.schemaUrl)}` : ''}}]}`,
  };
  openings.set(resource, frame);
  return frame;
}

/** The OTLP JSON KeyValue list of an attribute map (resource and scope: once per resource). */
function toKeyValues(attributes: Attributes): unknown[] {
  return Object.keys(attributes).map((key) => ({ key, value: toAnyValue(attributes[key]) }));
}

function toAnyValue(value: AttributeValue | unknown): unknown {
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'number') return Number.isInteger(value) ? { intValue: value } : { doubleValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (value instanceof Uint8Array) return { bytesValue: Buffer.from(value).toString('base64') };
  if (Array.isArray(value)) return { arrayValue: { values: value.map(toAnyValue) } };
  if (typeof value === 'object' && value !== null) {
    return { kvlistValue: { values: Object.keys(value).map((key) => ({ key, value: toAnyValue((value as Record<string, unknown>)[key]) })) } };
  }
  return {};
}
