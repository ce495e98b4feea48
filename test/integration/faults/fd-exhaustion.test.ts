/**
 * Echo clients exhausting the process's descriptors (issue 15, item 3), with a real
 * `prlimit --nofile=256:256` process. At the limit libuv refuses connections silently (it accepts
 * and closes them with a spare descriptor; Node sees no error), for every listener of the process.
 * So the echo stops short of the limit — with the default `max_connections: 0` and with a larger
 * explicit value (lowered, with a warning) — and `/ping` keeps answering while 400 clients hold or
 * retry connections; the refusals are counted as close reason `rejected` and logged.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { ping, sleep, until } from '../../helpers/echo-client.js';
import { metric } from '../../helpers/monitor-client.js';
import { rawHttp } from '../../helpers/raw-http.js';
import { startService } from '../../helpers/service.js';

const LIMIT = 256;
const CLIENTS = 400;

/** Opens `n` echo connections and holds them; each settles once connected or refused. */
async function crowd(port: number, n: number): Promise<net.Socket[]> {
  const sockets: net.Socket[] = [];
  const settled: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    sockets.push(socket);
    settled.push(
      new Promise((resolve) => {
        socket.once('connect', () => resolve());
        socket.once('close', () => resolve());
      }),
    );
    if (i % 50 === 49) await Promise.all(settled.slice(-50));
  }
  await Promise.all(settled);
  return sockets;
}

async function pingMonitor(port: number): Promise<number | undefined> {
  const response = await rawHttp(port, ['GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'], { timeoutMs: 5000 });
  return response.status;
}

test(`prlimit --nofile=${LIMIT}: ${CLIENTS} echo clients leave /ping answering (derived max_connections)`, { timeout: 120_000 }, async (t) => {
  const service = await startService({ prefix: ['prlimit', `--nofile=${LIMIT}:${LIMIT}`] });
  t.after(() => service.stop());
  // The start's lines can reach us after /ping first answers: wait for them.
  const listening = /max_connections=(\d+)/;
  await until(() => listening.test(service.stderr()), 'the listening line', 60_000);
  const derived = listening.exec(service.stderr())?.[1];
  assert.ok(derived !== undefined && Number(derived) < LIMIT, `derived max_connections: ${derived}\n${service.stderr()}`);

  const sockets = await crowd(service.echoPort, CLIENTS);
  t.after(() => sockets.forEach((s) => s.destroy()));
  const failures: string[] = [];
  for (let i = 0; i < 20; i++) {
    const status = await pingMonitor(service.monitorPort);
    if (status !== 200) failures.push(`ping ${i}: ${String(status)}`);
    // More clients keep trying meanwhile.
    const extra = net.connect(service.echoPort, '127.0.0.1');
    extra.on('error', () => {});
    sockets.push(extra);
  }
  assert.deepEqual(failures, [], 'every /ping answered while the echo was full');
  const rejected = await metric(service, 'tcp-echo.sockets.close-reasons', { reason: 'rejected' }, 'exact');
  assert.ok(rejected > 0, `connections past the derived cap were rejected (${rejected})`);
  assert.equal(await metric(service, 'tcp-echo.accept.errors', {}, 'exact'), 0, 'the echo never ran out of descriptors');
  assert.ok((await metric(service, 'tcp-echo.sockets.active', {}, 'exact')) <= Number(derived));
  t.diagnostic(`derived max_connections ${derived}; ${rejected} rejected; 20/20 /ping answered`);

  // Once the crowd leaves, the echo serves again.
  sockets.forEach((s) => s.destroy());
  const deadline = performance.now() + 20_000;
  while ((await metric(service, 'tcp-echo.sockets.active', {}, 'exact')) > 0 && performance.now() < deadline) await sleep(50);
  const client = net.connect(service.echoPort, '127.0.0.1');
  t.after(() => client.destroy());
  await ping(client, Buffer.from('after the crowd'));
  assert.equal(await service.stop(), 0);
});

test(`prlimit --nofile=${LIMIT} with max_connections 1000: lowered to the limit, with a warning; /ping answers`, { timeout: 120_000 }, async (t) => {
  const service = await startService({
    prefix: ['prlimit', `--nofile=${LIMIT}:${LIMIT}`],
    components: (c) => void Object.assign(c['tcp-echo']!, { max_connections: 1000 }),
  });
  t.after(() => service.stop());
  const lowered = /max_connections \(1000\) lowered to (\d+): the open-file limit \(256\)/;
  await until(() => lowered.test(service.stderr()), 'the warning', 60_000);
  const warning = lowered.exec(service.stderr())!;
  const sockets = await crowd(service.echoPort, CLIENTS);
  t.after(() => sockets.forEach((s) => s.destroy()));
  const tail = (): string => `\nstderr tail:\n${service.stderr().slice(-2000)}`;
  for (let i = 0; i < 10; i++) assert.equal(await pingMonitor(service.monitorPort), 200, `ping ${i}${tail()}`);
  const rejected = await metric(service, 'tcp-echo.sockets.close-reasons', { reason: 'rejected' }, 'exact');
  assert.ok(rejected > 0, `rejected ${rejected}${tail()}`);
  assert.equal(await metric(service, 'tcp-echo.accept.errors', {}, 'exact'), 0, `accept errors${tail()}`);
  // Refusals are visible: counted (above) and logged, at most a line a second, the burst's tail
  // included: the lines add up to the counter.
  const rejectedLine = new RegExp(`Rejected (\\d+) connection\\(s\\): max_connections \\(${warning[1]}\\) reached`, 'g');
  const logged = (): number => [...service.stderr().matchAll(rejectedLine)].reduce((sum, m) => sum + Number(m[1]), 0);
  await until(async () => logged() === (await metric(service, 'tcp-echo.sockets.close-reasons', { reason: 'rejected' }, 'exact')), 'rejection lines adding up to the counter', 60_000);
  assert.ok(logged() >= rejected, `${logged()} rejections logged, ${rejected} counted${tail()}`);
});
