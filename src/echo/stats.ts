/**
 * Per-service echo counters as plain numbers, after userver's `Stats` struct: the connection code
 * bumps fields, and observable OpenTelemetry instruments read them at collection time. Nothing here
 * runs per data chunk: byte totals are read from the sockets' own counters when asked.
 */
import type { Socket } from 'node:net';
import { CLOSE_REASONS, type CloseReason, type ConnectionTrace } from '../telemetry/connection-trace.js';

/** The ids of a sampled connection's `sock` span (both absent when it is not sampled). */
export type SpanIds = Pick<ConnectionTrace, 'sampled' | 'traceId' | 'spanId'>;

/** The reasons every echo reports (as zero until they happen). */
export const BASE_CLOSE_REASONS: readonly CloseReason[] = CLOSE_REASONS.slice(0, 6);

/** The echo service's counters. Monotonic fields only ever grow (resets happen in the views). */
export class EchoStats {
  /** Connections accepted (rejected ones included). */
  opened = 0;
  /** Connections finished, for any reason. */
  closed = 0;
  /** Finished connections by reason. */
  readonly closeReasons: Record<CloseReason, number> = {
    eof: 0,
    reset: 0,
    timeout: 0,
    error: 0,
    shutdown: 0,
    rejected: 0,
    'proxy-missing': 0,
    'proxy-malformed': 0,
    'proxy-oversized': 0,
    'proxy-timeout': 0,
  };
  /** Failed accept() calls (EMFILE, ENFILE, ...): the kernel had a connection that could not be taken. */
  acceptErrors = 0;
  /** The reasons the metrics show: the base ones, plus the PROXY protocol's when it is on. */
  reportedCloseReasons: readonly CloseReason[] = BASE_CLOSE_REASONS;
  /**
   * Times reading from a connection paused because its write side was full: bytes waiting for the
   * kernel (the client is not reading) past the bound. Counted when the pause begins; the end of a
   * connection is not a pause.
   */
  backpressurePauses = 0;
  /** Bytes read from / written to connections that have closed. */
  closedBytesRead = 0;
  closedBytesWritten = 0;
  /** Open connections; their byte counters are summed at collection time. */
  readonly live = new Set<Socket>();
  /**
   * Called once per finished connection with its duration in seconds and its trace (whose span
   * ids, when sampled, become the bucket's exemplar). The metrics layer replaces this no-op with a
   * histogram record (once per connection, never per chunk).
   */
  recordDuration: (seconds: number, trace?: SpanIds) => void = () => {};

  /** Connections open now. */
  get active(): number {
    return this.live.size;
  }

  /** Bytes read from clients so far, open connections included. */
  bytesRead(): number {
    let total = this.closedBytesRead;
    for (const socket of this.live) total += socket.bytesRead;
    return total;
  }

  /** Bytes written back so far (handed to the kernel, see `bytesSent`), open connections included. */
  bytesWritten(): number {
    let total = this.closedBytesWritten;
    for (const socket of this.live) total += bytesSent(socket);
    return total;
  }

  /** Bytes read but not yet handed to the kernel, over all open connections. */
  bufferedBytes(): number {
    let total = 0;
    for (const socket of this.live) total += socket.writableLength + socket.readableLength;
    return total;
  }
}

/**
 * Bytes of `socket` the kernel has accepted: writes whose completion callback ran. Node's
 * `socket.bytesWritten` also counts bytes still queued in the stream (`writableLength` counts the
 * queued and the in-flight ones), so the difference is what actually left the process. One caveat:
 * a write still in flight when the socket is destroyed completes as cancelled, and Node then counts
 * it as done, so a connection closed by a reset or a forced close may over-count by that one write.
 */
export function bytesSent(socket: Socket): number {
  // `bytesWritten` is undefined (despite its type) once the stream has no write state.
  const written = (socket.bytesWritten as number | undefined) ?? 0;
  return Math.max(0, written - socket.writableLength);
}
