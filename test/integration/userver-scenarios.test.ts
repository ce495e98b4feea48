/**
 * userver's own functional tests of the TCP full-duplex sample (samples/tcp_full_duplex_service/
 * tests/test_echo.py), re-implemented against the real built service: basic, delayed reader and
 * packet coalescing through a chaos gate, peer close while data is pending, 250 concurrent
 * sockets, 25 send-only sockets, metrics smoke. The metric checks read the userver JSON exactly as
 * `pytest_userver`'s monitor client does (`value_at(path)` = the one node with exactly those labels).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { ChaosGate } from '../helpers/chaos-gate.js';
import { USERVER_SAMPLE_LINES, until } from '../helpers/echo-client.js';
import { metricNode, type MonitorSnapshot } from '../helpers/monitor-client.js';
import { startService, type RunningService } from '../helpers/service.js';

const DATA = USERVER_SAMPLE_LINES;
const POEM = Buffer.concat(DATA);
const DATA_LENGTH = POEM.length;

let service: RunningService;
before(async () => {
  service = await startService();
});
after(async () => {
  await service?.stop();
});

/**
 * GET /service/monitor with `query` and no `format` (JSON is the default pytest_userver relies on);
 * `valueAt` finds the node with exactly `labels`.
 */
async function metrics(query: Record<string, string> = {}) {
  const response = await fetch(`${service.monitorUrl}/service/monitor?${new URLSearchParams(query)}`);
  assert.equal(response.status, 200);
  const json = (await response.json()) as MonitorSnapshot;
  return {
    json,
    valueAt(path: string, labels: Record<string, string> = {}): unknown {
      const node = metricNode(json, path, labels, 'exact');
      assert.ok(node, `no ${path} with labels ${JSON.stringify(labels)} in ${JSON.stringify(json[path] ?? [])}`);
      return node.value;
    },
  };
}

async function resetMetrics(): Promise<void> {
  const response = await fetch(`${service.monitorUrl}/tests/reset_metrics`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), {});
}


/** Previous tests' connections must be gone before a reset, or their closes would count after it. */
async function quiesce(): Promise<void> {
  await until(async () => (await metrics({ path: 'tcp-echo.sockets.active' })).valueAt('tcp-echo.sockets.active') === 0, 'no active sockets', 30_000);
}

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await once(socket, 'connect');
  return socket;
}

/** Writes the poem line by line, each write awaited (userver's `sock_sendall` per line). */
async function sendAllData(socket: net.Socket): Promise<void> {
  for (const line of DATA) await new Promise<void>((resolve, reject) => socket.write(line, (e) => (e ? reject(e) : resolve())));
}

