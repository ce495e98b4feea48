/** The facts about an accepted socket that its span and log lines carry, gathered once at accept. */
import type { Socket } from 'node:net';
import type { ConnectionInfo } from '../telemetry/connection-trace.js';

const IPV4_MAPPED = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;

/**
 * An address as people and OpenTelemetry expect it: an IPv4 client of a dual-stack (`::`)
 * listener shows up as `::ffff:a.b.c.d`, which is reported as plain `a.b.c.d`.
 */
export function normalizeAddress(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  const mapped = IPV4_MAPPED.exec(address);
  return mapped ? (mapped[1] as string) : address;
}

/** `ipv4` or `ipv6` for an (already normalized) address, per OpenTelemetry's `network.type`. */
export function networkTypeOf(address: string | undefined): 'ipv4' | 'ipv6' | undefined {
  if (address === undefined) return undefined;
  return address.includes(':') ? 'ipv6' : 'ipv4';
}

/** The OS file descriptor behind a socket, or `undefined` when the platform has none to show. */
export function socketFd(socket: Socket): number | undefined {
  // Node exposes no public fd accessor for accepted sockets; the libuv handle carries it on Unix
  // (`-1` on Windows). Absent is better than wrong, so anything but a real descriptor is dropped.
  const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === 'number' && Number.isInteger(fd) && fd >= 0 ? fd : undefined;
}

/** Builds the ConnectionInfo of the `number`-th accepted socket. */
export function connectionInfo(socket: Socket, number: number): ConnectionInfo {
  const peerAddress = normalizeAddress(socket.remoteAddress);
  return {
    fd: socketFd(socket),
    number,
    peerAddress,
    peerPort: socket.remotePort,
    localAddress: normalizeAddress(socket.localAddress),
    localPort: socket.localPort,
    networkType: networkTypeOf(peerAddress),
  };
}
