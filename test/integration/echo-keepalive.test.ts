/**
 * TCP keepalive on the echo listener and what idle_timeout counts (issue 15, items 4–5), against
 * the real built service: accepted sockets carry SO_KEEPALIVE with the configured idle time (seen
 * in the kernel's own view, `ss -tno`), none with `tcp_keepalive: false`; a peer that vanishes
 * (loopback taken down in a private network namespace) is closed by the keepalive alone;
 * idle_timeout counts tcp-echo's reads and writes, as its description says. The options are set
 * once on the listener and inherited by accepted sockets, alone and in cluster mode: each accepted
 * socket's own options are read back from the kernel.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type net from 'node:net';
import { test } from 'node:test';
import { connect, ping, sleep } from '../helpers/echo-client.js';
import { metric, metricUntil } from '../helpers/monitor-client.js';
import { ROOT, startService, type RunningService } from '../helpers/service.js';

const echoOption = (options: Record<string, unknown>) => (c: Record<string, Record<string, unknown>>) =>
  void Object.assign(c['tcp-echo']!, options);

/** The kernel's timer column for established sockets whose local port is `port` (the service's side). */
function serverSideTimers(port: number): string[] {
  const out = execFileSync('ss', ['-tnoH', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => /timer:\([^)]*\)/.exec(line)?.[0] ?? 'no timer');
}

interface AcceptedOptions {
  nodelay: boolean;
  keepalive: boolean;
  keepidle: number;
  keepintvl: number;
  keepcnt: number;
}

/** The kernel's options of the service's own end of `socket`, in whichever of its processes holds it. */
function acceptedOptions(service: RunningService, socket: net.Socket, pids: readonly number[] = [service.pid]): AcceptedOptions {
  const helper = path.join(ROOT, 'test', 'helpers', 'socket-options.py');
  const problems: string[] = [];
  for (const pid of pids) {
    try {
      const out = execFileSync('python3', [helper, String(pid), String(service.echoPort), String(socket.localPort)], { encoding: 'utf8', stdio: 'pipe' });
      return JSON.parse(out) as AcceptedOptions;
    } catch (error) {
      problems.push(String((error as { stderr?: string }).stderr ?? error).trim());
    }
  }
  throw new Error(`no process of ${pids.join(', ')} holds the accepted socket: ${problems.join('; ')}`);
}

test('accepted sockets carry TCP_NODELAY and keepalive (idle, 1 s interval, 10 probes) as configured; none when switched off', async (t) => {
  const on = await startService({ components: echoOption({ tcp_keepalive_idle: '45s' }) });
  t.after(() => on.stop());
  const off = await startService({ components: echoOption({ no_delay: false, tcp_keepalive: false }) });
  t.after(() => off.stop());
  for (const [service, expected] of [
    [on, { nodelay: true, keepalive: true, keepidle: 45, keepintvl: 1, keepcnt: 10 }],
    [off, { nodelay: false, keepalive: false }],
  ] as const) {
    // Several connections: the first accepted and later ones alike.
    for (let i = 0; i < 3; i++) {
      const socket = await connect(service.echoPort);
      t.after(() => socket.destroy());
      await ping(socket, Buffer.from('hello'));
      const options = acceptedOptions(service, socket);
      assert.equal(options.nodelay, expected.nodelay, JSON.stringify(options));
      assert.equal(options.keepalive, expected.keepalive, JSON.stringify(options));
      if ('keepidle' in expected) {
        assert.deepEqual([options.keepidle, options.keepintvl, options.keepcnt], [expected.keepidle, expected.keepintvl, expected.keepcnt]);
      }
    }
  }
});

test('cluster mode: the workers\' accepted sockets carry the same options', { timeout: 120_000 }, async (t) => {
  const service = await startService({ components: echoOption({ workers: 2, tcp_keepalive_idle: '50s' }) });
  t.after(() => service.stop());
  const workers = execFileSync('pgrep', ['-P', String(service.pid)], { encoding: 'utf8' }).trim().split('\n').map(Number);
  for (let i = 0; i < 4; i++) {
    const socket = await connect(service.echoPort);
    t.after(() => socket.destroy());
    await ping(socket, Buffer.from('hello'));
    const options = acceptedOptions(service, socket, workers);
    assert.deepEqual(options, { nodelay: true, keepalive: true, keepidle: 50, keepintvl: 1, keepcnt: 10 });
  }
});

