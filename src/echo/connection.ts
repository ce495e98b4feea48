/**
 * One echo connection. The bytes flow through Node's own stream machinery (`socket.pipe(socket)`),
 * so no JavaScript of ours runs per chunk; this class only does the bookkeeping once at accept,
 * once per backpressure episode, and once at close.
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log/logger.js';
import { prepareLine } from '../log/prepared-line.js';
import type { CloseReason, ConnectionInfo, ConnectionTrace, ConnectionTracer } from '../telemetry/connection-trace.js';
import { bytesSent, type EchoStats } from './stats.js';

/** Socket errors that only mean the peer went away: an ordinary close with reason `reset`. */
const PEER_GONE: ReadonlySet<string | undefined> = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

// A connection's two lines, prepared once: the values go in as arguments (see prepared-line.ts).
const ACCEPTED_LINE = prepareLine('info', 'Accepted connection', ['sock_number', 'peer_address', 'peer_port']);
const CLOSING_KEYS = ['reason', 'bytes_read', 'bytes_written', 'duration_ms', 'error'];
const CLOSING_LINE = prepareLine('info', 'Closing socket', CLOSING_KEYS);
const CLOSING_ON_ERROR_LINE = prepareLine('warning', 'Closing socket', CLOSING_KEYS);

/**
 * Where a socket keeps its connection. The listeners below are shared by every socket (Node calls
 * them with `this` = the socket), so a connection costs one property here instead of six bound
 * closures; a symbol cannot collide with Node's own socket fields.
 */
const CONNECTION = Symbol('tcp-echo.connection');

type EchoSocket = Socket & { [CONNECTION]?: EchoConnection };

function connectionOf(socket: Socket): EchoConnection | undefined {
  return (socket as EchoSocket)[CONNECTION];
}

// Shared listeners (no per-connection closures). Each only forwards to the connection.
function onSocketError(this: Socket, error: NodeJS.ErrnoException): void {
  connectionOf(this)?.handleError(error);
}
function onSocketClose(this: Socket): void {
  connectionOf(this)?.handleClose();
}
function onSocketFinish(this: Socket): void {
  connectionOf(this)?.handleFinish();
}
function onSocketFirstData(this: Socket): void {
  this.removeListener('data', onSocketFirstData);
  connectionOf(this)?.handleFirstData();
}
function onSocketTimeout(this: Socket): void {
  connectionOf(this)?.handleTimeout();
}
// The pipe pauses reading when a write returns false: one backpressure pause. Counted when it
// begins, not on 'drain', so a client that never reads again is counted too. 'pause' also fires
// when the pipe ends (unpipe after our write side finished or closed) and after a write the kernel
// took at once (a chunk above the highWaterMark, 'drain' on the next tick); neither is
// backpressure. Only a write side still waiting for 'drain' with bytes the kernel has not taken is.
function onSocketPause(this: Socket): void {
  if (!this.writableNeedDrain || this.writableLength === 0) return;
  const connection = connectionOf(this);
  if (connection !== undefined) connection.deps.stats.backpressurePauses++;
}
function forceClose(socket: Socket): void {
  socket.destroy();
}

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
  /** @internal Read by the shared listeners. */
  readonly deps: ConnectionDeps;
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

    (socket as EchoSocket)[CONNECTION] = this;
    // `on`, not `once`: 'close' and 'finish' fire once per socket anyway, the 'data' listener removes
    // itself, and `once` would keep a wrapper closure per listener alive for the connection's life.
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    // No 'finish' listener: our write side only ends before the socket closes when shutdown()
    // ends it (it listens then). Otherwise it ends after the peer's FIN, and Node closes the
    // socket right after (both sides done), where handleClose ends the send side.
    socket.on('pause', onSocketPause);
    socket.on('data', onSocketFirstData);
    if (deps.idleTimeoutMs > 0) {
      // Node re-arms this timer on every read and write, inside the runtime (no JS of ours per chunk).
      socket.setTimeout(deps.idleTimeoutMs);
      socket.on('timeout', onSocketTimeout);
    }
    // HOT PATH: the runtime moves the bytes; never add a per-chunk listener, closure, log or OTel call here.
    socket.pipe(socket);

    this.trace.logger.line(ACCEPTED_LINE, info.number, info.peerAddress, info.peerPort);
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
    socket.removeListener('data', onSocketFirstData);
    socket.unpipe(socket);
    if (!socket.writableEnded) {
      // The send side ends when our FIN is out, well before the peer's close.
      socket.on('finish', onSocketFinish);
      // Bytes read but still in the readable buffer (the pipe was paused) are echo data too.
      for (let chunk: Buffer | null; (chunk = socket.read() as Buffer | null) !== null; ) socket.write(chunk);
      socket.end();
    }
    // Flowing with no 'data' listener: further input is read and dropped (still counted as read).
    socket.resume();
    this.forceTimer = setTimeout(forceClose, flushBoundMs, socket);
  }

  /** @internal The first chunk arrived: the send side begins. */
  handleFirstData(): void {
    try {
      this.trace.sendStarted();
    } catch (error) {
      this.reportFailure('sendStarted', error);
    }
  }

  /** @internal Our write side is flushed and ended. */
  handleFinish(): void {
    try {
      this.trace.sendEnded();
    } catch (error) {
      this.reportFailure('sendEnded', error);
    }
  }

  /** @internal No bytes either way for idle_timeout. */
  handleTimeout(): void {
    this.reason ??= 'timeout';
    this.socket.destroy();
  }

  /** @internal Node destroys the socket after 'error' and always emits 'close' next (lib/net.js). */
  handleError(error: NodeJS.ErrnoException): void {
    this.error ??= error;
    this.reason ??= PEER_GONE.has(error.code) ? 'reset' : 'error';
  }

  /** @internal The socket is closed: counters, duration, the close line, the span's end. */
  handleClose(): void {
    clearTimeout(this.forceTimer);
    const { socket, deps } = this;
    (socket as EchoSocket)[CONNECTION] = undefined;
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
    try {
      stats.recordDuration(seconds, this.trace);
    } catch (error) {
      this.reportFailure('recordDuration', error);
    }
    this.handleFinish();
    // Logged before the span ends, inside it, as userver's "Closing socket" is.
    try {
      const error = this.error as NodeJS.ErrnoException | undefined;
      this.trace.logger.line(
        reason === 'error' ? CLOSING_ON_ERROR_LINE : CLOSING_LINE,
        reason,
        bytesRead,
        bytesWritten,
        Math.round(seconds * 1000),
        error === undefined ? undefined : (error.code ?? error.message),
      );
    } catch (error) {
      this.reportFailure('close log', error);
    }
    try {
      this.trace.end({ reason, bytesRead, bytesWritten, error: this.error });
    } catch (error) {
      this.reportFailure('end', error);
    }
  }

  /** Telemetry failed inside a socket handler: logged, never thrown into the event loop. */
  private reportFailure(what: string, error: unknown): void {
    try {
      this.deps.logger.error(`${what} failed for connection ${this.info.number}: ${String(error)}`);
    } catch {
      // The logger itself failed; nothing left to tell.
    }
  }
}
