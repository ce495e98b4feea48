/**
 * TCP options of accepted sockets (TCP_NODELAY, SO_KEEPALIVE with its idle time), set once on the
 * listening socket instead of on every connection. Linux copies a listener's options into each
 * socket it accepts (the new socket is a clone of the listener), so five setsockopt calls per
 * connection, the cost Node's `net.Server` `noDelay`/`keepAlive` options pay at every accept,
 * become five per listener. Where that cannot be done (another platform, a cluster worker whose
 * listener lives in the primary, a unix socket) the options are set per socket as Node would.
 */
import type { Server, Socket } from 'node:net';

export interface AcceptedSocketOptions {
  readonly noDelay: boolean;
  readonly keepAlive: boolean;
  /** Silence before the first keepalive probe; whole seconds reach the kernel (TCP_KEEPIDLE). */
  readonly keepAliveInitialDelayMs: number;
}

/** The libuv TCP handle methods Node's own `Socket.setNoDelay`/`setKeepAlive` call (return: 0 or an errno). */
interface TcpOptionHandle {
  setNoDelay(enable: boolean): number;
  setKeepAlive(enable: boolean, delaySeconds: number): number;
}

function tcpOptionHandle(target: Server | Socket): TcpOptionHandle | undefined {
  const handle = (target as unknown as { _handle?: Partial<TcpOptionHandle> | null })._handle;
  return handle && typeof handle.setNoDelay === 'function' && typeof handle.setKeepAlive === 'function'
    ? (handle as TcpOptionHandle)
    : undefined;
}

/**
 * Sets the options on the listening socket of `server` (listening already) so that every socket
 * it accepts inherits them. True when done; false when each accepted socket needs `applyToSocket`.
 */
export function applyToListener(server: Server, options: AcceptedSocketOptions): boolean {
  if (!options.noDelay && !options.keepAlive) return true;
  // Only Linux is known to copy every one of these options (the keepalive idle time included).
  if (process.platform !== 'linux') return false;
  const handle = tcpOptionHandle(server);
  if (handle === undefined) return false;
  if (options.noDelay && handle.setNoDelay(true) !== 0) return false;
  if (options.keepAlive && handle.setKeepAlive(true, Math.floor(options.keepAliveInitialDelayMs / 1000)) !== 0) return false;
  return true;
}

/** The per-socket fallback: what Node's server options would do at accept. */
export function applyToSocket(socket: Socket, options: AcceptedSocketOptions): void {
  if (options.noDelay) socket.setNoDelay(true);
  if (options.keepAlive) socket.setKeepAlive(true, options.keepAliveInitialDelayMs);
}
