/**
 * tcp-echo's limits and shutdown against the real built service: max_connections, idle_timeout,
 * the graceful drain window (from the manager's and from the component's own setting), and
 * SIGTERM with connections open.
 */
import assert from 'node:assert/strict';
import type net from 'node:net';
import { test } from 'node:test';
import {
  collect,
  connect,
  firstDifference,
  ping,
  randomData,
  roundTrip,
  serverClosed,
  sleep,
  until,
  writeChunked,
} from '../helpers/echo-client.js';
import { metric } from '../helpers/monitor-client.js';
import { startService, type RunningService } from '../helpers/service.js';

const KiB = 1024;

/** Polls `read` every 50 ms until two readings 200 ms apart agree (at most `timeoutMs`). */
async function settled(read: () => Promise<number>, timeoutMs = 10_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let last = await read();
  for (;;) {
    await sleep(200);
    const now = await read();
    if (now === last || performance.now() > deadline) return now;
    last = now;
  }
}

/** A connection attempt that must fail (listener closed): resolves true if it was refused or reset. */
async function refused(port: number): Promise<boolean> {
  try {
    const socket = await connect(port, { timeoutMs: 3000 });
    socket.destroy();
    return false;
  } catch {
    return true;
  }
}

const echoOption = (options: Record<string, unknown>) => (c: Record<string, Record<string, unknown>>) =>
  void Object.assign(c['tcp-echo']!, options);

test('max_connections: the connection beyond the limit is closed at once and counted as rejected', async (t) => {
  const service = await startService({ components: echoOption({ max_connections: 3 }) });
  t.after(() => service.stop());
  // The readiness probe's connection must be gone before we count.
  await settled(() => metric(service, 'tcp-echo.sockets.active', {}, 'exact'));
  const openedBefore = await metric(service, 'tcp-echo.sockets.opened', {}, 'exact');
  const open: net.Socket[] = [];
  t.after(() => open.forEach((s) => s.destroy()));
  for (let i = 0; i < 3; i++) {
    open.push(await connect(service.echoPort));
    await ping(open[i]!, Buffer.from(`conn ${i}`));
  }
  const extra = await connect(service.echoPort);
  extra.on('error', () => {});
  extra.write('anyone there?');
  const started = performance.now();
  await serverClosed(extra, 30_000);
  // Hang guard (was < 2000 ms, a speed bound): the rejection is the close plus the 'rejected' count below.
  assert.ok(performance.now() - started < 20_000, `rejected after ${performance.now() - started} ms`);
  assert.equal(await metric(service, 'tcp-echo.sockets.close-reasons', { reason: 'rejected' }, 'exact'), 1);
  assert.equal(await metric(service, 'tcp-echo.sockets.opened', {}, 'exact'), openedBefore + 4, 'a rejected connection counts as opened');
  assert.equal(await metric(service, 'tcp-echo.sockets.active', {}, 'exact'), 3);
  // The ones inside the limit were not disturbed, and a freed slot is usable again.
  await ping(open[2]!, Buffer.from('still here'));
  open.shift()!.destroy();
  await settled(() => metric(service, 'tcp-echo.sockets.active', {}, 'exact'));
  await roundTrip(service.echoPort, randomData(100 * KiB), [4096]);
  // The line travels through the log queue: waited for, not read at once.
  await until(() => /Rejected 1 connection\(s\): max_connections \(3\) reached/.test(service.stderr()), 'the rejection line', 60_000);
});

test('idle_timeout: a silent connection is closed with reason timeout; a busy one is not', async (t) => {
  const service = await startService({ components: echoOption({ idle_timeout: '500ms' }) });
  t.after(() => service.stop());
  const idle = await connect(service.echoPort);
  const busy = await connect(service.echoPort);
  t.after(() => (idle.destroy(), busy.destroy()));
  await ping(idle, Buffer.from('then silence'));
  const started = performance.now();
  const idleGone = serverClosed(idle, 10_000);
  for (let i = 0; i < 15; i++) {
    await ping(busy, Buffer.from(`tick ${i}`));
    await sleep(100);
  }
  await idleGone;
  const after = performance.now() - started;
  assert.ok(after >= 400, `closed after ${after} ms`);
  assert.equal(busy.destroyed, false);
  await ping(busy, Buffer.from('busy survives'));
  assert.equal(await metric(service, 'tcp-echo.sockets.close-reasons', { reason: 'timeout' }, 'exact'), 1, 'only the silent one timed out');
  await until(() => /text=Closing socket\t.*reason=timeout/.test(service.stderr()), 'the timeout close line', 60_000);
});

