/**
 * `tcp-echo.backpressure.pauses` counts exactly the pauses caused by a full write side: none for
 * connections that echo a few bytes and close (the end of a connection is not a pause), and one
 * for a client that stops reading until the service's write side fills, then reads everything.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collect, connect, firstDifference, randomData, roundTrip, serverClosed } from '../helpers/echo-client.js';
import { metric, metricUntil } from '../helpers/monitor-client.js';
import { startService, type RunningService } from '../helpers/service.js';

const PAUSES = 'tcp-echo.backpressure.pauses';
/** Bytes per write of the stalling client: below the service's 32 KiB write bound (half of 64 KiB). */
const CHUNK = 16 * 1024;
/** Far above what loopback buffers hold for a client that does not read; the loop stops at the pause. */
const MAX_STALL_BYTES = 256 * 1024 * 1024;

async function reset(service: RunningService): Promise<void> {
  const response = await fetch(`${service.monitorUrl}/tests/reset_metrics`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
  assert.equal(response.status, 200);
}

test('backpressure pauses: zero for tiny connections, exactly one per real stall', { timeout: 180_000 }, async (t) => {
  const service = await startService();
  t.after(() => service.stop());
  // The readiness probe's connection has closed before the counts start.
  await metricUntil(service, 'tcp-echo.sockets.active', {}, 'exact', (v: number) => v === 0, 60_000);
  await reset(service);

  // 10 connections, each echoing 3 bytes and closing: no backpressure at all.
  for (let i = 0; i < 10; i++) await roundTrip(service.echoPort, Buffer.from('abc'), [3]);
  assert.equal(await metricUntil(service, 'tcp-echo.sockets.closed', {}, 'exact', (v: number) => v === 10, 60_000), 10);
  assert.equal(await metric(service, PAUSES, {}, 'exact'), 0, 'tiny connections caused backpressure pauses');

  // One client stops reading and writes until the service's write side is full (the service says
  // so: its pause count becomes 1), then reads everything back and closes.
  const socket = await connect(service.echoPort);
  t.after(() => socket.destroy());
  socket.pause();
  const sent: Buffer[] = [];
  let sentBytes = 0;
  let pauses = 0;
  while (sentBytes < MAX_STALL_BYTES) {
    const chunk = randomData(CHUNK);
    sent.push(chunk);
    sentBytes += chunk.length;
    socket.write(chunk);
    pauses = await metric(service, PAUSES, {}, 'exact');
    if (pauses > 0) break;
  }
  assert.equal(pauses, 1, `the stall after ${sentBytes} bytes`);
  const echoed = collect(socket, sentBytes, { untilEnd: true, timeoutMs: 120_000 });
  socket.end();
  const data = Buffer.concat(sent);
  assert.equal(firstDifference(await echoed, data), -1, 'the stalled echo came back whole and in order');
  await serverClosed(socket, 60_000);
  assert.equal(await metricUntil(service, 'tcp-echo.sockets.closed', {}, 'exact', (v: number) => v === 11, 60_000), 11);
  assert.equal(await metric(service, PAUSES, {}, 'exact'), 1, 'one stall, one pause (the close and the catch-up are none)');
});
