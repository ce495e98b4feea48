/**
 * The Kubernetes probes of the real service, polled from the moment the process starts: `/readyz`
 * is never 200 before the echo port echoes (cluster mode: every worker listens), and 503 from the
 * first SIGTERM while connections drain; `/livez` answers 200 all along.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { stringify } from 'yaml';
import { connect, ping, until } from '../helpers/echo-client.js';
import { baseComponents, freePort, spawnMain, type SpawnedMain } from '../helpers/service.js';

/** GET `url`: the status, or 0 when nothing answers (not listening yet, or gone). */
async function status(url: string): Promise<number> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

/** Echoes one message on a fresh connection; false when the port does not accept or echo. */
async function echoes(port: number): Promise<boolean> {
  let socket: net.Socket | undefined;
  try {
    socket = await connect(port, { timeoutMs: 2000 });
    await ping(socket, Buffer.from('ready?'), 5000);
    return true;
  } catch {
    return false;
  } finally {
    socket?.destroy();
  }
}

interface Started {
  readonly echoPort: number;
  readonly base: string;
  readonly exited: Promise<number | string>;
  readonly child: SpawnedMain['child'];
  stderr(): string;
}

/** Spawns the service without waiting for anything (the test polls from the start). */
async function spawnService(t: TestContext, tcpEcho: Record<string, unknown>, gracefulMs: number): Promise<Started> {
  const echoPort = await freePort();
  const monitorPort = await freePort();
  const components = baseComponents(echoPort, monitorPort);
  components['tcp-echo'] = { ...components['tcp-echo'], ...tcpEcho };
  components['handler-readiness'] = { path: '/readyz', method: 'GET' };
  components['handler-liveness'] = { path: '/livez', method: 'GET' };
  const dir = mkdtempSync(path.join(tmpdir(), 'tcp-echo-ready-'));
  const file = path.join(dir, 'static_config.yaml');
  writeFileSync(file, stringify({ components_manager: { graceful_shutdown_interval: `${gracefulMs}ms`, components } }));
  const { child, exited, stderr } = spawnMain(t, ['-c', file], { PATH: process.env.PATH ?? '', HOME: dir, OTEL_SDK_DISABLED: 'true' });
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return { echoPort, base: `http://127.0.0.1:${monitorPort}`, exited, child, stderr };
}

/** Polls /readyz from start until it is 200; every 200 must find the echo port echoing. */
async function pollUntilReady(service: Started, timeoutMs: number): Promise<{ notReady: number }> {
  const deadline = performance.now() + timeoutMs;
  let notReady = 0;
  let exited = false;
  void service.exited.then(() => (exited = true));
  for (;;) {
    assert.ok(!exited, `the service exited during start:\n${service.stderr()}`);
    assert.ok(performance.now() < deadline, `/readyz not 200 after ${timeoutMs} ms:\n${service.stderr()}`);
    const code = await status(`${service.base}/readyz`);
    if (code === 200) {
      assert.ok(await echoes(service.echoPort), '/readyz answered 200 while the echo port did not echo');
      return { notReady };
    }
    // Before the monitor listens nothing answers (0); once it does, 503 until the echo accepts.
    assert.ok(code === 0 || code === 503, `/readyz answered ${code} while starting`);
    if (code === 503) notReady++;
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Spawns and polls until ready. Free ports are picked before the service binds them, so on a
 * busy machine another process can take one in between: that start (EADDRINUSE) is retried on
 * new ports.
 */
async function startPolled(t: TestContext, tcpEcho: Record<string, unknown>): Promise<{ service: Started; notReady: number }> {
  for (let attempt = 1; ; attempt++) {
    const service = await spawnService(t, tcpEcho, 4000);
    try {
      return { service, notReady: (await pollUntilReady(service, 60_000)).notReady };
    } catch (error) {
      // The last line may still be in the pipe when the exit is seen.
      const stderr = service.child.stderr!;
      if (!stderr.closed) await new Promise((resolve) => stderr.once('close', resolve));
      if (attempt >= 3 || !service.stderr().includes('(EADDRINUSE)')) throw error;
    }
  }
}

/** SIGTERM with a connection open; while it drains, /readyz is 503 and /livez 200, and the connection still echoes. */
async function drainIsNotReady(service: Started): Promise<void> {
  const open = await connect(service.echoPort);
  open.on('error', () => {});
  await ping(open, Buffer.from('before'));
  service.child.kill('SIGTERM');
  // Shutdown has begun once the manager says so (it logs after setting its stopping flag; the
  // signal itself arrives asynchronously). From then on no answer may be 200.
  const deadline = performance.now() + 20_000;
  while (!service.stderr().includes('stopping: waiting graceful_shutdown_interval')) {
    assert.ok(performance.now() < deadline, `no shutdown line after SIGTERM:\n${service.stderr()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  let sawDraining = false;
  for (let i = 0; i < 20; i++) {
    const ready = await status(`${service.base}/readyz`);
    assert.notEqual(ready, 200, '/readyz answered 200 after SIGTERM');
    if (ready === 503) {
      assert.equal(await status(`${service.base}/livez`), 200, '/livez stays 200 while draining');
      sawDraining = true;
    }
  }
  assert.ok(sawDraining, `/readyz never answered 503 while draining:\n${service.stderr()}`);
  await ping(open, Buffer.from('still echoing while draining'));
  open.end();
  assert.equal(await service.exited, 0, service.stderr());
}

test('one process: /readyz is 503 until the echo listens, 200 while serving, 503 while draining', { timeout: 90_000 }, async (t) => {
  const { service } = await startPolled(t, {});
  assert.equal(await status(`${service.base}/livez`), 200);
  assert.equal(await status(`${service.base}/ping`), 200, '/ping keeps answering for userver test clients');
  await drainIsNotReady(service);
});

test('cluster mode: polled from start, /readyz is never 200 before the echo port echoes; 503 while draining', { timeout: 120_000 }, async (t) => {
  const { service, notReady } = await startPolled(t, { workers: 2 });
  // The monitor listens before the workers do (they take a while to start): starting is visible.
  assert.ok(notReady > 0, 'no 503 seen while the workers started');
  // The line travels through the log queue and may trail the readiness it reports: waited for.
  await until(() => /2 echo workers ready/.test(service.stderr()), 'the "2 echo workers ready" line', 60_000);
  await drainIsNotReady(service);
});
