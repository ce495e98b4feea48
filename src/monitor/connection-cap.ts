/**
 * The monitor's caps on concurrent connections (in total and per client address), shedding the
 * oldest *waiting* connection first.
 *
 * Node's `server.maxConnections` closes the newcomer once the cap is reached, so a crowd of slow
 * or idle clients that reconnect as soon as they are dropped keeps every slot and the health
 * check never gets in (slowloris). Here a newcomer gets in: when a cap is exceeded, the connection
 * that has waited longest without a request in progress (still sending its headers, or idle
 * between keep-alive requests) is closed instead — from the newcomer's own address when the
 * per-address cap is exceeded, so one host's crowd only displaces itself. A connection whose
 * request is being answered is never shed; only when none is waiting is the newcomer closed.
 *
 * Among waiting connections, those the server has read from (a slow client's partial headers, an
 * idle keep-alive client) or that stayed silent for UNREAD_GRACE_MS go first; a connection just
 * accepted and not yet read (a probe whose request is still in the kernel buffer) is never shed:
 * when only such connections wait, the newcomer is refused. So a crowd that reconnects thousands
 * of times a second cannot shed a probe that got in before it is parsed.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** The two caps. */
export interface ConnectionCaps {
  /** Concurrent connections in total. */
  readonly max: number;
  /** Concurrent connections from one client address. */
  readonly perAddress: number;
}

/** How long a connection that has sent nothing keeps its place behind those that have. */
const UNREAD_GRACE_MS = 1000;

/** Applies shedding connection caps to `server` (which must have no maxConnections set). */
export function applyConnectionCap(server: Server, caps: ConnectionCaps): void {
  // Insertion order is age order: the first entry has waited longest. A connection leaves the
  // sets while a request is in progress and re-enters (as the newest) when its response is done.
  const waiting = new Set<Socket>();
  const waitingByAddress = new Map<string, Set<Socket>>();
  const openByAddress = new Map<string, number>();
  let open = 0;

  const addWaiting = (socket: Socket, address: string): void => {
    waiting.add(socket);
    let set = waitingByAddress.get(address);
    if (set === undefined) waitingByAddress.set(address, (set = new Set()));
    set.add(socket);
  };
  const removeWaiting = (socket: Socket, address: string): void => {
    waiting.delete(socket);
    const set = waitingByAddress.get(address);
    if (set === undefined) return;
    set.delete(socket);
    if (set.size === 0) waitingByAddress.delete(address);
  };
  /**
   * Closes the oldest connection of `pool` (other than `newcomer`) that has been read from or has
   * been silent past the grace; false when there is none (the newcomer is then refused).
   */
  const shedOldest = (pool: Set<Socket> | undefined, newcomer: Socket): boolean => {
    if (pool === undefined) return false;
    const graceStart = performance.now() - UNREAD_GRACE_MS;
    let victim: Socket | undefined;
    for (const socket of pool) {
      if (socket !== newcomer && (socket.bytesRead > 0 || (acceptedAt.get(socket) ?? 0) <= graceStart)) {
        victim = socket;
        break;
      }
    }
    if (victim === undefined) return false;
    removeWaiting(victim, addressOf(victim));
    victim.destroy();
    return true;
  };

  server.on('connection', (socket: Socket) => {
    const address = addressOf(socket);
    // Kept: remoteAddress is gone once the socket is destroyed, and shedding needs it later.
    addresses.set(socket, address);
    acceptedAt.set(socket, performance.now());
    open++;
    const fromAddress = (openByAddress.get(address) ?? 0) + 1;
    openByAddress.set(address, fromAddress);
    addWaiting(socket, address);
    socket.once('close', () => {
      open--;
      const left = (openByAddress.get(address) ?? 1) - 1;
      if (left === 0) openByAddress.delete(address);
      else openByAddress.set(address, left);
      removeWaiting(socket, address);
    });
    if (fromAddress > caps.perAddress) {
      if (!shedOldest(waitingByAddress.get(address), socket)) socket.destroy();
      return;
    }
    if (open > caps.max && !shedOldest(waiting, socket)) socket.destroy();
  });

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    const address = addressOf(socket);
    removeWaiting(socket, address);
    res.once('finish', () => {
      if (!socket.destroyed) addWaiting(socket, address);
    });
  });
}

const addresses = new WeakMap<Socket, string>();
const acceptedAt = new WeakMap<Socket, number>();

function addressOf(socket: Socket): string {
  return addresses.get(socket) ?? socket.remoteAddress ?? '';
}
