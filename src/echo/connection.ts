/**
 * One echo connection. The bytes flow through Node's own stream machinery (`socket.pipe(socket)`),
 * so no JavaScript of ours runs per chunk; this class only does the bookkeeping once at accept,
 * once per backpressure episode, and once at close.
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log/logger.js';
import type { ConnectionInfo, ConnectionTrace, ConnectionTracer } from '../telemetry/connection-trace.js';
import { bytesSent, type CloseReason, type EchoStats } from './stats.js';

/** Socket errors that only mean the peer went away: an ordinary close with reason `reset`. */
const PEER_GONE: ReadonlySet<string | undefined> = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** What a connection needs from its acceptor. */
export interface ConnectionDeps {
  readonly stats: EchoStats;
  readonly tracer: ConnectionTracer;
  /** The component's logger; the connection logs through the trace's child of it. */
  readonly logger: Logger;
  /** Close after this long without bytes in either direction; 0 = never. */
  readonly idleTimeoutMs: number;
  /** Called once, synchronously, when the socket has closed and the counters are updated. */
  readonly onClosed: (connection: EchoConnection) => void;
}

/**
 * An accepted socket echoing to itself. Full duplex and half-close come from the stream pipe:
 * reading pauses while the write side is above its highWaterMark and resumes on `'drain'`; the
 * peer's FIN ends our write side only after everything read has been flushed.
 */
export class EchoConnection {
  readonly socket: Socket;
  readonly info: ConnectionInfo;
  private readonly trace: ConnectionTrace;
  private readonly deps: ConnectionDeps;
  private readonly openedAt = performance.now();
  /** Set by the first cause of the close (timeout, shutdown, socket error); `eof` when none. */
  private reason: CloseReason | undefined;
  private error: Error | undefined;
  private forceTimer: NodeJS.Timeout | undefined;

  /** Starts echoing on `socket`. Throws only if the tracer does, before touching the socket or stats. */
  constructor(socket: Socket, info: ConnectionInfo, deps: ConnectionDeps) {
    this.trace = deps.tracer.start(info, deps.logger);
    this.socket = socket;
    this.info = info;
    this.deps = deps;
    deps.stats.opened++;
    deps.stats.live.add(socket);

    socket.on('error', this.onError);
    socket.once('close', this.onClose);
    socket.once('finish', this.onFinish);
    socket.on('pause', this.onPause);
    socket.once('data', this.onFirstData);
    if (deps.idleTimeoutMs > 0) {
      // Node re-arms this timer on every read and write, inside the runtime (no JS of ours per chunk).
      socket.setTimeout(deps.idleTimeoutMs);
      socket.once('timeout', this.onTimeout);
    }
    // HOT PATH: the runtime moves the bytes; never add a per-chunk listener, closure, log or OTel call here.
    socket.pipe(socket);

    this.trace.logger.info('Accepted connection', {
      sock_number: info.number,
      peer_address: info.peerAddress,
      peer_port: info.peerPort,
    });
  }

  /**
   * Closes the connection for shutdown, flushing first: stops echoing new input, writes back what
   * was already read, ends the write side (FIN after the queued bytes), then discards further input
   * until the peer closes (so unread input does not turn our close into a RST that could destroy
   * the echo in flight). Destroyed after `flushBoundMs` whatever happens. Idempotent.
   */
  shutdown(flushBoundMs: number): void {
    const socket = this.socket;
    if (socket.destroyed || this.forceTimer !== undefined) return;
    this.reason ??= 'shutdown';
    socket.removeListener('data', this.onFirstData);
    socket.unpipe(socket);
    if (!socket.writableEnded) {
      // Bytes read but still in the readable buffer (the pipe was paused) are echo data too.
      for (let chunk: Buffer | null; (chunk = socket.read() as Buffer | null) !== null; ) socket.write(chunk);
      socket.end();
    }
    // Flowing with no 'data' listener: further input is read and dropped (still counted as read).
    socket.resume();
    this.forceTimer = setTimeout(this.forceClose, flushBoundMs);
  }

  private readonly forceClose = (): void => {
    this.socket.destroy();
  };

  private readonly onFirstData = (): void => {
    this.safely('sendStarted', () => this.trace.sendStarted());
  };

  private readonly onFinish = (): void => {
    this.safely('sendEnded', () => this.trace.sendEnded());
  };

  // The pipe pauses reading when a write returns false: one backpressure pause. Counted when it
  // begins, not on 'drain', so a client that never reads again is counted too.
  private readonly onPause = (): void => {
    this.deps.stats.backpressurePauses++;
  };

  private readonly onTimeout = (): void => {
    this.reason ??= 'timeout';
    this.socket.destroy();
  };

  // Node destroys the socket after 'error' and always emits 'close' next (lib/net.js).
  private readonly onError = (error: NodeJS.ErrnoException): void => {
    this.error ??= error;
    this.reason ??= PEER_GONE.has(error.code) ? 'reset' : 'error';
  };

  private readonly onClose = (): void => {
    clearTimeout(this.forceTimer);
    const { socket, deps } = this;
    const stats = deps.stats;
    const reason = this.reason ?? 'eof';
    const bytesRead = socket.bytesRead;
    const bytesWritten = bytesSent(socket);
    stats.live.delete(socket);
    stats.closedBytesRead += bytesRead;
    stats.closedBytesWritten += bytesWritten;
    stats.closeReasons[reason]++;
    stats.closed++;
    deps.onClosed(this);

    const seconds = (performance.now() - this.openedAt) / 1000;
    // Each step on its own: one failing telemetry call must not skip the others.
    this.safely('recordDuration', () => stats.recordDuration(seconds));
    this.safely('sendEnded', () => this.trace.sendEnded());
    // Logged before the span ends, inside it, as userver's "Closing socket" is.
    this.safely('close log', () => {
      const error = this.error as NodeJS.ErrnoException | undefined;
      const fields = {
        reason,
        bytes_read: bytesRead,
        bytes_written: bytesWritten,
        duration_ms: Math.round(seconds * 1000),
        error: error === undefined ? undefined : (error.code ?? error.message),
      };
      if (reason === 'error') this.trace.logger.warning('Closing socket', fields);
      else this.trace.logger.info('Closing socket', fields);
    });
    this.safely('end', () => this.trace.end({ reason, bytesRead, bytesWritten, error: this.error }));
  };

  /** Runs telemetry code from a socket handler: its failure is logged, never thrown into the event loop. */
  private safely(what: string, action: () => void): void {
    try {
      action();
    } catch (error) {
      try {
        this.deps.logger.error(`${what} failed for connection ${this.info.number}: ${String(error)}`);
      } catch {
        // The logger itself failed; nothing left to tell.
      }
    }
  }
}
