/**
 * Cluster mode (`tcp-echo.workers: 2`) of the real service: traffic lands on both workers, the
 * monitor shows exact totals of the whole service, reset_metrics resets all, a worker killed with
 * SIGKILL is replaced and counted while the echo stays up and no counter goes back, SIGTERM drains
 * every worker and exits 0, and a worker that cannot start fails the start with one clear line.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { stringify } from 'yaml';
import { collect, connect, firstDifference, ping, randomData, roundTrip, serverClosed, sleep, until } from '../helpers/echo-client.js';
import { metricNode, monitorJson, promSample, type MonitorSnapshot } from '../helpers/monitor-client.js';
import { startOtlpReceiver } from '../helpers/otlp-receiver.js';
import { runCli, startService, type RunningService } from '../helpers/service.js';

type Json = MonitorSnapshot;

let service: RunningService;
before(async () => {
  service = await startService({ components: (c) => void (c['tcp-echo']!.workers = 2) });
  await until(async () => value(await monitor(), 'tcp-echo.workers.alive') === 2, 'both workers ready', 60_000);
  // Their start lines travel on another pipe than the monitor's answer: they may come a moment later.
  await until(() => workerPids().size === 2, "both workers' start lines", 60_000);
});
after(async () => {
  await service?.stop();
});

const monitor = (): Promise<Json> => monitorJson(service.monitorUrl);

async function prometheus(): Promise<string> {
  const response = await fetch(`${service.monitorUrl}/metrics`);
  assert.equal(response.status, 200);
  return response.text();
}

/** A node's value, labels matched exactly. */
const value = (json: Json, path: string, labels: Record<string, string> = {}): unknown => metricNode(json, path, labels, 'exact')?.value;


async function reset(): Promise<void> {
  const response = await fetch(`${service.monitorUrl}/tests/reset_metrics`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
  assert.equal(response.status, 200);
}

/** Worker pids by slot, from the primary's "echo worker N started" lines (the latest per slot). */
function workerPids(): Map<number, number> {
  const pids = new Map<number, number>();
  for (const line of service.stderr().split('\n')) {
    if (!line.includes('text=echo worker ') || !line.includes(' started')) continue;
    const slot = /\tworker=(\d+)/.exec(line)?.[1];
    const pid = /\tpid=(\d+)/.exec(line)?.[1];
    if (slot && pid) pids.set(Number(slot), Number(pid));
  }
  return pids;
}

test('connections land on both workers and the totals of the whole service are exact', { timeout: 60_000 }, async () => {
  await until(async () => value(await monitor(), 'tcp-echo.sockets.active') === 0, 'readiness probes closed', 20_000);
  await reset();
  const sockets: net.Socket[] = [];
  const sizes: number[] = [];
  const perWorker = async () => {
    const json = await monitor();
    return [1, 2].map((w) => Number(value(json, 'tcp-echo.workers.sockets.active', { worker: String(w) }) ?? 0));
  };
  try {
    // Connections are held open in batches of 10 until both workers hold some (the kernel decides
    // who accepts; 200 is far beyond what a fair spread needs). Each echoes once while held.
    let spread = [0, 0];
    while (sockets.length < 200 && !(spread[0]! > 0 && spread[1]! > 0)) {
      for (let i = 0; i < 10; i++) {
        const socket = await connect(service.echoPort);
        sockets.push(socket);
        const data = randomData(1000 + sockets.length * 37);
        sizes.push(data.length);
        await ping(socket, data);
      }
      await until(async () => (spread = await perWorker()).reduce((a, b) => a + b) === sockets.length, `per-worker open sockets summing to ${sockets.length}`, 20_000);
    }
    assert.ok(spread[0]! > 0 && spread[1]! > 0, `both workers hold connections: ${spread.join(' and ')}`);
    assert.equal(value(await monitor(), 'tcp-echo.sockets.active'), sockets.length);
  } finally {
    for (const socket of sockets) socket.end();
  }
  await Promise.all(sockets.map((s) => serverClosed(s)));
  const sent = sizes.reduce((a, b) => a + b);
  const n = sockets.length;
  await until(async () => value(await monitor(), 'tcp-echo.sockets.closed') === n, `${n} closed connections`, 20_000);
  const json = await monitor();
  assert.equal(value(json, 'tcp-echo.sockets.opened'), n);
  assert.equal(value(json, 'tcp-echo.sockets.active'), 0);
  assert.equal(value(json, 'tcp-echo.sockets.close-reasons', { reason: 'eof' }), n);
  assert.equal(value(json, 'tcp-echo.bytes.read'), sent);
  assert.equal(value(json, 'tcp-echo.bytes.written'), sent);
  const histogram = value(json, 'tcp-echo.connection.duration') as { buckets: number[]; inf: number };
  assert.equal(histogram.buckets.reduce((a, b) => a + b) + histogram.inf, n, 'one duration per connection, merged over workers');
  assert.deepEqual(json['tcp-echo.sockets.opened']?.[0]?.type, 'RATE');
  // Prometheus: one series per counter (never per pid), the alive gauge, a passing promtool check.
  const text = await prometheus();
  assert.equal(text.match(/^tcp_echo_sockets_opened_total\b.*$/gm)?.length, 1);
  assert.equal(promSample(text, 'tcp_echo_workers_alive'), 2);
  const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
  assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);
});

