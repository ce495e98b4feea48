/**
 * OTLP/HTTP protobuf for our connection spans in one pass (issue 13): for a batch made only of
 * {@link ConnectionSpan} records with one resource and one scope, the ExportTraceServiceRequest is
 * written straight into one buffer: the resource and scope fields taken once per resource from the
 * SDK's own encoding (so they are its bytes), attribute keys encoded once, ids written from hex
 * in place (no Uint8Array per id), no size-estimation pass. Any other batch, or a value this does
 * not cover, goes through the SDK's ProtobufTraceSerializer; the output is byte for byte the
 * SDK's (test/unit/telemetry/connection-span-serializer.test.ts).
 */
import type { Attributes } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import { ProtobufTraceSerializer, type IExportTraceServiceResponse, type ISerializer } from '@opentelemetry/otlp-transformer';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { ConnectionSpan } from './otel-connection-tracer.js';

/** The request around the spans: resource and scope fields and what follows the spans, per resource. */
interface Frame {
  readonly scope: InstrumentationScope;
  /** ResourceSpans.resource (tag, length, Resource). */
  readonly resource: Buffer;
  /** ScopeSpans.scope (tag, length, InstrumentationScope). */
  readonly scopeField: Buffer;
  /** What ScopeSpans holds after its spans (schema_url), and ResourceSpans after its ScopeSpans. */
  readonly scopeTail: Buffer;
  readonly resourceTail: Buffer;
}

const frames = new WeakMap<Resource, Frame>();
/** `KeyValue.key` (tag, length, bytes) per attribute key. */
const keyFields = new Map<string, Buffer>();
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
/** Up to this many bytes are copied by a loop rather than the native copy. */
const SMALL_COPY = 64;

/** The serializer for our OTLP/HTTP protobuf exporter. */
export const ConnectionSpanProtobufSerializer: ISerializer<ReadableSpan[], IExportTraceServiceResponse> = {
  serializeRequest: (spans: ReadableSpan[]) => encodeConnectionSpansProtobuf(spans) ?? ProtobufTraceSerializer.serializeRequest(spans),
  deserializeResponse: (data: Uint8Array) => ProtobufTraceSerializer.deserializeResponse(data),
};

/** The request in OTLP protobuf, or `undefined` when the batch is not one this encoder covers. */
export function encodeConnectionSpansProtobuf(spans: readonly ReadableSpan[]): Uint8Array | undefined {
  const first = spans[0];
  if (!(first instanceof ConnectionSpan)) return undefined;
  const { resource, instrumentationScope: scope } = first;
  const frame = framing(first);
  if (frame === undefined) return undefined;
  // Room for both headers (tag + 5-byte length each) before the spans; written right-aligned at the end.
  const head = 12 + frame.resource.length + frame.scopeField.length;
  const out = new Writer(head + spans.length * 320 + 256);
  out.pos = head;
  for (const span of spans) {
    if (!(span instanceof ConnectionSpan) || span.resource !== resource || span.instrumentationScope !== scope) return undefined;
    if (!writeSpan(out, span)) return undefined;
  }
  out.bytes(frame.scopeTail);
  const scopeSpansLength = frame.scopeField.length + (out.pos - head);
  out.bytes(frame.resourceTail);
  const end = out.pos;
  const resourceSpansLength = frame.resource.length + 1 + varintSize(scopeSpansLength) + scopeSpansLength + frame.resourceTail.length;
  // Headers, backwards from the first span.
  let start = head - frame.scopeField.length;
  frame.scopeField.copy(out.buf, start);
  start -= varintSize(scopeSpansLength);
  writeVarintAt(out.buf, start, scopeSpansLength);
  out.buf[--start] = 0x12; // ResourceSpans.scope_spans
  start -= frame.resource.length;
  frame.resource.copy(out.buf, start);
  start -= varintSize(resourceSpansLength);
  writeVarintAt(out.buf, start, resourceSpansLength);
  out.buf[--start] = 0x0a; // ExportTraceServiceRequest.resource_spans
  return out.buf.subarray(start, end);
}

