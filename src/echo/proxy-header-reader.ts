/**
 * Reads the PROXY protocol header off freshly accepted sockets (`tcp-echo.proxy_protocol`), before
 * the echo sees them. Only loaded into the accept path when the option is on: with it off the
 * acceptor hands sockets straight to the echo, with no listener, timer or allocation of this module.
 *
 * Per socket, until the header is complete: a shared `'data'` listener gathers bytes (bounded by
 * the header's size limit) and asks the pure parser; a timer bounds the wait. Then the listeners
 * go, the bytes after the header are put back into the stream (`unshift`), and the socket goes to
 * the ordinary pipe: no per-chunk cost remains.
 */
import type { Socket } from 'node:net';
import { boolean, duration, object, size } from '../config/schema.js';
import { parseProxyHeader, PROXY_V1_MAX_BYTES, type ProxyHeader } from './proxy-protocol.js';
import type { CloseReason } from '../telemetry/connection-trace.js';

/** Schema of `tcp-echo.proxy_protocol`. */
export const proxyProtocolSchema = object({
  description:
    'PROXY protocol (HAProxy, v1 and v2) on the echo listener, for a TCP load balancer that sends it: every ' +
    'connection must start with the header, which is read and never echoed; spans and log lines then name the ' +
    'client it reports (client.address, client.port) while network.peer.* stays the balancer. A connection ' +
    'whose header is missing, malformed, oversized or too slow is closed with close reason proxy-missing, ' +
    'proxy-malformed, proxy-oversized or proxy-timeout. See docs/kubernetes.md',
  properties: {
    enabled: boolean({ description: 'expect a PROXY protocol header on every connection', default: false }),
    header_timeout: duration({
      description: 'close a connection (reason proxy-timeout) whose header is not complete this long after accept',
      default: '5s',
      minimum: 1,
      maximum: 2_147_483_647,
    }),
    max_header_size: size({
      description:
        'largest v2 header accepted (16 fixed bytes + addresses + TLVs); a larger one closes the connection ' +
        '(reason proxy-oversized). v1 lines are bounded by the spec at 107 bytes',
      default: '4KiB',
      minimum: 232,
      maximum: 65_551,
    }),
  },
});

/** What the reader needs to know. */
export interface ProxyHeaderOptions {
  readonly headerTimeoutMs: number;
  readonly maxHeaderBytes: number;
}

/** Why a socket never reached the echo; each is a close reason of its own. */
export type RefusedReason = Extract<CloseReason, 'proxy-missing' | 'proxy-malformed' | 'proxy-oversized' | 'proxy-timeout' | 'eof' | 'reset' | 'error' | 'shutdown'>;

/** Where the reader's verdicts go. Both are called at most once per socket. */
export interface ProxyHeaderHandlers {
  /** The header is read; the socket is paused with the client's bytes (if any) back in its buffer. */
  onHeader(socket: Socket, header: ProxyHeader): void;
  /** The socket was closed before a header was read; `detail` says why, for the log. */
  onRefused(socket: Socket, reason: RefusedReason, detail: string): void;
}

const READER = Symbol('tcp-echo.proxy-header');

interface Pending {
  readonly reader: ProxyHeaderReader;
  received: Buffer | undefined;
  readonly timer: NodeJS.Timeout;
}

type ReadingSocket = Socket & { [READER]?: Pending | undefined };

const PEER_GONE: ReadonlySet<string | undefined> = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

// Shared listeners (no per-socket closures), as in connection.ts.
function onHeaderData(this: Socket, chunk: Buffer): void {
  const pending = (this as ReadingSocket)[READER];
  if (pending !== undefined) pending.reader.received(this, pending, chunk);
}
function onHeaderEnd(this: Socket): void {
  const pending = (this as ReadingSocket)[READER];
  if (pending === undefined) return;
  // A connection that closes before sending anything (a plain TCP health check) is an ordinary eof.
  if (pending.received === undefined) pending.reader.refuse(this, 'eof', 'closed before sending a header');
  else pending.reader.refuse(this, 'proxy-malformed', `closed after ${pending.received.length} byte(s) of an incomplete header`);
}
function onHeaderError(this: Socket, error: NodeJS.ErrnoException): void {
  const pending = (this as ReadingSocket)[READER];
  if (pending === undefined) return;
  pending.reader.refuse(this, PEER_GONE.has(error.code) ? 'reset' : 'error', error.code ?? error.message);
}
function onHeaderTimeout(socket: Socket): void {
  const pending = (socket as ReadingSocket)[READER];
  if (pending === undefined) return;
  const got = pending.received?.length ?? 0;
  pending.reader.refuse(socket, 'proxy-timeout', `no complete header after ${pending.reader.options.headerTimeoutMs} ms (${got} byte(s) received)`);
}
function ignoreError(): void {}

/** Reads headers for one listener. */
export class ProxyHeaderReader {
  /** Sockets still waiting for their header. */
  private readonly pending = new Set<Socket>();

  constructor(
    readonly options: ProxyHeaderOptions,
    private readonly handlers: ProxyHeaderHandlers,
  ) {}

  /** Sockets accepted whose header is not complete yet. */
  get waiting(): number {
    return this.pending.size;
  }

  /** Starts reading the header of an accepted socket. */
  begin(socket: Socket): void {
    const timer = setTimeout(onHeaderTimeout, this.options.headerTimeoutMs, socket);
    (socket as ReadingSocket)[READER] = { reader: this, received: undefined, timer };
    this.pending.add(socket);
    socket.on('error', onHeaderError);
    socket.on('end', onHeaderEnd);
    socket.on('data', onHeaderData);
  }

  /** Closes every socket still waiting for its header (reason `shutdown`). */
  closeAll(): void {
    for (const socket of [...this.pending]) this.refuse(socket, 'shutdown', 'shutting down');
  }

  /** @internal A chunk arrived before the header was complete. */
  received(socket: Socket, pending: Pending, chunk: Buffer): void {
    const data = pending.received === undefined ? chunk : Buffer.concat([pending.received, chunk]);
    const result = parseProxyHeader(data, Math.max(this.options.maxHeaderBytes, PROXY_V1_MAX_BYTES));
    if (result.state === 'incomplete') {
      pending.received = data;
      return;
    }
    if (result.state === 'invalid') {
      this.refuse(socket, `proxy-${result.problem}`, result.detail);
      return;
    }
    this.detach(socket, pending);
    // Paused before the listener goes, so no byte is emitted with nobody to take it; the echo's
    // pipe resumes the stream and gets the client's first bytes first.
    socket.pause();
    if (result.length < data.length) socket.unshift(data.subarray(result.length));
    this.handlers.onHeader(socket, result.header);
  }

  /** @internal Closes a socket that will not reach the echo. */
  refuse(socket: Socket, reason: RefusedReason, detail: string): void {
    const pending = (socket as ReadingSocket)[READER];
    if (pending === undefined) return;
    this.detach(socket, pending);
    // Errors after this point (none are expected from a destroyed socket) must not go unhandled.
    socket.on('error', ignoreError);
    try {
      // Before destroy(): the handler may still read the socket's peer address.
      this.handlers.onRefused(socket, reason, detail);
    } finally {
      socket.destroy();
    }
  }

  private detach(socket: Socket, pending: Pending): void {
    clearTimeout(pending.timer);
    (socket as ReadingSocket)[READER] = undefined;
    this.pending.delete(socket);
    socket.removeListener('data', onHeaderData);
    socket.removeListener('end', onHeaderEnd);
    socket.removeListener('error', onHeaderError);
  }
}
