/**
 * The load generator against real loopback servers: a correct echo gives verified figures in every
 * scenario; an echo that corrupts a byte, or one that drops data, is caught.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { GeneratorResult } from '../generator/protocol.js';
import { buildBench, removeBuild } from '../lib/build.js';
import { buildNativeGenerator } from '../lib/native.js';

let benchJs = '';
let native = '';
before(() => {
  benchJs = buildBench();
  const build = buildNativeGenerator(path.join(benchJs, 'native'));
  // The machine the bench runs on has a C compiler; a build failure is a failure here, not a skip.
  assert.ok(build.ok, build.ok ? '' : build.reason);
  native = build.path;
});
after(removeBuild);

async function serve(onConnection: (socket: net.Socket) => void): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    onConnection(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

async function generate(args: string[]): Promise<GeneratorResult> {
  const child = spawn(process.execPath, [path.join(benchJs, 'generator', 'main.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  assert.equal(code, 0, `generator failed: ${stderr}`);
  return JSON.parse(stdout.trim()) as GeneratorResult;
}

const GENERATORS = ['native', 'js'] as const;

for (const kind of GENERATORS) {
const common = (port: number): string[] => [
  '--port', String(port), '--server-pid', String(process.pid), '--warmup', '0.2', '--duration', '0.6',
  ...(kind === 'native' ? ['--native', native] : []),
];

test(`${kind}: every scenario against a correct echo: traffic, no errors, every byte verified`, async (t) => {
  const echo = await serve((socket) => socket.pipe(socket));
  t.after(() => echo.close());

  const throughput = await generate(['--scenario', 'throughput', '--connections', '4', '--threads', '2', ...common(echo.port)]);
  assert.ok(throughput.windowBytes > 1_000_000, `bytes ${throughput.windowBytes}`);
  assert.ok(throughput.mbPerSec > 1 && throughput.cpuPerGB! > 0);
  assert.deepEqual([throughput.verifyFailures, throughput.incomplete, throughput.errors], [0, 0, {}]);

  const pingpong = await generate(['--scenario', 'pingpong', '--connections', '4', ...common(echo.port)]);
  assert.ok(pingpong.opsPerSec > 100, `req/s ${pingpong.opsPerSec}`);
  const l = pingpong.latencyUs!;
  assert.ok(l.p50 > 0 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max);
  assert.deepEqual([pingpong.verifyFailures, pingpong.incomplete, pingpong.errors], [0, 0, {}]);

  const connrate = await generate(['--scenario', 'connrate', '--connections', '4', '--threads', '2', ...common(echo.port)]);
  assert.ok(connrate.opsPerSec > 50, `conn/s ${connrate.opsPerSec}`);
  assert.ok(connrate.cpuUsPerConn! > 0 && connrate.generatorCpuS! >= 0);
  assert.equal(connrate.generator, kind);
  assert.deepEqual([connrate.verifyFailures, connrate.incomplete, connrate.errors], [0, 0, {}]);

  const idle = await generate(['--scenario', 'idle', '--connections', '300', '--threads', '2', '--hold', '0.5', ...common(echo.port)]);
  assert.equal(idle.established, 300);
  assert.ok(idle.rssHeldBytes! > 0 && idle.rssStartBytes! > 0 && idle.rssPerIdleConnBytes !== undefined);
  assert.deepEqual([idle.verifyFailures, idle.incomplete], [0, 0]);
});

test(`${kind}: an echo that flips one byte now and then is caught`, async (t) => {
  let n = 0;
  const corrupt = await serve((socket) =>
    socket.on('data', (chunk: Buffer) => {
      // Every 50th chunk comes back with its last byte changed.
      if (++n % 50 === 0) chunk[chunk.length - 1] = chunk[chunk.length - 1]! ^ 0xff;
      socket.write(chunk);
    }),
  );
  t.after(() => corrupt.close());
  const result = await generate(['--scenario', 'pingpong', '--connections', '2', ...common(corrupt.port)]);
  assert.ok(result.verifyFailures > 0, 'corruption not detected');
});

test(`${kind}: an echo that swallows the tail of the stream leaves connections incomplete`, async (t) => {
  // Echoes only the first 100 KiB of each connection, then reads and drops the rest.
  const lossy = await serve((socket) => {
    let echoed = 0;
    socket.on('data', (chunk: Buffer) => {
      const keep = Math.max(0, Math.min(chunk.length, 100 * 1024 - echoed));
      if (keep > 0) socket.write(chunk.subarray(0, keep));
      echoed += keep;
    });
  });
  t.after(() => lossy.close());
  const started = Date.now();
  const result = await generate(['--scenario', 'throughput', '--connections', '2', ...common(lossy.port)]);
  assert.equal(result.incomplete, 2);
  assert.equal(result.verifyFailures, 0);
  assert.ok(Date.now() - started < 30_000, 'the drain timeout bounds the run');
});
}