/** Reads until the whole poem arrived; rejects on close, error or after `timeoutMs`. Counts reads. */
function recvAllData(socket: net.Socket, timeoutMs = 30_000): Promise<{ data: Buffer; reads: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    let reads = 0;
    const timer = setTimeout(() => finish(new Error(`only ${length} of ${DATA_LENGTH} bytes after ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      reads++;
      if (length >= DATA_LENGTH) finish();
    };
    const onClose = () => finish(new Error(`closed after ${length} of ${DATA_LENGTH} bytes`));
    const finish = (error?: Error) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      if (error) reject(error);
      else resolve({ data: Buffer.concat(chunks), reads });
    };
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

test('basic: reset_metrics, echo the poem concurrently; opened=1, closed=0, bytes.read=length', { timeout: 60_000 }, async (t) => {
  await quiesce();
  await resetMetrics();
  const socket = await connect(service.echoPort);
  t.after(() => socket.destroy());
  const received = recvAllData(socket);
  await sendAllData(socket);
  assert.deepEqual((await received).data, POEM);
  const m = await metrics({ prefix: 'tcp-echo.' });
  assert.equal(m.valueAt('tcp-echo.sockets.opened'), 1);
  assert.equal(m.valueAt('tcp-echo.sockets.closed'), 0);
  assert.equal(m.valueAt('tcp-echo.bytes.read'), DATA_LENGTH);
  assert.ok(Object.keys(m.json).every((path) => path.startsWith('tcp-echo.')));
});

test('delayed reader: the echo held 4 s by the gate arrives once released', { timeout: 60_000 }, async (t) => {
  const DELAY_MS = 4000;
  await quiesce();
  await resetMetrics();
  const gate = await ChaosGate.start({ port: service.echoPort });
  t.after(() => gate.stop());
  gate.toClient.delay(DELAY_MS);
  const socket = await connect(gate.port);
  t.after(() => socket.destroy());
  let done = false;
  const received = recvAllData(socket).finally(() => (done = true));
  await sendAllData(socket);
  await new Promise((r) => setTimeout(r, DELAY_MS / 2));
  assert.equal(done, false, 'nothing may arrive while the gate delays it');
  gate.toClient.pass();
  assert.deepEqual((await received).data, POEM);
  const m = await metrics({ prefix: 'tcp-echo.' });
  assert.equal(m.valueAt('tcp-echo.sockets.opened'), 1);
  assert.equal(m.valueAt('tcp-echo.sockets.closed'), 0);
  assert.equal(m.valueAt('tcp-echo.bytes.read'), DATA_LENGTH);
});

test('packet coalescing: the gate delivers the whole echo as one write', { timeout: 60_000 }, async (t) => {
  await quiesce();
  await resetMetrics();
  const gate = await ChaosGate.start({ port: service.echoPort });
  t.after(() => gate.stop());
  gate.toClient.concat(DATA_LENGTH);
  const socket = await connect(gate.port);
  t.after(() => socket.destroy());
  const received = recvAllData(socket);
  await sendAllData(socket);
  const { data, reads } = await received;
  assert.deepEqual(data, POEM);
  // One write of 371 bytes on loopback arrives as one read; allow the kernel a split, not six.
  assert.ok(reads <= 2, `${reads} reads`);
  gate.toClient.pass();
  const m = await metrics({ prefix: 'tcp-echo.' });
  assert.equal(m.valueAt('tcp-echo.sockets.opened'), 1);
  assert.equal(m.valueAt('tcp-echo.sockets.closed'), 0);
  assert.equal(m.valueAt('tcp-echo.bytes.read'), DATA_LENGTH);
});

test('peer closes while data is pending: no data arrives, then a new connection echoes', { timeout: 60_000 }, async (t) => {
  await quiesce();
  await resetMetrics();
  const gate = await ChaosGate.start({ port: service.echoPort });
  t.after(() => gate.stop());
  gate.toClient.drop();
  const socket = await connect(gate.port);
  socket.on('error', () => {});
  t.after(() => socket.destroy());
  let received = 0;
  socket.on('data', (d: Buffer) => (received += d.length));
  const closed = once(socket, 'close');
  await sendAllData(socket);
  await new Promise((r) => setTimeout(r, 1000));
  await gate.closeAll();
  await closed;
  assert.equal(received, 0);
  assert.equal(gate.connectionsCount(), 0);

  gate.toClient.pass();
  const second = await connect(gate.port);
  t.after(() => second.destroy());
  second.write('hi');
  const [hello] = (await once(second, 'data')) as [Buffer];
  assert.equal(hello.toString(), 'hi');
  assert.equal(gate.connectionsCount(), 1);
  // The service saw the first connection end and the second one open.
  await until(async () => {
    const m = await metrics({ prefix: 'tcp-echo.sockets.' });
    return m.valueAt('tcp-echo.sockets.opened') === 2 && m.valueAt('tcp-echo.sockets.closed') === 1;
  }, 'opened=2, closed=1', 10_000);
});

test('250 concurrent sockets each echo the poem; opened=250, bytes.read=250*length', { timeout: 120_000 }, async (t) => {
  const SOCKETS = 250;
  await quiesce();
  await resetMetrics();
  const sockets: net.Socket[] = [];
  t.after(() => sockets.forEach((s) => s.destroy()));
  const tasks: Promise<unknown>[] = [];
  for (let i = 0; i < SOCKETS; i++) {
    const socket = await connect(service.echoPort);
    sockets.push(socket);
    tasks.push(sendAllData(socket));
    tasks.push(recvAllData(socket, 60_000).then(({ data }) => assert.deepEqual(data, POEM)));
  }
  await Promise.all(tasks);
  const m = await metrics({ prefix: 'tcp-echo.' });
  assert.equal(m.valueAt('tcp-echo.sockets.opened'), SOCKETS);
  assert.equal(m.valueAt('tcp-echo.bytes.read'), DATA_LENGTH * SOCKETS);
  assert.equal(m.valueAt('tcp-echo.sockets.active'), SOCKETS);
});

test('25 send-only sockets: the service reads everything and stays healthy', { timeout: 60_000 }, async (t) => {
  const SOCKETS = 25;
  await quiesce();
  await resetMetrics();
  const sockets: net.Socket[] = [];
  t.after(() => sockets.forEach((s) => s.destroy()));
  const tasks: Promise<void>[] = [];
  for (let i = 0; i < SOCKETS; i++) {
    const socket = await connect(service.echoPort);
    sockets.push(socket);
    tasks.push(sendAllData(socket));
  }
  await Promise.all(tasks);
  await until(async () => (await metrics({ path: 'tcp-echo.bytes.read' })).valueAt('tcp-echo.bytes.read') === DATA_LENGTH * SOCKETS, `bytes.read = ${DATA_LENGTH * SOCKETS}`, 30_000);
  assert.equal((await fetch(`${service.monitorUrl}/ping`)).status, 200);
  const probe = await connect(service.echoPort);
  t.after(() => probe.destroy());
  probe.write('still here');
  const [back] = (await once(probe, 'data')) as [Buffer];
  assert.equal(back.toString(), 'still here');
});

test('through the gate: split segments echo byte-exact; an RST mid-transfer counts as a reset', { timeout: 60_000 }, async (t) => {
  await quiesce();
  await resetMetrics();
  const gate = await ChaosGate.start({ port: service.echoPort });
  t.after(() => gate.stop());
  gate.toServer.split(7);
  gate.toClient.split(5);
  const socket = await connect(gate.port);
  socket.on('error', () => {}); // the gate resets it below
  t.after(() => socket.destroy());
  const received = recvAllData(socket);
  await sendAllData(socket);
  const { data, reads } = await received;
  assert.deepEqual(data, POEM);
  assert.ok(reads > DATA.length, `split into ${reads} reads`);

  gate.toServer.pass();
  gate.toClient.pass();
  await gate.resetAll();
  await until(async () => (await metrics({ prefix: 'tcp-echo.sockets.' })).valueAt('tcp-echo.sockets.close-reasons', { reason: 'reset' }) === 1, 'close-reasons{reason=reset} = 1', 30_000);
});

test('metrics smoke: the JSON view has many metrics, each a list of {value, labels, type}', { timeout: 30_000 }, async () => {
  const { json } = await metrics();
  assert.ok(Object.keys(json).length > 1);
  for (const [path, nodes] of Object.entries(json)) {
    assert.ok(Array.isArray(nodes) && nodes.length > 0, path);
    for (const node of nodes) {
      assert.deepEqual(Object.keys(node).sort(), ['labels', 'type', 'value'], path);
      assert.ok(['RATE', 'GAUGE', 'HIST_RATE'].includes(node.type), `${path}: ${node.type}`);
    }
  }
});