test('reset_metrics resets the counters of every worker; later traffic counts exactly', { timeout: 60_000 }, async () => {
  for (let i = 0; i < 6; i++) await roundTrip(service.echoPort, randomData(500), [500]);
  await until(async () => Number(value(await monitor(), 'tcp-echo.sockets.closed')) >= 6, 'connections closed', 20_000);
  await reset();
  let json = await monitor();
  for (const path of ['tcp-echo.sockets.opened', 'tcp-echo.sockets.closed', 'tcp-echo.bytes.read', 'tcp-echo.bytes.written']) {
    assert.equal(value(json, path), 0, path);
  }
  for (let i = 0; i < 4; i++) await roundTrip(service.echoPort, randomData(250), [100, 150]);
  await until(async () => value(await monitor(), 'tcp-echo.sockets.closed') === 4, '4 connections closed after the reset', 20_000);
  json = await monitor();
  assert.equal(value(json, 'tcp-echo.sockets.opened'), 4);
  assert.equal(value(json, 'tcp-echo.bytes.read'), 1000);
  assert.equal(value(json, 'tcp-echo.bytes.written'), 1000);
});

test('worker log lines reach stderr whole and in full under concurrent load (the relay splits nothing)', { timeout: 60_000 }, async () => {
  const before = service.stderr().split('\n').length;
  const clients = 200;
  let next = 0;
  const loop = async () => {
    while (next < clients) {
      next++;
      await roundTrip(service.echoPort, randomData(64), [64]);
    }
  };
  await Promise.all(Array.from({ length: 16 }, loop));
  const closedLines = () =>
    service
      .stderr()
      .split('\n')
      .slice(before - 1)
      .filter((l) => l.includes('\ttext=Closing socket\t'));
  await until(() => closedLines().length >= clients, `${clients} "Closing socket" lines`, 20_000);
  const lines = service.stderr().split('\n').slice(before - 1, -1);
  for (const line of lines) assert.match(line, /^tskv\ttimestamp=\S+\tlevel=[A-Z]+\tmodule=[^\t]+\ttext=/, `a whole tskv line: ${line.slice(0, 200)}`);
  const workers = new Set(closedLines().map((l) => /\tworker=(\d+)/.exec(l)?.[1]));
  assert.deepEqual([...workers].sort(), ['1', '2'], 'both workers logged connections, each line names its worker');
});

test('a worker killed with SIGKILL is replaced and counted; the echo stays up and no counter goes back', { timeout: 90_000 }, async () => {
  const before = workerPids();
  assert.equal(before.size, 2, `two worker pids in the log: ${[...before.values()].join(', ')}`);
  for (let i = 0; i < 6; i++) await roundTrip(service.echoPort, randomData(300), [300]);
  // Let the primary see the traffic once, so the victim's totals are known before it dies.
  await until(async () => Number(value(await monitor(), 'tcp-echo.sockets.closed')) >= 6, 'traffic counted', 20_000);
  const promBefore = await prometheus();
  const openedBefore = promSample(promBefore, 'tcp_echo_sockets_opened_total')!;
  const readBefore = promSample(promBefore, 'tcp_echo_bytes_read_total')!;
  const victim = before.get(1)!;
  process.kill(victim, 'SIGKILL');

  // The service answers throughout: the other worker keeps echoing while slot 1 is replaced.
  for (let i = 0; i < 5; i++) await roundTrip(service.echoPort, randomData(100), [100]);
  await until(() => workerPids().get(1) !== victim, 'a replacement for worker 1', 20_000);
  await until(async () => value(await monitor(), 'tcp-echo.workers.alive') === 2, 'two workers alive again', 20_000);
  const json = await monitor();
  assert.equal(value(json, 'tcp-echo.workers.restarts'), 1);
  const promAfter = await prometheus();
  assert.equal(promSample(promAfter, 'tcp_echo_workers_restarts_total'), 1);
  assert.ok(promSample(promAfter, 'tcp_echo_sockets_opened_total')! >= openedBefore + 5, 'opened kept the dead worker\'s total');
  assert.ok(promSample(promAfter, 'tcp_echo_bytes_read_total')! >= readBefore + 500, 'bytes.read kept the dead worker\'s total');
  assert.equal(existsSync(`/proc/${victim}`), false, 'the killed worker is gone (reaped)');
  assert.notEqual(workerPids().get(2), undefined);
  // The replacement serves too.
  await until(async () => {
    await roundTrip(service.echoPort, randomData(64), [64]);
    return true;
  }, 'an echo after the restart', 20_000);
});

