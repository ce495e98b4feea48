/**
 * The native socket-address reader (native/socket-addresses.c) against Node's own getpeername and
 * getsockname, on real sockets: the same ConnectionInfo for every IPv4 and IPv4-mapped end, a
 * refusal (and Node's answer) for anything else, and no throw on bad input.
 */
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { connectionInfo, nodeConnectionInfo, socketFd } from '../../../src/echo/connection-info.js';
import { loadNativeAddresses, type NativeAddressReader } from '../../../src/echo/native-addresses.js';

/** The addon `npm test` builds (scripts/build-native.mjs; scripts/install-system-deps.sh brings the compiler). */
function reader(): NativeAddressReader {
  const loaded = loadNativeAddresses();
  assert.ok(loaded.reader, `the native reader must be built for the tests (npm run build): ${loaded.reader === undefined ? loaded.reason : ''}`);
  return loaded.reader;
}

/** An accepted socket on `listenHost`, reached from `clientHost` (bound to `clientFrom` when given). */
async function acceptedPair(t: TestContext, listenHost: string, clientHost: string, clientFrom?: string): Promise<{ accepted: net.Socket; client: net.Socket }> {
  const server = net.createServer();
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((resolve) => server.listen(0, listenHost, resolve));
  const { port } = server.address() as net.AddressInfo;
  const client = net.connect({ port, host: clientHost, ...(clientFrom === undefined ? {} : { localAddress: clientFrom }) });
  await new Promise<void>((resolve, reject) => client.once('connect', resolve).once('error', reject));
  const socket = await accepted;
  t.after(() => {
    client.destroy();
    socket.destroy();
    server.close();
  });
  return { accepted: socket, client };
}

/** What the reader itself writes for `socket`: the peer's text and [peer port, local port]. */
function readNatively(socket: net.Socket): { peer: string | undefined; ports: number[] } {
  const out = new Int32Array(3);
  const peer = reader().read(socketFd(socket) as number, out);
  return { peer, ports: [out[0] as number, out[1] as number] };
}

test('the native reader is built and loads on this machine', () => {
  assert.equal(typeof reader().read, 'function');
});

/**
 * Asserts that the reader itself answers for `pair` (not a fallback to Node, which would make the
 * comparison trivial), that the ConnectionInfo equals Node's, and that it names these ends.
 */
function assertNativeEnds(pair: { accepted: net.Socket; client: net.Socket }, number: number, peer: string, local: string): void {
  const { accepted, client } = pair;
  assert.deepEqual(readNatively(accepted), { peer, ports: [client.localPort, client.remotePort] });
  const native = connectionInfo(accepted, number, undefined, reader());
  assert.deepEqual(native, nodeConnectionInfo(accepted, number));
  assert.deepEqual(native, {
    fd: socketFd(accepted),
    number,
    peerAddress: peer,
    peerPort: client.localPort,
    localAddress: local,
    localPort: client.remotePort,
    networkType: 'ipv4',
  });
}

test('an IPv4 listener: the native reader and Node give the same ends', async (t) => {
  assertNativeEnds(await acceptedPair(t, '127.0.0.1', '127.0.0.1'), 7, '127.0.0.1', '127.0.0.1');
});

test('a dual-stack listener with IPv4 clients: mapped addresses unwrapped, every octet width written', async (t) => {
  // Loopback answers all of 127/8: one-, two- and three-digit octets on both ends.
  assertNativeEnds(await acceptedPair(t, '::', '127.0.45.6', '127.100.20.3'), 1, '127.100.20.3', '127.0.45.6');
  // The next connection reaches another local address: the local text follows it.
  assertNativeEnds(await acceptedPair(t, '::', '127.255.0.10', '127.9.99.255'), 2, '127.9.99.255', '127.255.0.10');
});

test('a listener bound to one address: its fixed local end is used, the peer is still read natively', async (t) => {
  const { accepted, client } = await acceptedPair(t, '127.0.0.1', '127.0.0.1');
  const local = { address: '127.0.0.1', port: client.remotePort as number };
  assert.deepEqual(connectionInfo(accepted, 3, local, reader()), nodeConnectionInfo(accepted, 3, local));
});

test('an IPv6 client: the native reader declines and Node answers', async (t) => {
  const { accepted } = await acceptedPair(t, '::', '::1');
  const fd = socketFd(accepted);
  assert.ok(fd !== undefined);
  assert.equal(reader().read(fd, new Int32Array(3)), undefined);
  const info = connectionInfo(accepted, 4, undefined, reader());
  assert.deepEqual(info, nodeConnectionInfo(accepted, 4));
  assert.equal(info.peerAddress, '::1');
  assert.equal(info.localAddress, '::1');
  assert.equal(info.networkType, 'ipv6');
});

test('bad arguments and descriptors give undefined, never a throw', async (t) => {
  const read = reader().read;
  const { accepted } = await acceptedPair(t, '127.0.0.1', '127.0.0.1');
  const fd = socketFd(accepted) as number;
  const out = new Int32Array(3);
  assert.equal(typeof read(fd, out), 'string');
  assert.equal(read(-1, out), undefined);
  assert.equal(read(1_000_000, out), undefined); // EBADF
  assert.equal(read(fd, new Int32Array(2)), undefined);
  assert.equal(read(fd, new Uint8Array(12) as unknown as Int32Array), undefined);
  const loose = read as unknown as (...args: unknown[]) => unknown;
  assert.equal(loose('7', out), undefined);
  assert.equal(loose(fd), undefined);
  assert.equal(loose(), undefined);
  // A descriptor that is open but not a socket (ENOTSOCK): a regular file.
  const dir = mkdtempSync(path.join(tmpdir(), 'tcp-echo-native-'));
  const file = openSync(path.join(dir, 'plain'), 'w');
  t.after(() => {
    closeSync(file);
    rmSync(dir, { recursive: true, force: true });
  });
  assert.equal(read(file, out), undefined);
});

test('a missing addon and one that will not load are told apart', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tcp-echo-native-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const missing = loadNativeAddresses([path.join(dir, 'absent.node')]);
  assert.equal(missing.reader, undefined);
  assert.equal(missing.reader === undefined && missing.status, 'missing');
  const garbage = path.join(dir, 'socket-addresses.node');
  writeFileSync(garbage, 'not an ELF file');
  const failed = loadNativeAddresses([garbage]);
  assert.equal(failed.reader, undefined);
  assert.equal(failed.reader === undefined && failed.status, 'failed');
  assert.match(failed.reader === undefined ? failed.reason : '', /socket-addresses\.node/);
});
