/**
 * The ConnectionTracer on OpenTelemetry: per accepted socket a `sock` span (kind SERVER) with all
 * its attributes, a `send` child for the write side, and a logger bound to the span once. Nothing
 * here runs per data chunk, and no context is made active (`context.with` per event would cost an
 * AsyncLocalStorage run each time): the child gets its parent explicitly.
 *
 * Memory: an open connection holds no SDK span. A live SDK span (attributes, links, events,
 * status, times, references) costs over a kilobyte, two per connection, for as long as the
 * connection is open, and an idle server holds thousands. So at accept only what the spans will
 * need is kept: the ids (drawn here, because the logs need them at once), the sampling decision
 * (taken here with the provider's own sampler, which decides on the trace id alone for a root) and
 * the start times. At close both spans are built with their recorded start times and the ids
 * handed to the SDK through {@link PresetIdGenerator}, then ended with their recorded end times:
 * the exported spans are the same as if they had lived all along.
 *
 * Speed: with a {@link SpanSink} (the pipeline's own processors, the provider's resource and our
 * scope) the two finished spans are handed to the processors as plain ReadableSpan records made
 * in one step, instead of through the SDK's Tracer.startSpan, SpanImpl, attribute sanitising and
 * context objects: the same fields with the same values (the SDK's own spans are ReadableSpans
 * too), at a fraction of the allocations. What the SDK would add does not apply to these spans:
 * no links or events, a dozen valid attributes (the provider's limits are 128 and unbounded
 * length), no sampler attributes or trace state from the standard samplers. Without a sink the
 * spans go through the SDK's tracer as before.
 */
import {
  ROOT_CONTEXT,
  SamplingDecision,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type HrTime,
  type Span,
  type SpanContext,
  type SpanStatus,
  type Tracer,
} from '@opentelemetry/api';
import { hrTime, hrTimeDuration, type InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import { RandomIdGenerator, type IdGenerator, type ReadableSpan, type Sampler, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { performance } from 'node:perf_hooks';
import type { BoundFields, LogFields, Logger, TskvFieldWriter } from '../../log/logger.js';
import { bindFd, FD_PART } from '../connection-log-fields.js';
import { hrTimeAt } from './hr-time.js';
import { IdPool, SEND_SPAN_ID_AT, SOCK_SPAN_ID_AT, TRACE_ID_AT } from './id-pool.js';
import type {
  ConnectionInfo,
  ConnectionOutcome,
  ConnectionTrace,
  ConnectionTracer,
} from '../connection-trace.js';

/** Span names and the attribute keys this tracer writes (OpenTelemetry semantic conventions where one exists). */
export const SPAN = {
  sock: 'sock',
  send: 'send',
} as const;

export const ATTR = {
  fd: 'fd',
  sockNumber: 'sock.number',
  networkTransport: 'network.transport',
  networkType: 'network.type',
  peerAddress: 'network.peer.address',
  peerPort: 'network.peer.port',
  clientAddress: 'client.address',
  clientPort: 'client.port',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  bytesRead: 'sock.bytes_read',
  bytesWritten: 'sock.bytes_written',
  closeReason: 'sock.close_reason',
  errorType: 'error.type',
} as const;

/**
 * The provider's IdGenerator: random ids, except that the next trace id and span id can be set
 * beforehand. `startSpan` is synchronous and asks for exactly one span id (and, for a root, one
 * trace id), so presetting right before it gives that span the ids chosen earlier.
 */
export class PresetIdGenerator implements IdGenerator {
  private readonly random = new RandomIdGenerator();
  private nextTraceId: string | undefined;
  private nextSpanId: string | undefined;

  /** The ids the next root span gets. */
  preset(traceId: string, spanId: string): void {
    this.nextTraceId = traceId;
    this.nextSpanId = spanId;
  }

  /** Forgets a preset that was not used (the SDK returned a non-recording span before asking). */
  clear(): void {
    this.nextTraceId = undefined;
    this.nextSpanId = undefined;
  }

  generateTraceId(): string {
    const id = this.nextTraceId;
    if (id === undefined) return this.random.generateTraceId();
    this.nextTraceId = undefined;
    return id;
  }

  generateSpanId(): string {
    const id = this.nextSpanId;
    if (id === undefined) return this.random.generateSpanId();
    this.nextSpanId = undefined;
    return id;
  }
}

/** Where finished connection spans go on the fast path: what the provider would give its spans. */
export interface SpanSink {
  readonly resource: Resource;
  readonly scope: InstrumentationScope;
  /** The provider's span processors (ours: their onStart does nothing, so only onEnd is called). */
  readonly processors: readonly Pick<SpanProcessor, 'onEnd'>[];
}

const NO_LINKS: ReadableSpan['links'] = Object.freeze([]) as unknown as ReadableSpan['links'];
const NO_EVENTS: ReadableSpan['events'] = Object.freeze([]) as unknown as ReadableSpan['events'];
const STATUS_UNSET: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });

