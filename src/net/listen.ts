/**
 * Binding a `net.Server` (the echo listener and the monitor listener alike) with an error a person
 * can act on: which component, which address and port, the operating system's reason in words
 * plus its code, and for a port in use the config key that sets it.
 */
import type { AddressInfo, Server } from 'node:net';
import { getSystemErrorMap } from 'node:util';
import { ListenError } from '../errors.js';

/** Where to listen. */
export interface ListenTarget {
  /** Address to bind; `::` means "every address", IPv6 and IPv4 (IPv4 only where IPv6 is off). */
  readonly address: string;
  readonly port: number;
  readonly backlog: number;
}

/** Who listens, for the error message. */
export interface ListenOwner {
  /** The component name that starts the message, e.g. `tcp-echo`. */
  readonly component: string;
  /** The dotted config key of the port, named when the port is in use. */
  readonly portKey: string;
}

/**
 * Binds `server` and resolves with the bound address; rejects with a ListenError such as
 * `tcp-echo: cannot listen on 127.0.0.1:8181: address already in use (EADDRINUSE); set
 * components_manager.components.tcp-echo.port`.
 */
export function listen(server: Server, target: ListenTarget, owner: ListenOwner): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      server.removeListener('listening', onListening);
      reject(
        new ListenError(
          `${owner.component}: cannot listen on ${formatAddress(target.address, target.port)}: ${describeSystemError(error)}` +
            (error.code === 'EADDRINUSE' ? `; set ${owner.portKey}` : ''),
          { cause: error },
        ),
      );
    };
    const onListening = (): void => {
      server.removeListener('error', onError);
      resolve(server.address() as AddressInfo);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    // Node binds the unspecified address itself when `host` is omitted: `::` where IPv6 works,
    // else `0.0.0.0` (net.Server.listen docs). An explicit `::` would fail on IPv4-only hosts.
    const host = target.address === '::' ? undefined : target.address;
    server.listen({ host, port: target.port, backlog: target.backlog });
  });
}

/** `127.0.0.1:8181`, `[::1]:8181`. */
export function formatAddress(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * The OS reason of a system error in words with its code, e.g. `address already in use (EADDRINUSE)`;
 * falls back to the error's message for errors that carry no errno.
 */
export function describeSystemError(error: NodeJS.ErrnoException): string {
  const known = typeof error.errno === 'number' ? getSystemErrorMap().get(error.errno) : undefined;
  if (known) return `${known[1]} (${known[0]})`;
  return error.code ? `${error.message} (${error.code})` : error.message;
}