test('tcp_keepalive (default on): accepted sockets have SO_KEEPALIVE with tcp_keepalive_idle', async (t) => {
  const service = await startService({ components: echoOption({ tcp_keepalive_idle: '45s' }) });
  t.after(() => service.stop());
  const socket = await connect(service.echoPort);
  t.after(() => socket.destroy());
  await ping(socket, Buffer.from('hello'));
  const timers = serverSideTimers(service.echoPort);
  assert.equal(timers.length, 1, `one server-side socket: ${timers.join(', ')}`);
  // ss prints the time left to the first probe: at most the idle time, and close to it.
  const match = /^timer:\(keepalive,(\d+)(?:\.\d+)?(sec|min),\d+\)$/.exec(timers[0]!);
  assert.ok(match, `a keepalive timer: ${timers[0]}`);
  const seconds = Number(match[1]) * (match[2] === 'min' ? 60 : 1);
  assert.ok(seconds > 0 && seconds <= 45, `first probe in ${seconds} s`);
});

test('tcp_keepalive: false leaves accepted sockets without a keepalive timer', async (t) => {
  const service = await startService({ components: echoOption({ tcp_keepalive: false }) });
  t.after(() => service.stop());
  const socket = await connect(service.echoPort);
  t.after(() => socket.destroy());
  await ping(socket, Buffer.from('hello'));
  assert.deepEqual(serverSideTimers(service.echoPort), ['no timer']);
});

test('a vanished peer (no FIN, no RST) is closed by keepalive with idle_timeout 0', { timeout: 120_000 }, (t) => {
  // A private user and network namespace: taking its loopback down drops every packet silently.
  const script = path.join(ROOT, 'test', 'helpers', 'vanished-peer.ts');
  const out = execFileSync('unshare', ['-rn', 'sh', '-c', `ip link set lo up && exec "${process.execPath}" --import tsx "${script}"`], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 110_000,
  });
  const result = JSON.parse(out.trim().split('\n').at(-1)!) as { closedAfterMs: number; reasons: Record<string, number>; line: string };
  t.diagnostic(`closed ${result.closedAfterMs} ms after the link went down`);
  assert.equal(result.reasons.error, 1, JSON.stringify(result));
  assert.equal(result.reasons.timeout, 0, 'not idle_timeout (it is 0)');
  assert.match(result.line, /reason=error.*error=ETIMEDOUT/);
  // 1 s idle, then 10 probes 1 s apart (libuv): well under a minute, never the kernel's 2 h default.
  assert.ok(result.closedAfterMs < 60_000, `${result.closedAfterMs} ms`);
});

test('idle_timeout counts what tcp-echo reads and writes: a client trickling bytes stays, one that only drains the kernel is idle', async (t) => {
  const service = await startService({ components: echoOption({ idle_timeout: '1s' }) });
  t.after(() => service.stop());

  // A client sending a byte every 300 ms keeps the connection: each is read and written back.
  const trickler = await connect(service.echoPort);
  t.after(() => trickler.destroy());
  for (let i = 0; i < 10; i++) {
    await ping(trickler, Buffer.from('.'));
    await sleep(300);
  }
  assert.equal(await metric(service, 'tcp-echo.sockets.close-reasons', { reason: 'timeout' }, 'exact'), 0);

  // A client that sends 8 MiB and then only reads, 16 KiB every 200 ms: once tcp-echo has handed
  // the whole echo to the kernel it has nothing left to read or write, and closes the connection
  // as idle while the client is still draining what the kernel holds.
  const drainer: net.Socket = await connect(service.echoPort);
  t.after(() => drainer.destroy());
  drainer.pause();
  const total = 8 * 1024 * 1024;
  drainer.write(Buffer.alloc(total, 0x61));
  let received = 0;
  let closed = false;
  drainer.on('close', () => (closed = true));
  drainer.on('error', () => {});
  const reader = setInterval(() => {
    for (let chunk = drainer.read(16 * 1024) as Buffer | null; chunk !== null; chunk = null) received += chunk.length;
    // read(n) returns null until n bytes are buffered; take the rest at the end.
    if (drainer.readableEnded || closed) clearInterval(reader);
  }, 200);
  t.after(() => clearInterval(reader));
  const timeouts = await metricUntil(service, 'tcp-echo.sockets.close-reasons', { reason: 'timeout' }, 'exact', (v) => v >= 1, 120_000);
  t.diagnostic(`closed as idle after the client had read ${received} of ${total} bytes`);
  assert.equal(timeouts, 1, 'the draining client was closed as idle');
  assert.ok(received < total, `closed while the client had read ${received} of ${total} bytes`);
});
