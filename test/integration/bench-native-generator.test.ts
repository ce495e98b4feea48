/**
 * The benchmark's native load generator (bench/generator/native/loadgen.c, issue 13), built with
 * the machine's `cc` as `npm run bench` builds it, driving a real echo (`socket.pipe(socket)`, as
 * the bare echo) in every scenario: the bytes it reports as echoed and verified must equal, to
 * the byte, what the server read and wrote back, and a corrupting echo must be caught.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildNativeGenerator } from '../../bench/lib/native.js';

interface NativeResult {
  windowBytes: number;
  totalBytes: number;
  windowOps: number;
  totalOps: number;
  latency: { count: number } | null;
  errors: Record<string, number>;
  verifyFailures: number;
  incomplete: number;
  established: number;
}

let dir = '';
let binary = '';
before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'tcp-echo-loadgen-'));
  const build = buildNativeGenerator(dir);
  // `cc` is part of this machine's toolchain (the benchmark needs it): a failed build fails the test.
  assert.ok(build.ok, build.ok ? '' : build.reason);
  binary = build.path;
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A real echo that tallies, per closed connection, the bytes it read and wrote back. */
async function countingEcho(
  transform?: (chunk: Buffer) => Buffer,
): Promise<{ port: number; read(): number; written(): number; closed(): number; peers: Set<string>; close(): Promise<void> }> {
  const peers = new Set<string>();
  let read = 0;
  let written = 0;
  let closed = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    peers.add(socket.remoteAddress ?? '');
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      sockets.delete(socket);
      read += socket.bytesRead;
      written += socket.bytesWritten;
      closed++;
    });
    if (transform) socket.on('data', (chunk: Buffer) => socket.write(transform(chunk)));
    else socket.pipe(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    read: () => read,
    written: () => written,
    closed: () => closed,
    peers,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Runs the generator for one scenario (idle: released once held) and parses its result line. */
async function run(scenario: string, port: number, extra: string[] = []): Promise<NativeResult> {
  const start = Date.now() + 300;
  const args = ['--scenario', scenario, '--port', String(port), '--measure-start', String(start), '--measure-end', String(start + 700), ...extra];
  const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  // It exits after its result once stdin is closed (idle: stdin also releases the held connections).
  if (scenario !== 'idle') child.stdin.end();
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    if (/^held \d+$/m.test(stdout) && child.stdin.writable) child.stdin.end('release\n');
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  assert.equal(code, 0, `loadgen failed: ${stderr}`);
  return JSON.parse(stdout.trim().split('\n').pop()!) as NativeResult;
}

/** Waits (bounded) until the server has seen every connection close. */
async function settled(probe: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!probe() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(probe(), 'the server saw every connection close');
}

describe('native load generator', () => {
  it('throughput: every byte it counts as echoed is a byte the server read and wrote back', async (t) => {
    const echo = await countingEcho();
    t.after(() => echo.close());
    const r = await run('throughput', echo.port, ['--connections', '8', '--message-size', '16384', '--window', '131072']);
    await settled(() => echo.closed() === 8);
    assert.deepEqual([r.verifyFailures, r.incomplete, r.errors], [0, 0, {}]);
    assert.ok(r.windowBytes > 0 && r.windowBytes <= r.totalBytes);
    assert.equal(r.totalBytes, echo.read());
    assert.equal(r.totalBytes, echo.written());
  });

  it('pingpong: requests × 32 B, to the byte, and a latency per request in the window', async (t) => {
    const echo = await countingEcho();
    t.after(() => echo.close());
    const r = await run('pingpong', echo.port, ['--connections', '4', '--request-size', '32']);
    await settled(() => echo.closed() === 4);
    assert.deepEqual([r.verifyFailures, r.incomplete, r.errors], [0, 0, {}]);
    assert.ok(r.totalOps > 0);
    assert.equal(r.totalBytes, r.totalOps * 32);
    assert.equal(echo.read(), r.totalBytes);
    assert.equal(r.latency?.count, r.windowOps);
  });

  it('connrate: one connection per cycle, 32 B each way, closed by both sides, from source addresses of 127.2.0.0/16', async (t) => {
    const echo = await countingEcho();
    t.after(() => echo.close());
    const r = await run('connrate', echo.port, ['--connections', '4', '--request-size', '32']);
    await settled(() => echo.closed() === r.totalOps);
    assert.deepEqual([r.verifyFailures, r.incomplete, r.errors], [0, 0, {}]);
    assert.ok(r.totalOps > 0);
    assert.equal(r.totalBytes, r.totalOps * 32);
    assert.equal(echo.read(), r.totalOps * 32);
    assert.equal(echo.written(), r.totalOps * 32);
    // Cycling through source addresses, so TIME_WAITs never exhaust the ports of one.
    const peers = [...echo.peers];
    assert.ok(peers.every((p) => /^127\.2\.\d+\.\d+$/.test(p)), `peer addresses ${peers.slice(0, 5).join(', ')}`);
    assert.equal(echo.peers.size, Math.min(r.totalOps, 1024), `${echo.peers.size} addresses for ${r.totalOps} connections`);
  });

  it('idle: holds every connection after one echo, then closes them all', async (t) => {
    const echo = await countingEcho();
    t.after(() => echo.close());
    const r = await run('idle', echo.port, ['--connections', '500', '--request-size', '32', '--connect-concurrency', '32']);
    await settled(() => echo.closed() === 500);
    assert.deepEqual([r.established, r.verifyFailures, r.incomplete, r.errors], [500, 0, 0, {}]);
    assert.equal(r.totalBytes, 500 * 32);
    assert.equal(echo.read(), 500 * 32);
  });

  it('an echo that changes a byte is caught, not counted as echoed', async (t) => {
    let n = 0;
    const corrupt = await countingEcho((chunk) => {
      if (++n % 20 === 0) chunk[0] = chunk[0]! ^ 0x01;
      return chunk;
    });
    t.after(() => corrupt.close());
    const r = await run('pingpong', corrupt.port, ['--connections', '2']);
    assert.ok(r.verifyFailures > 0, 'corruption not detected');
  });
});