test('drain window (components_manager.graceful_shutdown_interval): connections finish inside it, the rest are closed after it, exit 0', async (t) => {
  // Long enough that a loaded machine's delays (seconds) cannot blur "within the window", "after
  // it" and "after a second window" into each other.
  const windowMs = 10_000;
  const service = await startService({ manager: { graceful_shutdown_interval: `${windowMs}ms` } });
  t.after(() => service.stop('SIGKILL'));
  const finishing = await connect(service.echoPort);
  const lingering = await connect(service.echoPort);
  t.after(() => (finishing.destroy(), lingering.destroy()));
  await ping(lingering, Buffer.from('i will stay'));

  const signalled = performance.now();
  service.child.kill('SIGTERM');
  const lingeringGone = serverClosed(lingering, 60_000).then(() => performance.now() - signalled);
  await sleep(500);
  assert.ok(await refused(service.echoPort), 'the listener stopped accepting at once');
  // Inside the window an open connection still echoes a full transfer and ends normally.
  const data = randomData(512 * KiB);
  const echoed = collect(finishing, data.length, { untilEnd: true, timeoutMs: 60_000 });
  await writeChunked(finishing, data, [16 * KiB]);
  finishing.end();
  assert.equal(firstDifference(await echoed, data), -1);
  const finishedAt = performance.now() - signalled;

  const lingeringClosedAt = await lingeringGone;
  lingering.destroy();
  const code = await service.exited;
  const exitedAt = performance.now() - signalled;
  t.diagnostic(
    `drain: finished at ${finishedAt.toFixed(0)} ms, lingering closed at ${lingeringClosedAt.toFixed(0)} ms, ` +
      `exit at ${exitedAt.toFixed(0)} ms (window ${windowMs} ms)`,
  );
  assert.equal(code, 0);
  assert.ok(finishedAt < windowMs, `the finishing connection ended at ${finishedAt} ms`);
  // Closed once the window is over, not before, and not after a second window (no double wait).
  assert.ok(lingeringClosedAt >= windowMs - 100, `lingering closed at ${lingeringClosedAt} ms`);
  assert.ok(exitedAt < 2 * windowMs - 500, `exited ${exitedAt} ms after SIGTERM`);
  assert.match(service.stderr(), /text=Closing socket\t.*reason=eof/);
  assert.match(service.stderr(), /text=Closing socket\t.*reason=shutdown/);
});

test('drain window (tcp-echo.graceful_shutdown_interval): a stalled connection gets its queued echo flushed before the close', async (t) => {
  const service = await startService({ components: echoOption({ graceful_shutdown_interval: '1s' }) });
  t.after(() => service.stop('SIGKILL'));
  const socket = await connect(service.echoPort);
  t.after(() => socket.destroy());
  socket.pause();
  const data = randomData(16 * 1024 * KiB);
  // Write without reading until the service stops reading from us (backpressure): the bytes it has
  // read and not yet delivered sit in its buffers and in the kernel between us.
  void writeChunked(socket, data, [64 * KiB]).catch(() => {});
  const readBySignal = await settled(() => metric(service, 'tcp-echo.bytes.read', {}, 'exact'));
  assert.ok(readBySignal > 0 && readBySignal < data.length, `service read ${readBySignal} bytes`);

  const signalled = performance.now();
  service.child.kill('SIGTERM');
  // Start reading only after the window (the service says when it is over): the service is
  // flushing what it read, then its FIN.
  await until(() => /Closing \d+ open connection\(s\) for shutdown/.test(service.stderr()), 'the end of the drain window', 60_000);
  const received = await collect(socket, data.length, { untilEnd: true, timeoutMs: 60_000 }).catch(
    (error: Error) => error,
  );
  // collect() fails with "EOF after N of M bytes": the echo stops where the service stopped reading.
  assert.ok(received instanceof Error, "the echo should stop short of what was sent");
  t.diagnostic(`${received.message}; the service had read ${readBySignal} by SIGTERM`);
  const got = Number(/EOF after (\d+) of/.exec(received.message)?.[1] ?? -1);
  // Every byte the service had read came back (flushed, not dropped), and nothing read after the
  // window was echoed (it stopped echoing, then discarded input until the close).
  assert.equal(got, readBySignal);
  socket.destroy();
  assert.equal(await service.exited, 0);
  const exitedAt = performance.now() - signalled;
  // A hang guard: the flush after the 1 s window is bounded well below this.
  assert.ok(exitedAt < 30_000, `exited ${exitedAt} ms after SIGTERM`);
  assert.match(service.stderr(), /text=Closing socket\t.*reason=shutdown/);
});

test('SIGTERM with busy connections open: every client sees the close and the process exits 0', async (t) => {
  const service = await startService();
  t.after(() => service.stop('SIGKILL'));
  const sockets = await Promise.all(Array.from({ length: 20 }, () => connect(service.echoPort)));
  t.after(() => sockets.forEach((s) => s.destroy()));
  for (const socket of sockets) {
    socket.on('error', () => {});
    socket.resume();
    // Keep data flowing in both directions while the signal arrives.
    void writeChunked(socket, randomData(8 * 1024 * KiB), [64 * KiB]).catch(() => {});
  }
  await sleep(300);
  const signalled = performance.now();
  service.child.kill('SIGTERM');
  await Promise.all(sockets.map((s) => serverClosed(s, 10_000)));
  assert.equal(await service.exited, 0);
  const exitedAt = performance.now() - signalled;
  assert.ok(exitedAt < 5000, `exited ${exitedAt} ms after SIGTERM`);
  assert.doesNotMatch(service.stderr(), /uncaught|unhandled/i);
});
