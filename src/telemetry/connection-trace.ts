/**
 * What the echo acceptor asks of tracing, once per connection (never per chunk). The `tracer`
 * component provides the real implementation; `NOOP_CONNECTION_TRACER` serves when it is not loaded.
 */
import type { Logger } from '../log/logger.js';
import { bindFd } from './connection-log-fields.js';

/** Why a connection ended. A small fixed set: it is a metric label and a span attribute. */
export const CLOSE_REASONS = [
  'eof',
  'reset',
  'timeout',
  'error',
  'shutdown',
  'rejected',
  // PROXY protocol (tcp-echo.proxy_protocol): the connection closed before its header was read.
  'proxy-missing',
  'proxy-malformed',
  'proxy-oversized',
  'proxy-timeout',
] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

/** Facts about an accepted socket, gathered once at accept. */
export interface ConnectionInfo {
  /** OS file descriptor, when the platform exposes one. */
  readonly fd: number | undefined;
  /** 1-based number of the connection in this process (userver's `sock_<N>`). */
  readonly number: number;
  /** The client's address; IPv4-mapped IPv6 (`::ffff:a.b.c.d`) already shown as IPv4. */
  readonly peerAddress: string | undefined;
  readonly peerPort: number | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  /** `ipv4` or `ipv6`, per OpenTelemetry's `network.type`. */
  readonly networkType: 'ipv4' | 'ipv6' | undefined;
  /** OpenTelemetry's `network.transport` when it is not `tcp`: `unix` on a unix-socket listener. */
  readonly transport?: 'unix';
  /**
   * The original client named by a PROXY protocol header (`client.address`/`client.port`); absent
   * without one, when the peer itself is the client. `peerAddress` then stays the balancer.
   */
  readonly clientAddress?: string | undefined;
  readonly clientPort?: number | undefined;
}

/** How a connection ended. */
export interface ConnectionOutcome {
  readonly reason: CloseReason;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  /**
   * The socket error, for reasons `reset` and `error`. With `error` the span gets status ERROR and
   * `error.type` (the error's `code`, else its name); a `reset` is an ordinary close (status unset).
   */
  readonly error?: Error;
}

/** One connection's tracing: its `sock` span, the `send` child, and a logger bound to them. */
export interface ConnectionTrace {
  /**
   * Logs through this carry the `sock` span's trace_id and span_id (and the fd), bound once. A
   * connection the sampler left out carries only the fd: ids that lead to no trace would mislead.
   */
  readonly logger: Logger;
  /**
   * True only when the connection is sampled: `traceId` and `spanId` are then defined. Ask this
   * first; a sampled trace may cut the hex strings only when they are read.
   */
  readonly sampled?: boolean;
  /**
   * The `sock` span's ids (32 and 16 lowercase hex), present only when the connection is sampled:
   * the duration histogram keeps them as its bucket's exemplar.
   */
  readonly traceId?: string;
  readonly spanId?: string;
  /** The write side began (first echoed chunk): opens the `send` child span. Idempotent. */
  sendStarted(): void;
  /** The write side is finished (flushed and ended, or the socket closed). Idempotent. */
  sendEnded(): void;
  /** The connection is over: sets the closing attributes and status, ends both spans. Idempotent. */
  end(outcome: ConnectionOutcome): void;
}

/** Starts a ConnectionTrace per accepted socket. */
export interface ConnectionTracer {
  start(info: ConnectionInfo, logger: Logger): ConnectionTrace;
}

/** Tracing off: the logger passes through unchanged and nothing is recorded. */
export const NOOP_CONNECTION_TRACER: ConnectionTracer = {
  start(info, logger) {
    return { logger: bindFd(logger, info.fd), sendStarted() {}, sendEnded() {}, end() {} };
  },
};