class Writer {
  buf: Buffer;
  pos = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }
  byte(b: number): void {
    this.buf[this.pos++] = b;
  }
  bytes(b: Buffer): void {
    this.ensure(b.length);
    // Attribute keys are a few bytes: a loop here costs less than the native copy's call.
    if (b.length <= SMALL_COPY) {
      const buf = this.buf;
      let pos = this.pos;
      for (let i = 0; i < b.length; i++) buf[pos++] = b[i] as number;
      this.pos = pos;
      return;
    }
    this.pos += b.copy(this.buf, this.pos);
  }
  varint(value: number): void {
    this.ensure(10);
    this.pos = writeVarintAt(this.buf, this.pos, value);
  }
  /**
   * Writes the length of what follows `lengthAt + reserved` (up to `pos`) into the `reserved`
   * bytes at `lengthAt`, moving the content when its varint needs another size.
   */
  finishLength(lengthAt: number, reserved: number): void {
    const bodyAt = lengthAt + reserved;
    const length = this.pos - bodyAt;
    const size = varintSize(length);
    if (size !== reserved) {
      this.ensure(size);
      this.buf.copy(this.buf, lengthAt + size, bodyAt, this.pos);
      this.pos += size - reserved;
    }
    writeVarintAt(this.buf, lengthAt, length);
  }

  /** Length-prefixed UTF-8. */
  string(value: string): void {
    if (value.length < 43) {
      // At most 126 bytes: a one-byte length.
      this.ensure(1 + 3 * value.length);
      if (this.ascii(value)) return;
      const n = this.buf.write(value, this.pos + 1, 'utf8');
      this.buf[this.pos] = n;
      this.pos += 1 + n;
      return;
    }
    const n = Buffer.byteLength(value, 'utf8');
    this.varint(n);
    this.ensure(n);
    this.pos += this.buf.write(value, this.pos, 'utf8');
  }
  /**
   * A short string written byte by byte with its one-byte length when it is all ASCII (names,
   * addresses, close reasons: a loop costs less than the native UTF-8 write's call); false, with
   * nothing written, otherwise. Room for it is ensured by the caller.
   */
  private ascii(value: string): boolean {
    const buf = this.buf;
    const start = this.pos + 1;
    for (let i = 0; i < value.length; i++) {
      const code = value.charCodeAt(i);
      if (code >= 0x80) return false;
      buf[start + i] = code;
    }
    buf[this.pos] = value.length;
    this.pos = start + value.length;
    return true;
  }

  /** Length-prefixed bytes from hex; false if `hex` is not `bytes` bytes of hex. */
  hex(hex: string, bytes: number): boolean {
    if (hex.length !== bytes * 2) return false;
    this.ensure(1 + bytes);
    const buf = this.buf;
    const start = this.pos + 1;
    // Decoded here: ids are 8 or 16 bytes, less than the native hex write's call costs.
    for (let i = 0; i < bytes; i++) {
      const high = nibble(hex.charCodeAt(2 * i));
      const low = nibble(hex.charCodeAt(2 * i + 1));
      if ((high | low) < 0) return false;
      buf[start + i] = (high << 4) | low;
    }
    buf[this.pos] = bytes;
    this.pos = start + bytes;
    return true;
  }
  /** HrTime as fixed64 nanoseconds, exact beyond 2^53. */
  time(time: readonly [number, number]): boolean {
    const seconds = time[0];
    const nanos = time[1];
    if (!Number.isInteger(seconds) || !Number.isInteger(nanos) || seconds < 0 || nanos < 0 || nanos >= 1e9) return false;
    this.ensure(8);
    const a = Math.floor(seconds / 65536) * 1e9;
    const low = (a % 65536) * 65536 + (seconds % 65536) * 1e9 + nanos;
    const low32 = low % 4294967296;
    this.buf.writeUInt32LE(low32, this.pos);
    this.buf.writeUInt32LE((Math.floor(a / 65536) + (low - low32) / 4294967296) >>> 0, this.pos + 4);
    this.pos += 8;
    return true;
  }
}

/** The value of one hex digit's char code (either case), or -1. */
function nibble(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  if (code >= 65 && code <= 70) return code - 55;
  return -1;
}