test('a stopped (stuck) worker does not hang the monitor: its previous values are shown and the miss is counted', { timeout: 60_000 }, async () => {
  const stuck = workerPids().get(2)!;
  const before = await monitor();
  process.kill(stuck, 'SIGSTOP');
  try {
    // Answered, not hung (the test's timeout bounds the wait; no speed bound here): the counted
    // miss and the kept values below are the behaviour.
    const during = await monitor();
    assert.ok(Number(value(during, 'tcp-echo.workers.collect-timeouts')) >= 1, 'the miss is counted');
    for (const path of ['tcp-echo.sockets.opened', 'tcp-echo.bytes.read']) {
      assert.ok(Number(value(during, path)) >= Number(value(before, path)), `${path} did not go back`);
    }
    // The warning travels on another pipe than the HTTP answer: it may arrive a moment later.
    await until(() => /text=echo worker 2 did not answer a metrics collection in \d+ ms/.test(service.stderr()), 'the warning line', 30_000);
    // The other worker keeps echoing meanwhile (the stopped one accepts nothing).
    for (let i = 0; i < 3; i++) await roundTrip(service.echoPort, randomData(100), [100]);
  } finally {
    process.kill(stuck, 'SIGCONT');
  }
  const timeouts = Number(value(await monitor(), 'tcp-echo.workers.collect-timeouts'));
  await until(async () => Number(value(await monitor(), 'tcp-echo.workers.collect-timeouts')) === timeouts, 'answers again once resumed', 20_000);
  assert.equal(value(await monitor(), 'tcp-echo.workers.alive'), 2);
});

test('SIGUSR1 to the primary makes every worker reopen its log file (logrotate)', { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tcp-echo-cluster-log-'));
  const logFile = path.join(dir, 'tcp-echo.log');
  const logged = await startService({
    components: (c) => {
      c['tcp-echo']!.workers = 2;
      c.logging = { loggers: { default: { file_path: logFile, level: 'info', format: 'tskv' } } };
    },
  });
  try {
    const workersIn = (text: string) =>
      new Set(text.split('\n').filter((l) => l.includes('\ttext=Accepted connection\t')).map((l) => /\tworker=(\d+)/.exec(l)?.[1]));
    const traffic = async (file: string) => {
      // Batches of connections held together until both workers logged one (the kernel picks who accepts).
      for (let round = 0; round < 20 && workersIn(readText(file)).size < 2; round++) {
        const sockets = await Promise.all(Array.from({ length: 8 }, () => connect(logged.echoPort)));
        for (const socket of sockets) await ping(socket, randomData(16));
        for (const socket of sockets) socket.end();
        await Promise.all(sockets.map((s) => serverClosed(s)));
        await sleep(100);
      }
    };
    await traffic(logFile);
    assert.equal(workersIn(readText(logFile)).size, 2, 'both workers log to the file');
    renameSync(logFile, `${logFile}.1`);
    process.kill(logged.pid, 'SIGUSR1');
    await until(() => existsSync(logFile), 'the log file reopened', 30_000);
    await traffic(logFile);
    assert.deepEqual([...workersIn(readText(logFile))].sort(), ['1', '2'], 'both workers write the new file');
  } finally {
    assert.equal(await logged.stop(), 0);
    rmSync(dir, { recursive: true, force: true });
  }
});

