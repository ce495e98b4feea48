/**
 * `/ping` means serving: polled from the moment the process starts, it never answers 200 before the
 * echo port accepts, and in cluster mode not before every worker listens. Until then it answers 503.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { stringify } from 'yaml';
import { connect, ping, randomData, sleep } from '../helpers/echo-client.js';
import { MAIN, baseComponents, freePort } from '../helpers/service.js';

/** However slow the machine, a start takes less than this. */
const START_DEADLINE_MS = 120_000;

/** Starts the service with `workers` and polls `/ping` until the first 200; returns what it saw. */
async function pollFromStart(t: TestContext, workers: number) {
  const echoPort = await freePort();
  const monitorPort = await freePort();
  const components = baseComponents(echoPort, monitorPort);
  components['tcp-echo']!.workers = workers;
  const dir = mkdtempSync(path.join(tmpdir(), 'tcp-echo-readiness-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const configFile = path.join(dir, 'static_config.yaml');
  writeFileSync(configFile, stringify({ components_manager: { components } }));
  const child = spawn(process.execPath, [MAIN, '-c', configFile], {
    env: { PATH: process.env.PATH ?? '', HOME: dir, OTEL_SDK_DISABLED: 'true' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = once(child, 'exit');
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });

  const base = `http://127.0.0.1:${monitorPort}`;
  const statuses = new Set<number>();
  const deadline = Date.now() + START_DEADLINE_MS;
  for (;;) {
    assert.ok(Date.now() < deadline, `no 200 from /ping within ${START_DEADLINE_MS} ms; stderr:\n${stderr}`);
    assert.equal(child.exitCode, null, `the service exited; stderr:\n${stderr}`);
    let status: number | undefined;
    try {
      const response = await fetch(`${base}/ping`);
      await response.arrayBuffer();
      status = response.status;
    } catch {
      // The monitor is not listening yet.
    }
    if (status === 200) break;
    if (status !== undefined) statuses.add(status);
    await sleep(20);
  }
  // At the first 200: the echo port accepts and echoes, and (cluster) every worker is ready.
  const socket = await connect(echoPort, { host: '127.0.0.1', timeoutMs: 5000 });
  t.after(() => socket.destroy());
  await ping(socket, randomData(64), 10_000);
  const response = await fetch(`${base}/service/monitor?format=json&path=tcp-echo.workers.alive`);
  const json = (await response.json()) as Record<string, Array<{ value: number }>>;
  return { statuses, alive: json['tcp-echo.workers.alive']?.[0]?.value, stderr };
}

test('single process: /ping answers 503 until the echo listener accepts, then 200', { timeout: 180_000 }, async (t) => {
  const { statuses } = await pollFromStart(t, 1);
  assert.deepEqual([...statuses].filter((s) => s !== 503), [], 'before serving, /ping answers 503 only');
});

test('cluster mode: /ping answers 200 only once every worker listens', { timeout: 180_000 }, async (t) => {
  const { statuses, alive, stderr } = await pollFromStart(t, 2);
  assert.equal(alive, 2, `both workers were ready at the first 200; stderr:\n${stderr}`);
  assert.ok(statuses.has(503), 'the workers take a while to start: /ping said 503 meanwhile');
  assert.deepEqual([...statuses].filter((s) => s !== 503), [], 'before serving, /ping answers 503 only');
});