function writeVarintAt(buf: Buffer, pos: number, value: number): number {
  while (value >= 0x80) {
    buf[pos++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  buf[pos++] = value;
  return pos;
}

function varintSize(value: number): number {
  let n = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    n++;
  }
  return n;
}

/** Writes `ScopeSpans.spans` (tag, length, Span) in the SDK's field order; false when not covered. */
function writeSpan(out: Writer, span: ConnectionSpan): boolean {
  const context = span.spanContext();
  if (context.traceState !== undefined) return false;
  out.ensure(4);
  out.byte(0x12);
  // Two bytes reserved for the length (a span is 128..16383 bytes); moved if it is not.
  const lengthAt = out.pos;
  out.pos += 2;
  out.byte(0x0a);
  if (!out.hex(context.traceId, 16)) return false;
  out.ensure(1);
  out.byte(0x12);
  if (!out.hex(context.spanId, 8)) return false;
  const parent = span.parentSpanContext;
  if (parent?.spanId) {
    if (parent.isRemote) return false;
    out.ensure(1);
    out.byte(0x22);
    if (!out.hex(parent.spanId, 8)) return false;
  }
  out.ensure(1);
  out.byte(0x2a);
  out.string(span.name);
  out.ensure(12);
  out.byte(0x30);
  out.varint(span.kind + 1);
  out.byte(0x39);
  if (!out.time(span.startTime)) return false;
  out.ensure(1);
  out.byte(0x41);
  if (!out.time(span.endTime)) return false;
  if (!writeAttributes(out, span.attributes)) return false;
  out.ensure(8);
  out.byte(0x50);
  out.varint(span.droppedAttributesCount);
  out.byte(0x60);
  out.varint(span.droppedEventsCount);
  out.byte(0x70);
  out.varint(span.droppedLinksCount);
  // status (field 15): message (2) when non-empty, code (3).
  const { status } = span;
  out.byte(0x7a);
  const statusLengthAt = out.pos++;
  if (status.message) {
    out.ensure(1);
    out.byte(0x12);
    out.string(status.message);
  }
  out.ensure(8);
  out.byte(0x18);
  out.varint(status.code);
  out.finishLength(statusLengthAt, 1);
  // flags (16, fixed32): trace flags plus "has is_remote".
  out.ensure(7);
  out.byte(0x85);
  out.byte(0x01);
  out.buf.writeUInt32LE(((context.traceFlags & 0xff) | 0x100) >>> 0, out.pos);
  out.pos += 4;
  out.finishLength(lengthAt, 2);
  return true;
}

/** Span.attributes (field 9) as KeyValues; false for a value this does not write as the SDK does. */
function writeAttributes(out: Writer, attributes: Attributes): boolean {
  for (const key in attributes) {
    const value = attributes[key];
    let keyField = keyFields.get(key);
    if (keyField === undefined) {
      const bytes = Buffer.from(key, 'utf8');
      if (bytes.length >= 0x80) return false;
      keyField = Buffer.concat([Buffer.from([0x0a, bytes.length]), bytes]);
      if (keyFields.size < 256) keyFields.set(key, keyField);
    }
    out.ensure(keyField.length + 8);
    out.byte(0x4a);
    const kvLengthAt = out.pos++;
    out.bytes(keyField);
    out.ensure(4);
    out.byte(0x12);
    const valueLengthAt = out.pos++;
    if (typeof value === 'string') {
      out.byte(0x0a);
      out.string(value);
    } else if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_SAFE) {
      out.byte(0x18);
      out.varint(value);
    } else if (typeof value === 'boolean') {
      out.byte(0x10);
      out.byte(value ? 1 : 0);
    } else {
      return false;
    }
    out.finishLength(valueLengthAt, 1);
    out.finishLength(kvLengthAt, 1);
  }
  return true;
}

/** The resource's and scope's bytes, cut from the SDK's encoding of one span of this batch. */
function framing(span: ConnectionSpan): Frame | undefined {
  const { resource, instrumentationScope: scope } = span;
  const cached = frames.get(resource);
  if (cached !== undefined && cached.scope === scope) return cached;
  if (resource.asyncAttributesPending) return undefined;
  const sdk = ProtobufTraceSerializer.serializeRequest([span]);
  if (sdk === undefined) return undefined;
  const request = Buffer.from(sdk.buffer, sdk.byteOffset, sdk.byteLength);
  const resourceSpans = field(request, 0, 0x0a);
  if (resourceSpans === undefined || resourceSpans.end !== request.length) return undefined;
  const resourceField = field(request, resourceSpans.start, 0x0a);
  if (resourceField === undefined) return undefined;
  const scopeSpans = field(request, resourceField.end, 0x12);
  if (scopeSpans === undefined) return undefined;
  const scopeField = field(request, scopeSpans.start, 0x0a);
  if (scopeField === undefined) return undefined;
  const spanField = field(request, scopeField.end, 0x12);
  if (spanField === undefined) return undefined;
  const frame: Frame = {
    scope,
    resource: Buffer.from(request.subarray(resourceField.at, resourceField.end)),
    scopeField: Buffer.from(request.subarray(scopeField.at, scopeField.end)),
    scopeTail: Buffer.from(request.subarray(spanField.end, scopeSpans.end)),
    resourceTail: Buffer.from(request.subarray(scopeSpans.end, resourceSpans.end)),
  };
  frames.set(resource, frame);
  return frame;
}

/** The length-delimited field with one-byte tag `tag` at `at`: where it starts, its content, its end. */
function field(buf: Buffer, at: number, tag: number): { at: number; start: number; end: number } | undefined {
  if (buf[at] !== tag) return undefined;
  let pos = at + 1;
  let length = 0;
  let scale = 1;
  for (;;) {
    const b = buf[pos++];
    if (b === undefined) return undefined;
    length += (b & 0x7f) * scale;
    if (b < 0x80) break;
    scale *= 0x80;
  }
  const end = pos + length;
  return end > buf.length ? undefined : { at, start: pos, end };
}