/**
 * A finished span as the SDK's SpanImpl would present it to processors and exporters, kept as a
 * thin view over its connection's {@link SockTrace}: the ids, times and facts are primitives there,
 * and the SDK-shaped values (SpanContext, HrTime pairs, the attributes object, the status) are
 * built when a processor or the encoder asks for them. Why: a finished span waits in the batch
 * queue until its batch is exported, tens of milliseconds at a high connection rate, which is
 * long enough to survive two young-generation collections and be promoted to the old generation;
 * built eagerly, the dozen objects of each span were promoted and collected again by the
 * old-generation collector. Built at export, they are young garbage that costs nothing to drop.
 *
 * A view is also its own SpanContext: the batch processor asks every ended span for it only to
 * read the sampled flag, so no context object is made per span; the `send` span's hex id is cut
 * from the id bytes when something reads it.
 */
export class ConnectionSpan implements ReadableSpan, SpanContext {
  constructor(
    /** @internal The connection's record (the OTLP encoder writes from it directly). */
    readonly trace: SockTrace,
    /** @internal True for the `send` child, false for the `sock` span itself. */
    readonly isSend: boolean,
    readonly resource: Resource,
    readonly instrumentationScope: InstrumentationScope,
  ) {}

  get name(): string {
    return this.isSend ? SPAN.send : SPAN.sock;
  }

  get kind(): SpanKind {
    return this.isSend ? SpanKind.INTERNAL : SpanKind.SERVER;
  }

  spanContext(): SpanContext {
    return this;
  }

  get traceId(): string {
    return this.trace.traceId;
  }

  get spanId(): string {
    return this.isSend ? this.trace.sendSpanId : this.trace.spanId;
  }

  get traceFlags(): number {
    return TraceFlags.SAMPLED;
  }

  get traceState(): undefined {
    return undefined;
  }

  get parentSpanContext(): SpanContext | undefined {
    if (!this.isSend) return undefined;
    const trace = this.trace;
    return { traceId: trace.traceId, spanId: trace.spanId, traceFlags: TraceFlags.SAMPLED, traceState: undefined };
  }

  /** @internal The start as a `performance.now()` value (the protobuf encoder writes it from this). */
  get startedAtMs(): number {
    const trace = this.trace;
    return this.isSend ? (trace.sendStartedAt as number) : trace.startedAt;
  }

  /** @internal The end as a `performance.now()` value. */
  get endedAtMs(): number {
    const trace = this.trace;
    return this.isSend ? (trace.sendEndedAt ?? trace.endedAt) : trace.endedAt;
  }

  get startTime(): HrTime {
    return hrTimeAt(this.startedAtMs);
  }

  get endTime(): HrTime {
    return hrTimeAt(this.endedAtMs);
  }

  get duration(): HrTime {
    return hrTimeDuration(this.startTime, this.endTime);
  }

  get status(): SpanStatus {
    const message = this.isSend ? undefined : this.trace.errorMessage;
    return message === undefined ? STATUS_UNSET : { code: SpanStatusCode.ERROR, message };
  }

  get attributes(): Attributes {
    const trace = this.trace;
    // userver's span tags (the `fd`) are inherited by child spans: `send` carries the fd too.
    if (this.isSend) return trace.info.fd === undefined ? {} : { [ATTR.fd]: trace.info.fd };
    const attributes = sockAttributes(trace.info);
    trace.closingAttributes(attributes);
    return attributes;
  }

