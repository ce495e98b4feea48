/** The facts about an accepted socket that its span and log lines carry, gathered once at accept. */
import type { Socket } from 'node:net';
import type { ConnectionInfo } from '../telemetry/connection-trace.js';
import { loadNativeAddresses, type NativeAddresses, type NativeAddressReader } from './native-addresses.js';

/** `::ffff:`, the prefix of an IPv4-mapped IPv6 address, as char codes (either case of `f`). */
const MAPPED_PREFIX_LENGTH = 7;
const COLON = 0x3a;
const DOT = 0x2e;

/** True when `address` from `from` on is a dotted quad: four groups of 1-3 digits. */
function isDottedQuad(address: string, from: number): boolean {
  let groups = 1;
  let digits = 0;
  for (let i = from; i < address.length; i++) {
    const code = address.charCodeAt(i);
    if (code === DOT) {
      if (digits === 0 || ++groups > 4) return false;
      digits = 0;
    } else if (code >= 0x30 && code <= 0x39) {
      if (++digits > 3) return false;
    } else {
      return false;
    }
  }
  return groups === 4 && digits > 0;
}

/** True when `address` starts with `::ffff:` (any case). */
function hasMappedPrefix(address: string): boolean {
  if (address.length <= MAPPED_PREFIX_LENGTH) return false;
  if (address.charCodeAt(0) !== COLON || address.charCodeAt(1) !== COLON || address.charCodeAt(6) !== COLON) return false;
  for (let i = 2; i < 6; i++) if ((address.charCodeAt(i) | 0x20) !== 0x66) return false; // 'f' or 'F'
  return true;
}

/**
 * An address as people and OpenTelemetry expect it: an IPv4 client of a dual-stack (`::`)
 * listener shows up as `::ffff:a.b.c.d`, which is reported as plain `a.b.c.d`. Char codes rather
 * than a regular expression: a busy listener sees a new client address with nearly every connection.
 */
export function normalizeAddress(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  return hasMappedPrefix(address) && isDottedQuad(address, MAPPED_PREFIX_LENGTH) ? address.slice(MAPPED_PREFIX_LENGTH) : address;
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

/** What libuv's getpeername/getsockname fill in. */
interface HandleAddress {
  address?: string;
  port?: number;
}

interface AddressHandle {
  getpeername?(out: HandleAddress): number;
  getsockname?(out: HandleAddress): number;
}

/**
 * One socket end's address and port. Asked of the libuv handle directly when it can tell: the
 * public getters (`remoteAddress`...) also cache a `{ address, family, port }` object on the
 * socket for its whole life, a cost per open connection that the bare echo does not pay. The
 * public getters serve when the handle cannot (never the case for an accepted TCP socket on Node 20).
 */
function endpoint(socket: Socket, peer: boolean): HandleAddress {
  const handle = (socket as unknown as { _handle?: AddressHandle | null })._handle;
  const query = peer ? handle?.getpeername : handle?.getsockname;
  if (handle && typeof query === 'function') {
    const out: HandleAddress = {};
    if (query.call(handle, out) === 0) return out;
  }
  return peer
    ? { address: socket.remoteAddress, port: socket.remotePort }
    : { address: socket.localAddress, port: socket.localPort };
}

/**
 * A tiny memo for addresses: the listener's own address is the same for every connection and
 * clients often come from few addresses, so one string is shared by every connection with that
 * address instead of a copy each (they are kept for the connection's life, in its span data).
 */
class AddressMemo {
  private raw: string | undefined;
  private normalized: string | undefined;

  get(raw: string | undefined): string | undefined {
    if (raw === undefined) return undefined;
    if (raw !== this.raw) {
      this.raw = raw;
      this.normalized = normalizeAddress(raw);
    }
    return this.normalized;
  }
}

const peerAddresses = new AddressMemo();
const localAddresses = new AddressMemo();

/** A listener's own address and port, when every socket it accepts has exactly these as its local end. */
export interface FixedLocalEndpoint {
  readonly address: string;
  readonly port: number;
}

/**
 * The local end every accepted socket of a listener bound to `address:port` has, or undefined for
 * a wildcard listener (`0.0.0.0`, `::`), whose sockets each carry the address they were reached
 * on. Known once, it saves a getsockname(2) and an address string per connection.
 */
export function fixedLocalEndpoint(address: string, port: number): FixedLocalEndpoint | undefined {
  return address === '0.0.0.0' || address === '::' ? undefined : { address, port };
}

/** The native reader, loaded once; `undefined` reader: every socket's addresses come from Node. */
const NATIVE: NativeAddresses = loadNativeAddresses();

/** Which reader serves this process, for the listener's start line. */
export function addressReader(): { readonly name: 'native' | 'node'; readonly reason?: string } {
  return NATIVE.reader === undefined ? { name: 'node', reason: NATIVE.reason } : { name: 'native' };
}

/** True when the addon was built but would not load: worth a warning, unlike a machine without a compiler. */
export function addressReaderFailed(): boolean {
  return NATIVE.reader === undefined && NATIVE.status === 'failed';
}

/** What the native reader fills: [peer port, local port, local IPv4]; the bytes view reads the address in network order. */
const ENDS = new Int32Array(3);
const LOCAL_IPV4 = new Uint8Array(ENDS.buffer, 8, 4);
let localBits = 0;
let localText: string | undefined;

/** The local IPv4 address the reader wrote, as text (one string while it stays the same). */
function localIpv4(): string {
  const bits = ENDS[2] as number;
  if (localText === undefined || bits !== localBits) {
    localBits = bits;
    localText = `${LOCAL_IPV4[0]}.${LOCAL_IPV4[1]}.${LOCAL_IPV4[2]}.${LOCAL_IPV4[3]}`;
  }
  return localText;
}

/**
 * Builds the ConnectionInfo of the `number`-th accepted socket; `local` is the listener's
 * {@link fixedLocalEndpoint}, when it has one. IPv4 ends (IPv4-mapped ones included) are read
 * by the native reader in one call when it is there; any other end, or no reader, asks Node
 * ({@link nodeConnectionInfo}), with the same result.
 */
export function connectionInfo(
  socket: Socket,
  number: number,
  local?: FixedLocalEndpoint,
  reader: NativeAddressReader | undefined = NATIVE.reader,
): ConnectionInfo {
  const fd = socketFd(socket);
  if (reader !== undefined && fd !== undefined) {
    const peerAddress = reader.read(fd, ENDS);
    if (peerAddress !== undefined) {
      return {
        fd,
        number,
        peerAddress: peerAddresses.get(peerAddress),
        peerPort: ENDS[0] as number,
        localAddress: local === undefined ? localIpv4() : localAddresses.get(local.address),
        localPort: local === undefined ? (ENDS[1] as number) : local.port,
        networkType: 'ipv4',
      };
    }
  }
  return nodeConnectionInfo(socket, number, local, fd);
}

/** The ConnectionInfo as Node's own getpeername/getsockname tell it (every platform, every address family). */
export function nodeConnectionInfo(
  socket: Socket,
  number: number,
  local: HandleAddress = endpoint(socket, false),
  fd: number | undefined = socketFd(socket),
): ConnectionInfo {
  const peer = endpoint(socket, true);
  const peerAddress = peerAddresses.get(peer.address);
  return {
    fd,
    number,
    peerAddress,
    peerPort: peer.port,
    localAddress: localAddresses.get(local.address),
    localPort: local.port,
    networkType: networkTypeOf(peerAddress),
  };
}