function readText(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

test('SIGTERM drains every worker (open connections finish their echo) and the service exits 0', { timeout: 90_000 }, async () => {
  const drained = await startService({
    components: (c) => void (c['tcp-echo']!.workers = 2),
    // Long enough that the echoes below surely fall inside the window even on a loaded machine.
    manager: { graceful_shutdown_interval: '5s' },
  });
  try {
    await until(async () => {
      const response = await fetch(`${drained.monitorUrl}/service/monitor?format=json&path=tcp-echo.workers.alive`);
      const json = (await response.json()) as Json;
      return json['tcp-echo.workers.alive']?.[0]?.value === 2;
    }, 'both workers ready', 20_000);
    // The "started" lines travel through the log queue and may trail the metric: wait for both.
    const startedPids = () => [...drained.stderr().matchAll(/text=echo worker \d+ started.*?\tpid=(\d+)/g)].map((m) => Number(m[1]));
    await until(() => startedPids().length >= 2, 'both "echo worker N started" lines', 20_000);
    const pids = startedPids();
    assert.equal(pids.length, 2);
    const sockets = await Promise.all([0, 1, 2, 3].map(() => connect(drained.echoPort)));
    for (const socket of sockets) await ping(socket, randomData(100));
    drained.child.kill('SIGTERM');
    // During the drain window the open connections still echo, on whichever worker holds them:
    // wait until the primary and both workers have begun their shutdown, then echo.
    const draining = () => drained.stderr().split('\n').filter((l) => l.includes('text=stopping: waiting graceful_shutdown_interval')).length;
    await until(() => draining() >= 3, 'the primary and both workers in their drain window');
    for (const socket of sockets) {
      const data = randomData(2000);
      const echoed = collect(socket, data.length, { timeoutMs: 10_000 });
      socket.write(data);
      assert.equal(firstDifference(await echoed, data), -1);
    }
    await Promise.all(sockets.map((s) => serverClosed(s, 15_000)));
    assert.equal(await drained.exited, 0);
    for (const pid of pids) assert.equal(existsSync(`/proc/${pid}`), false, `worker ${pid} exited`);
    assert.match(drained.stderr(), /text=Closing \d+ open connection\(s\) for shutdown|text=Echo listener stopped/);
  } finally {
    await drained.stop('SIGKILL');
  }
});

test('spans come from every worker with one resource (service.name the same, process.pid differs)', { timeout: 60_000 }, async (t) => {
  const receiver = await startOtlpReceiver();
  t.after(() => receiver.close());
  const traced = await startService({
    components: (c) => {
      c['tcp-echo']!.workers = 2;
      c.tracer = { endpoint: receiver.url, 'service-name': 'cluster-test' };
    },
    env: { OTEL_SDK_DISABLED: 'false', OTEL_BSP_SCHEDULE_DELAY: '100' },
  });
  t.after(() => traced.stop());
  const sockPids = (all: readonly { name: string; resource: Record<string, unknown> }[]) =>
    new Set(all.filter((s) => s.name === 'sock').map((s) => s.resource['process.pid']));
  // Rounds of 16 connections held open together until spans from both workers arrived (the kernel
  // picks who accepts; a round almost always reaches both).
  for (let round = 0; round < 10 && sockPids(receiver.spans).size < 2; round++) {
    const sockets = await Promise.all(Array.from({ length: 16 }, () => connect(traced.echoPort)));
    for (const socket of sockets) await ping(socket, randomData(32));
    for (const socket of sockets) socket.end();
    await Promise.all(sockets.map((s) => serverClosed(s)));
    await receiver.waitFor((all) => all.filter((s) => s.name === 'sock').length >= (round + 1) * 16, 30_000);
  }
  const spans = receiver.spans;
  const socks = spans.filter((s) => s.name === 'sock');
  assert.ok(socks.every((s) => s.resource['service.name'] === 'cluster-test'), 'one service.name for every worker');
  const pids = new Set(socks.map((s) => s.resource['process.pid']));
  assert.ok(pids.size >= 2, `spans from two processes: ${[...pids].join(', ')}`);
  assert.ok(!pids.has(traced.pid), 'no span from the primary (it holds no connection)');
});

test('a port already in use fails the start with exit 1 and one line naming the port', { timeout: 60_000 }, async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as net.AddressInfo).port;
  const dir = mkdtempSync(path.join(tmpdir(), 'tcp-echo-cluster-'));
  try {
    const file = path.join(dir, 'static_config.yaml');
    writeFileSync(
      file,
      stringify({
        components_manager: {
          components: {
            logging: { loggers: { default: { file_path: '@null' } } },
            'tcp-echo': { port, address: '127.0.0.1', workers: 2 },
            server: { listener: { port: 0, address: '127.0.0.1' } },
            'handler-ping': { path: '/ping', method: 'GET' },
          },
        },
      }),
    );
    const result = await runCli(['-c', file], { timeoutMs: 120_000 });
    assert.equal(result.code, 1, result.stderr);
    const lines = result.stderr.trim().split('\n').filter((l) => l.startsWith('tcp-echo: '));
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0]!, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: address already in use \\(EADDRINUSE\\)`));
  } finally {
    blocker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