  // The SDK's constants for a span without links, events or limits hit: on the prototype, not per span.
  get links(): ReadableSpan['links'] {
    return NO_LINKS;
  }
  get events(): ReadableSpan['events'] {
    return NO_EVENTS;
  }
  get ended(): boolean {
    return true;
  }
  get droppedAttributesCount(): number {
    return 0;
  }
  get droppedEventsCount(): number {
    return 0;
  }
  get droppedLinksCount(): number {
    return 0;
  }
}

/**
 * Starts connection traces on `tracer`. Keeps the open ones so that `endAll()` can close them at
 * shutdown (the echo component normally ends them first, with reason `shutdown`).
 */
/** What the sampler answers for every connection, when that is known beforehand. */
export type RootDecision = 'never' | 'always' | 'ask';

export class OtelConnectionTracer implements ConnectionTracer {
  /** Connections whose `sock` span is sampled and not yet ended. */
  readonly open = new Set<SockTrace>();
  /** Where each connection's trace and span ids come from (drawn at accept, for the logs). */
  private readonly idPool = new IdPool();

  /**
   * @param sampler the provider's sampler: decides at accept, and again (the same way) when the
   *   spans are built at close.
   * @param ids the provider's IdGenerator.
   * @param rootDecision what the sampler answers for a connection's root span: `never` (ratio 0,
   *   always_off: the SDK is skipped entirely, so a sampler at 0 costs what tracing off costs),
   *   `always` (an always-on root: sampled without asking) or `ask` (the sampler decides per trace id).
   */
  constructor(
    private readonly tracer: Tracer,
    private readonly sampler: Sampler,
    private readonly ids: PresetIdGenerator,
    private readonly rootDecision: RootDecision = 'ask',
    private readonly sink?: SpanSink,
  ) {}

  start(info: ConnectionInfo, logger: Logger): ConnectionTrace {
    const decide = this.rootDecision;
    if (decide === 'never') return unsampled(info, logger);
    const startedAt = performance.now();
    const idAt = this.idPool.draw();
    const idSlab = this.idPool.current;
    if (decide === 'ask') {
      // A connection's span is always a root (no propagated parent on a raw TCP socket), so the
      // sampler sees what it would see inside startSpan: no parent, this trace id, the span's name
      // and kind. Attributes are left out: no standard sampler reads them, and building them here
      // would cost the allocation this class exists to avoid.
      const traceId = idSlab.toString('hex', idAt + TRACE_ID_AT, idAt + TRACE_ID_AT + 16);
      const decision = this.sampler.shouldSample(ROOT_CONTEXT, traceId, SPAN.sock, SpanKind.SERVER, {}, []).decision;
      if (decision !== SamplingDecision.RECORD_AND_SAMPLED) {
        // Sampled out: ids that lead to no trace are not written (they would only mislead), the fd still is.
        return unsampled(info, logger);
      }
    }
    const sock = new SockTrace(this, info, idSlab, idAt, startedAt, logger);
    this.open.add(sock);
    return sock;
  }

  /** Ends every still-open connection span with reason `shutdown` (byte totals unknown here). */
  endAll(): number {
    const count = this.open.size;
    for (const sock of [...this.open]) sock.endForShutdown();
    return count;
  }

