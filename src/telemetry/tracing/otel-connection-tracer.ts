/**
 * The ConnectionTracer on OpenTelemetry: per accepted socket a `sock` span (kind SERVER) started
 * with all its attributes in one call, a `send` child for the write side, and a logger bound to
 * the span once. Nothing here runs per data chunk, and no context is made active (`context.with`
 * per event would cost an AsyncLocalStorage run each time): the child gets its parent explicitly.
 */
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import type { Logger } from '../../log/logger.js';
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
  serverAddress: 'server.address',
  serverPort: 'server.port',
  bytesRead: 'sock.bytes_read',
  bytesWritten: 'sock.bytes_written',
  closeReason: 'sock.close_reason',
  errorType: 'error.type',
} as const;

/**
 * Starts `sock` spans on `tracer`. Keeps the open ones so that `endAll()` can close them at
 * shutdown (the echo component normally ends them first, with reason `shutdown`).
 */
export class OtelConnectionTracer implements ConnectionTracer {
  /** Connections whose `sock` span is recording and not yet ended. */
  readonly open = new Set<SockTrace>();

  /**
   * @param neverSample the sampler can never sample a connection (ratio 0, always_off): skip the
   *   SDK entirely, so a sampler at 0 costs what tracing off costs.
   */
  constructor(
    private readonly tracer: Tracer,
    private readonly neverSample = false,
  ) {}

  start(info: ConnectionInfo, logger: Logger): ConnectionTrace {
    if (this.neverSample) return unsampled(info, logger);
    const attributes: Attributes = {
      [ATTR.sockNumber]: info.number,
      [ATTR.networkTransport]: 'tcp',
    };
    // Absent rather than wrong: each key only when the platform told us.
    if (info.fd !== undefined) attributes[ATTR.fd] = info.fd;
    if (info.networkType !== undefined) attributes[ATTR.networkType] = info.networkType;
    if (info.peerAddress !== undefined) attributes[ATTR.peerAddress] = info.peerAddress;
    if (info.peerPort !== undefined) attributes[ATTR.peerPort] = info.peerPort;
    if (info.localAddress !== undefined) attributes[ATTR.serverAddress] = info.localAddress;
    if (info.localPort !== undefined) attributes[ATTR.serverPort] = info.localPort;
    // root + ROOT_CONTEXT: a connection starts its own trace, and no context lookup is needed.
    // Every start and end time comes from one monotonic clock (hrTime: time origin + performance.now()):
    // the SDK otherwise anchors each span on its own millisecond-rounded Date.now(), and a `send`
    // child could appear to start before, or end after, its `sock` parent by up to a millisecond.
    const span = this.tracer.startSpan(
      SPAN.sock,
      { kind: SpanKind.SERVER, attributes, root: true, startTime: hrTime() },
      ROOT_CONTEXT,
    );
    if (!span.isRecording()) {
      // Sampled out: cost as close to the untraced path as possible, ids that lead to no trace
      // are not written (they would only mislead), the fd still is.
      return unsampled(info, logger);
    }
    const { traceId, spanId } = span.spanContext();
    const bound = logger.child(
      info.fd === undefined ? { trace_id: traceId, span_id: spanId } : { trace_id: traceId, span_id: spanId, fd: info.fd },
    );
    const sock = new SockTrace(this, span, bound);
    this.open.add(sock);
    return sock;
  }

  /** Ends every still-open connection span with reason `shutdown` (byte totals unknown here). */
  endAll(): number {
    const count = this.open.size;
    for (const sock of [...this.open]) sock.endForShutdown();
    return count;
  }

  /** @internal Used by SockTrace. */
  startSend(parent: Span): Span {
    return this.tracer.startSpan(
      SPAN.send,
      { kind: SpanKind.INTERNAL, startTime: hrTime() },
      trace.setSpan(ROOT_CONTEXT, parent),
    );
  }
}

/** One recording connection: its `sock` span, the optional `send` child and the bound logger. */
class SockTrace implements ConnectionTrace {
  private send: Span | undefined;
  private sendDone = false;
  private ended = false;

  constructor(
    private readonly owner: OtelConnectionTracer,
    private readonly span: Span,
    readonly logger: Logger,
  ) {}

  sendStarted(): void {
    if (this.send !== undefined || this.sendDone || this.ended) return;
    this.send = this.owner.startSend(this.span);
  }

  sendEnded(): void {
    if (this.sendDone) return;
    this.sendDone = true;
    this.send?.end(hrTime());
  }

  end(outcome: ConnectionOutcome): void {
    if (this.ended) return;
    this.sendEnded();
    const attributes: Attributes = {
      [ATTR.closeReason]: outcome.reason,
      [ATTR.bytesRead]: outcome.bytesRead,
      [ATTR.bytesWritten]: outcome.bytesWritten,
    };
    // A peer reset (`reset`) is an ordinary close for an echo server, not a failure of ours:
    // the close reason records it and the status stays unset. Other socket errors are errors.
    if (outcome.error !== undefined && outcome.reason !== 'reset') {
      attributes[ATTR.errorType] = errorType(outcome.error);
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error.message });
    }
    this.span.setAttributes(attributes);
    this.finish();
  }

  /** Shutdown without an outcome from the echo side. */
  endForShutdown(): void {
    if (this.ended) return;
    this.sendEnded();
    this.span.setAttribute(ATTR.closeReason, 'shutdown');
    this.finish();
  }

  private finish(): void {
    this.ended = true;
    this.span.end(hrTime());
    this.owner.open.delete(this);
  }
}

function errorType(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === 'string' && code !== '' ? code : error.name || 'Error';
}

const NOOP = (): void => {};

function unsampled(info: ConnectionInfo, logger: Logger): ConnectionTrace {
  return {
    logger: info.fd === undefined ? logger : logger.child({ fd: info.fd }),
    sendStarted: NOOP,
    sendEnded: NOOP,
    end: NOOP,
  };
}
