/**
 * `tcp-echo.unix-socket` (userver's TcpAcceptorBase option) over a real unix domain socket: echo
 * while sending, half-close, backpressure, the span's transport, a stale socket file removed, a
 * live one refused, mode 0666, and the config rules (exactly one of port and unix-socket, an
 * absolute path shorter than sun_path).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { waitFor } from '../helpers/echo-client.js';
import { metricUntil } from '../helpers/monitor-client.js';
import { baseComponents, runCli, startService } from '../helpers/service.js';

function socketDir(t: { after: (fn: () => void) => void }): string {
  // Short and private: /tmp/<6 chars>, far below sun_path.
  const dir = mkdtempSync(path.join(tmpdir(), 'ue-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function canConnectUnix(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ path: socketPath });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

async function startOnUnix(socketPath: string, env: Record<string, string> = {}, workers = 1) {
  return startService({
    env,
    components: (c) => {
      c['tcp-echo']!.workers = workers;
      delete c['tcp-echo']!.port;
      delete c['tcp-echo']!.address;
      c['tcp-echo']!['unix-socket'] = socketPath;
      c['tcp-echo']!.buffer_size = '16KiB';
    },
    echoReady: () => canConnectUnix(socketPath),
  });
}

/** Connects, then collects everything until the server ends its side. */
async function connect(socketPath: string) {
  const socket = net.connect({ path: socketPath });
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  const ended = new Promise<Buffer>((resolve) => socket.on('end', () => resolve(Buffer.concat(chunks))));
  return { socket, chunks, ended };
}

test('echo, half-close, backpressure and the span transport over a unix socket; mode 0666; file removed on stop', async (t) => {
  const dir = socketDir(t);
  const socketPath = path.join(dir, 'echo.sock');
  // Tracing on (no collector: spans are only logged), to see the span's transport.
  const service = await startOnUnix(socketPath, { OTEL_SDK_DISABLED: 'false' });
  t.after(() => service.stop());
  assert.equal(statSync(socketPath).mode & 0o777, 0o666);

  // Full duplex: the echo comes back while we are still sending; then half-close: all of it, then FIN.
  const payload = Buffer.alloc(1024 * 1024, 'abcdefgh');
  const c = await connect(socketPath);
  c.socket.on('data', (d: Buffer) => c.chunks.push(d));
  let sent = 0;
  let echoedWhileSending = false;
  for (let off = 0; off < payload.length; off += 64 * 1024) {
    if (!c.socket.write(payload.subarray(off, off + 64 * 1024))) await once(c.socket, 'drain');
    sent += 64 * 1024;
    if (sent < payload.length && c.chunks.length > 0) echoedWhileSending = true;
  }
  c.socket.end();
  const echoed = await c.ended;
  assert.ok(echoed.equals(payload), `echoed ${echoed.length} of ${payload.length} bytes, in order`);
  assert.ok(echoedWhileSending, 'bytes came back before the client finished sending');

  // Backpressure: a client that does not read makes the service pause reading (counted), nothing lost.
  const before = await metricUntil(service, 'tcp-echo.backpressure.pauses', {}, 'exact', () => true);
  const slow = await connect(socketPath);
  slow.socket.pause();
  const big = Buffer.alloc(4 * 1024 * 1024, 'xyz');
  slow.socket.write(big);
  const pauses = await metricUntil(service, 'tcp-echo.backpressure.pauses', {}, 'exact', (v) => v > before, 30_000);
  assert.ok(pauses > before, `backpressure pauses ${before} -> ${pauses}`);
  slow.socket.on('data', (d: Buffer) => slow.chunks.push(d));
  slow.socket.resume();
  slow.socket.end();
  assert.ok((await slow.ended).equals(big));

  // The spans (logged by the tracer) say network.transport=unix.
  await metricUntil(service, 'tcp-echo.sockets.closed', {}, 'exact', (v) => v >= 3, 20_000);
  await waitFor(() => /network_transport=unix/.test(service.stderr()), 20_000);
  assert.match(service.stderr(), /\tnetwork_transport=unix/);
  assert.doesNotMatch(service.stderr(), /\tnetwork_transport=tcp/);

  assert.equal(await service.stop('SIGINT'), 0);
  assert.equal(existsSync(socketPath), false, 'the socket file is removed on stop');
});

test('a stale socket file is removed (by the cluster primary, workers share the socket); a live one is refused; a regular file is never deleted', async (t) => {
  const dir = socketDir(t);
  const socketPath = path.join(dir, 'stale.sock');
  // A process killed while listening leaves its socket file behind.
  const killed = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  await once(killed, 'exit');
  assert.ok(statSync(socketPath).isSocket(), 'stale socket file exists');
  const service = await startOnUnix(socketPath, {}, 2);
  assert.equal(statSync(socketPath).mode & 0o777, 0o666);
  t.after(() => service.stop());
  const c = await connect(socketPath);
  c.socket.on('data', (d: Buffer) => c.chunks.push(d));
  c.socket.end('ping');
  assert.equal((await c.ended).toString(), 'ping');
  assert.equal(await metricUntil(service, 'tcp-echo.workers.alive', {}, 'exact', (v) => v === 2), 2);

  // A second service on the same live socket fails with one clear line, and leaves the first alone.
  const configFile = path.join(dir, 'second.yaml');
  const components = baseComponents(0, 0);
  delete components['tcp-echo']!.port;
  delete components['tcp-echo']!.address;
  components['tcp-echo']!['unix-socket'] = socketPath;
  writeFileSync(configFile, stringify({ components_manager: { components } }));
  const second = await runCli(['-c', configFile]);
  assert.equal(second.code, 1);
  assert.match(second.stderr, /tcp-echo: cannot listen on unix socket .*stale\.sock: another process is listening on it/);
  assert.ok(await canConnectUnix(socketPath), 'the first service still accepts');

  const regular = path.join(dir, 'regular');
  writeFileSync(regular, 'data');
  components['tcp-echo']!['unix-socket'] = regular;
  writeFileSync(configFile, stringify({ components_manager: { components } }));
  const third = await runCli(['-c', configFile]);
  assert.equal(third.code, 1);
  assert.match(third.stderr, /the path exists and is not a socket/);
  assert.ok(existsSync(regular));
});

test('config: exactly one of port and unix-socket; an absolute path shorter than sun_path', async (t) => {
  const dir = socketDir(t);
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ port: 0, 'unix-socket': path.join(dir, 'a.sock') }, /tcp-echo\.unix-socket: give exactly one of port and unix-socket, not both/],
    [{}, /tcp-echo\.port: required key is missing: give exactly one of port and unix-socket/],
    [{ 'unix-socket': 'relative.sock' }, /tcp-echo\.unix-socket: "relative\.sock" must be an absolute path/],
    [{ 'unix-socket': '/' + 'x'.repeat(107) }, /is 108 bytes long; a unix socket path must be shorter than 108 bytes \(sun_path\)/],
  ];
  for (const [section, expected] of cases) {
    const components = baseComponents(0, 0);
    components['tcp-echo'] = section;
    const configFile = path.join(dir, 'c.yaml');
    writeFileSync(configFile, stringify({ components_manager: { components } }));
    const result = await runCli(['-c', configFile]);
    assert.equal(result.code, 1, JSON.stringify(section));
    assert.match(result.stderr, expected);
  }
});