  /**
   * @internal Builds and ends the spans of one connection (times are `performance.now()` values).
   * Every start and end time comes from one monotonic clock (hrTime: time origin + performance.now()):
   * the SDK otherwise anchors each span on its own millisecond-rounded Date.now(), and a `send`
   * child could appear to start before, or end after, its `sock` parent by up to a millisecond.
   */
  emit(sock: SockTrace): void {
    if (this.sink !== undefined) return this.emitRecords(this.sink, sock);
    const { info, endedAt } = sock;
    const error = sock.errorMessage;
    const attributes = sockAttributes(info);
    this.ids.preset(sock.traceId, sock.spanId);
    let span: Span;
    try {
      // root + ROOT_CONTEXT: a connection starts its own trace, and no context lookup is needed.
      span = this.tracer.startSpan(
        SPAN.sock,
        { kind: SpanKind.SERVER, attributes, root: true, startTime: hrTime(sock.startedAt) },
        ROOT_CONTEXT,
      );
    } finally {
      // Never left for another span, whatever startSpan did.
      this.ids.clear();
    }
    if (sock.sendStartedAt !== undefined) {
      // The child's span id is the one drawn for it at accept, as on the record path.
      this.ids.preset(sock.traceId, sock.sendSpanId);
      let send: Span;
      try {
        // userver's span tags (the `fd`) are inherited by child spans: `send` carries the fd too.
        send = this.tracer.startSpan(
          SPAN.send,
          {
            kind: SpanKind.INTERNAL,
            startTime: hrTime(sock.sendStartedAt),
            attributes: info.fd === undefined ? undefined : { [ATTR.fd]: info.fd },
          },
          trace.setSpan(ROOT_CONTEXT, span),
        );
      } finally {
        this.ids.clear();
      }
      send.end(hrTime(sock.sendEndedAt ?? endedAt));
    }
    const closing: Attributes = {};
    sock.closingAttributes(closing);
    span.setAttributes(closing);
    if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    span.end(hrTime(endedAt));
  }

  /**
   * The fast path of {@link emit}: both spans as records, in the SDK's order (the `send` child
   * ends first); their fields are read from `sock` when asked for ({@link ConnectionSpan}).
   */
  private emitRecords(sink: SpanSink, sock: SockTrace): void {
    const { processors, resource, scope } = sink;
    if (sock.sendStartedAt !== undefined) {
      const send = new ConnectionSpan(sock, true, resource, scope);
      for (const processor of processors) processor.onEnd(send);
    }
    const span = new ConnectionSpan(sock, false, resource, scope);
    for (const processor of processors) processor.onEnd(span);
  }
}

/**
 * One sampled connection: its ids, the times and facts its spans will carry, and the logger bound
 * to it. Its ids stay bytes in the id slab: the tskv lines write them as hex straight from there
 * (it is the logger's {@link BoundFields}), the OTLP encoder copies them, and a hex string is cut
 * only when something reads `traceId`, `spanId` or `sendSpanId` (JSON lines, an exemplar).
 */
export class SockTrace implements ConnectionTrace, BoundFields {
  /** `performance.now()` when the send side began and ended, and when the connection ended. */
  sendStartedAt: number | undefined;
  sendEndedAt: number | undefined;
  endedAt = 0;
  /** The outcome, once ended (what the `sock` span's closing attributes and status say). */
  closeReason: string | undefined;
  bytesRead: number | undefined;
  bytesWritten: number | undefined;
  errorType: string | undefined;
  errorMessage: string | undefined;
  private sendDone = false;
  private ended = false;
  private traceHex: string | undefined = undefined;
  private spanHex: string | undefined = undefined;
  private sendSpanHex: string | undefined = undefined;
  readonly sampled = true;
  readonly logger: Logger;

  constructor(
    private readonly owner: OtelConnectionTracer,
    readonly info: ConnectionInfo,
    /** The id bytes ({@link IdPool}): trace id, `sock` and `send` span ids at `idAt`. */
    readonly idSlab: Buffer,
    readonly idAt: number,
    readonly startedAt: number,
    logger: Logger,
  ) {
    this.logger = logger.bind(this);
  }

  get traceId(): string {
    return (this.traceHex ??= this.idSlab.toString('hex', this.idAt + TRACE_ID_AT, this.idAt + TRACE_ID_AT + 16));
  }

  get spanId(): string {
    return (this.spanHex ??= this.idSlab.toString('hex', this.idAt + SOCK_SPAN_ID_AT, this.idAt + SOCK_SPAN_ID_AT + 8));
  }

  /** The `send` child's span id (hex), cut from the id bytes when first asked for. */
  get sendSpanId(): string {
    return (this.sendSpanHex ??= this.idSlab.toString('hex', this.idAt + SEND_SPAN_ID_AT, this.idAt + SEND_SPAN_ID_AT + 8));
  }

  /** The fields every line of the connection carries (BoundFields): its span's ids, and the fd. */
  fields(): LogFields {
    const fd = this.info.fd;
    return fd === undefined ? { trace_id: this.traceId, span_id: this.spanId } : { trace_id: this.traceId, span_id: this.spanId, fd };
  }

