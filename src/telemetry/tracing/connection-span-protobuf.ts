/**
 * OTLP/HTTP protobuf for our connection spans in one pass (issue 13): for a batch made only of
 * {@link ConnectionSpan} records with one resource and one scope, the ExportTraceServiceRequest is
 * written straight into one buffer: the resource and scope fields taken once per resource from the
 * SDK's own encoding (so they are its bytes), attribute keys encoded once, each span written from
 * its connection's record (ids copied as the bytes they were drawn as, attributes from the record's
 * fields), no size-estimation pass. Any other batch, or a value this does
 * not cover, goes through the SDK's ProtobufTraceSerializer; the output is byte for byte the
 * SDK's (test/unit/telemetry/connection-span-serializer.test.ts).
 */
import { SpanKind, SpanStatusCode, TraceFlags } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import { ProtobufTraceSerializer, type IExportTraceServiceResponse, type ISerializer } from '@opentelemetry/otlp-transformer';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { hrNanosAt, hrSecondsAt } from './hr-time.js';
import { SEND_SPAN_ID_AT, SOCK_SPAN_ID_AT, TRACE_ID_AT } from './id-pool.js';
import { ATTR, ConnectionSpan, SPAN, type SockTrace } from './otel-connection-tracer.js';

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
/** The span names, length-prefixed. */
const SOCK_NAME = Buffer.from([SPAN.sock.length, ...Buffer.from(SPAN.sock)]);
const SEND_NAME = Buffer.from([SPAN.send.length, ...Buffer.from(SPAN.send)]);
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

  /** Length-prefixed id bytes copied from `slab` (room ensured by the caller). */
  id(slab: Buffer, at: number, length: number): void {
    const buf = this.buf;
    let pos = this.pos;
    buf[pos++] = length;
    // 8 or 16 bytes: a loop costs less than the native copy's call.
    for (let i = at; i < at + length; i++) buf[pos++] = slab[i] as number;
    this.pos = pos;
  }
  /**
   * Opens a KeyValue (field 9): its tag, its key and the AnyValue's frame up to `valueTag`; returns
   * where the KeyValue's one-byte length goes, for `endAttribute`. `extra` is the room the value needs.
   */
  private beginAttribute(key: Buffer, valueTag: number, extra: number): number {
    this.ensure(key.length + 4 + extra);
    this.byte(0x4a);
    const kvLengthAt = this.pos++;
    this.bytes(key);
    this.byte(0x12);
    this.pos++; // the AnyValue's length, at kvLengthAt + 2 + key.length
    this.byte(valueTag);
    return kvLengthAt;
  }
  /** Closes what `beginAttribute` opened: the AnyValue's length, then the KeyValue's. */
  private endAttribute(kvLengthAt: number, key: Buffer): void {
    this.finishLength(kvLengthAt + 2 + key.length, 1);
    this.finishLength(kvLengthAt, 1);
  }
  /** A KeyValue with a string value (AnyValue field 1). */
  stringAttribute(key: Buffer, value: string): void {
    const at = this.beginAttribute(key, 0x0a, 0);
    this.string(value);
    this.endAttribute(at, key);
  }
  /** A KeyValue with an int value (AnyValue field 3); false for one the SDK would not write as a plain varint. */
  intAttribute(key: Buffer, value: number): boolean {
    if (!Number.isInteger(value) || value < 0 || value > MAX_SAFE) return false;
    const at = this.beginAttribute(key, 0x18, 10);
    this.varint(value);
    this.endAttribute(at, key);
    return true;
  }
  /** HrTime as fixed64 nanoseconds, exact beyond 2^53. */
  time(seconds: number, nanos: number): boolean {
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

/** `KeyValue.key` (tag, length, bytes) for one attribute key. */
function keyField(key: string): Buffer {
  const bytes = Buffer.from(key, 'utf8');
  return Buffer.concat([Buffer.from([0x0a, bytes.length]), bytes]);
}

/** The key fields of the attributes a connection span has, encoded once. */
const KEY = {
  fd: keyField(ATTR.fd),
  sockNumber: keyField(ATTR.sockNumber),
  networkTransport: keyField(ATTR.networkTransport),
  networkType: keyField(ATTR.networkType),
  peerAddress: keyField(ATTR.peerAddress),
  peerPort: keyField(ATTR.peerPort),
  serverAddress: keyField(ATTR.serverAddress),
  serverPort: keyField(ATTR.serverPort),
  clientAddress: keyField(ATTR.clientAddress),
  clientPort: keyField(ATTR.clientPort),
  closeReason: keyField(ATTR.closeReason),
  bytesRead: keyField(ATTR.bytesRead),
  bytesWritten: keyField(ATTR.bytesWritten),
  errorType: keyField(ATTR.errorType),
} as const;

/**
 * Writes `ScopeSpans.spans` (tag, length, Span) in the SDK's field order, straight from the
 * connection's record (ids as bytes, facts as fields): no SpanContext, attributes object or key
 * lookup per span. The attributes go in the order {@link sockAttributes} and the closing ones
 * give them, which is the order the SDK writes; false when a value is not one this writes as the
 * SDK does (the batch then goes through the SDK's serializer).
 */
function writeSpan(out: Writer, span: ConnectionSpan): boolean {
  const { trace, isSend } = span;
  const slab = trace.idSlab;
  const at = trace.idAt;
  out.ensure(4 + 3 * 18 + 12);
  out.byte(0x12);
  // Two bytes reserved for the length (a span is 128..16383 bytes); moved if it is not.
  const lengthAt = out.pos;
  out.pos += 2;
  out.byte(0x0a);
  out.id(slab, at + TRACE_ID_AT, 16);
  out.byte(0x12);
  out.id(slab, at + (isSend ? SEND_SPAN_ID_AT : SOCK_SPAN_ID_AT), 8);
  if (isSend) {
    out.byte(0x22);
    out.id(slab, at + SOCK_SPAN_ID_AT, 8);
  }
  out.byte(0x2a);
  out.bytes(isSend ? SEND_NAME : SOCK_NAME);
  out.ensure(12);
  out.byte(0x30);
  out.varint((isSend ? SpanKind.INTERNAL : SpanKind.SERVER) + 1);
  out.byte(0x39);
  // The SDK's HrTime, as its two parts (hr-time.ts): no array per time.
  const startedAt = span.startedAtMs;
  if (!out.time(hrSecondsAt(startedAt), hrNanosAt(startedAt))) return false;
  out.ensure(1);
  out.byte(0x41);
  const endedAt = span.endedAtMs;
  if (!out.time(hrSecondsAt(endedAt), hrNanosAt(endedAt))) return false;
  const info = trace.info;
  // userver's span tags (the `fd`) are inherited by child spans: `send` carries the fd too.
  if (isSend) {
    if (info.fd !== undefined && !out.intAttribute(KEY.fd, info.fd)) return false;
  } else if (!writeSockAttributes(out, trace)) {
    return false;
  }
  // Dropped attributes, events and links (none), then status (field 15): message (2) when there
  // is one, code (3).
  out.ensure(8);
  out.byte(0x50);
  out.byte(0);
  out.byte(0x60);
  out.byte(0);
  out.byte(0x70);
  out.byte(0);
  const message = isSend ? undefined : trace.errorMessage;
  out.byte(0x7a);
  const statusLengthAt = out.pos++;
  if (message) {
    out.ensure(1);
    out.byte(0x12);
    out.string(message);
  }
  out.ensure(8);
  out.byte(0x18);
  out.varint(message === undefined ? SpanStatusCode.UNSET : SpanStatusCode.ERROR);
  out.finishLength(statusLengthAt, 1);
  // flags (16, fixed32): trace flags (sampled) plus "has is_remote".
  out.ensure(7);
  out.byte(0x85);
  out.byte(0x01);
  out.buf.writeUInt32LE((TraceFlags.SAMPLED | 0x100) >>> 0, out.pos);
  out.pos += 4;
  out.finishLength(lengthAt, 2);
  return true;
}

/** The `sock` span's attributes (field 9), each only when known, as sockAttributes and closingAttributes set them. */
function writeSockAttributes(out: Writer, trace: SockTrace): boolean {
  const info = trace.info;
  if (!out.intAttribute(KEY.sockNumber, info.number)) return false;
  out.stringAttribute(KEY.networkTransport, info.transport ?? 'tcp');
  if (info.fd !== undefined && !out.intAttribute(KEY.fd, info.fd)) return false;
  if (info.networkType !== undefined) out.stringAttribute(KEY.networkType, info.networkType);
  if (info.peerAddress !== undefined) out.stringAttribute(KEY.peerAddress, info.peerAddress);
  if (info.peerPort !== undefined && !out.intAttribute(KEY.peerPort, info.peerPort)) return false;
  if (info.localAddress !== undefined) out.stringAttribute(KEY.serverAddress, info.localAddress);
  if (info.localPort !== undefined && !out.intAttribute(KEY.serverPort, info.localPort)) return false;
  if (info.clientAddress !== undefined) out.stringAttribute(KEY.clientAddress, info.clientAddress);
  if (info.clientPort !== undefined && !out.intAttribute(KEY.clientPort, info.clientPort)) return false;
  if (trace.closeReason !== undefined) out.stringAttribute(KEY.closeReason, trace.closeReason);
  if (trace.bytesRead !== undefined && !out.intAttribute(KEY.bytesRead, trace.bytesRead)) return false;
  if (trace.bytesWritten !== undefined && !out.intAttribute(KEY.bytesWritten, trace.bytesWritten)) return false;
  if (trace.errorType !== undefined) out.stringAttribute(KEY.errorType, trace.errorType);
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