  writeTskv(out: TskvFieldWriter): boolean {
    const { idSlab, idAt } = this;
    const fd = this.info.fd;
    return (
      out.text(TRACE_ID_PART) &&
      out.hex(idSlab, idAt + TRACE_ID_AT, idAt + TRACE_ID_AT + 16) &&
      out.text(SPAN_ID_PART) &&
      out.hex(idSlab, idAt + SOCK_SPAN_ID_AT, idAt + SOCK_SPAN_ID_AT + 8) &&
      (fd === undefined || (out.text(FD_PART) && out.number(fd)))
    );
  }

  sendStarted(): void {
    if (this.sendStartedAt !== undefined || this.sendDone || this.ended) return;
    this.sendStartedAt = performance.now();
  }

  sendEnded(): void {
    if (this.sendDone) return;
    this.sendDone = true;
    if (this.sendStartedAt !== undefined) this.sendEndedAt = performance.now();
  }

  end(outcome: ConnectionOutcome): void {
    if (this.ended) return;
    this.sendEnded();
    this.closeReason = outcome.reason;
    this.bytesRead = outcome.bytesRead;
    this.bytesWritten = outcome.bytesWritten;
    // A peer reset (`reset`) is an ordinary close for an echo server, not a failure of ours:
    // the close reason records it and the status stays unset. Other socket errors are errors.
    if (outcome.error !== undefined && outcome.reason !== 'reset') {
      this.errorType = errorType(outcome.error);
      this.errorMessage = outcome.error.message;
    }
    this.finish();
  }

  /** Shutdown without an outcome from the echo side (byte totals unknown here). */
  endForShutdown(): void {
    if (this.ended) return;
    this.sendEnded();
    this.closeReason = 'shutdown';
    this.finish();
  }

  /** Adds the attributes the `sock` span gets at its end, in the order they were always set. */
  closingAttributes(attributes: Attributes): void {
    if (this.closeReason !== undefined) attributes[ATTR.closeReason] = this.closeReason;
    if (this.bytesRead !== undefined) attributes[ATTR.bytesRead] = this.bytesRead;
    if (this.bytesWritten !== undefined) attributes[ATTR.bytesWritten] = this.bytesWritten;
    if (this.errorType !== undefined) attributes[ATTR.errorType] = this.errorType;
  }

  private finish(): void {
    this.ended = true;
    this.endedAt = performance.now();
    this.owner.open.delete(this);
    this.owner.emit(this);
  }
}

/**
 * The `sock` span's attributes known at accept, in the order both paths set them (the closing
 * ones follow). Absent rather than wrong: each key only when the platform told us.
 */
export function sockAttributes(info: ConnectionInfo): Attributes {
  const attributes: Attributes = {
    [ATTR.sockNumber]: info.number,
    [ATTR.networkTransport]: info.transport ?? 'tcp',
  };
  if (info.fd !== undefined) attributes[ATTR.fd] = info.fd;
  if (info.networkType !== undefined) attributes[ATTR.networkType] = info.networkType;
  if (info.peerAddress !== undefined) attributes[ATTR.peerAddress] = info.peerAddress;
  if (info.peerPort !== undefined) attributes[ATTR.peerPort] = info.peerPort;
  if (info.localAddress !== undefined) attributes[ATTR.serverAddress] = info.localAddress;
  if (info.localPort !== undefined) attributes[ATTR.serverPort] = info.localPort;
  // Only behind a PROXY protocol balancer: the client it reports.
  if (info.clientAddress !== undefined) attributes[ATTR.clientAddress] = info.clientAddress;
  if (info.clientPort !== undefined) attributes[ATTR.clientPort] = info.clientPort;
  return attributes;
}

function errorType(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === 'string' && code !== '' ? code : error.name || 'Error';
}

const NOOP = (): void => {};

// The tskv key parts of the bound fields (their keys need no escaping).
const TRACE_ID_PART = '\ttrace_id=';
const SPAN_ID_PART = '\tspan_id=';

function unsampled(info: ConnectionInfo, logger: Logger): ConnectionTrace {
  return {
    logger: bindFd(logger, info.fd),
    sendStarted: NOOP,
    sendEnded: NOOP,
    end: NOOP,
  };
}
