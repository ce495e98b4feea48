/**
 * The cost of a scrape with many connections open: 1,000 echo connections, then the median time of
 * `GET /metrics` and `GET /service/monitor?format=json` (sequential requests on a keep-alive
 * connection, after a warm-up). The figures are printed as test diagnostics; the bound is generous
 * because the machine is shared.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { startService } from '../helpers/service.js';

const CONNECTIONS = 1000;
const SAMPLES = 41;
/**
 * A median above this means collection work grows badly with connections (it is ~1-5 ms here).
 * On a busy machine every request is slower: the bound is also at least 20 times the median with
 * no connection open, measured in the same run (bad growth with 1,000 connections is far more).
 */
const MEDIAN_BOUND_MS = 250;
const BASELINE_FACTOR = 20;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

async function timeRequests(url: string): Promise<{ median: number; p90: number; bytes: number }> {
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < SAMPLES + 5; i++) {
    const started = performance.now();
    const response = await fetch(url);
    const body = await response.arrayBuffer();
    const elapsed = performance.now() - started;
    assert.equal(response.status, 200);
    bytes = body.byteLength;
    if (i >= 5) times.push(elapsed);
  }
  const sorted = [...times].sort((a, b) => a - b);
  return { median: median(times), p90: sorted[Math.floor(sorted.length * 0.9)] as number, bytes };
}

test(`median /metrics and /service/monitor?format=json time with ${CONNECTIONS} connections open`, { timeout: 180_000 }, async (t) => {
  const service = await startService();
  t.after(() => service.stop());
  const idlePrometheus = await timeRequests(`${service.monitorUrl}/metrics`);
  const idleJson = await timeRequests(`${service.monitorUrl}/service/monitor?format=json`);
  const sockets: net.Socket[] = [];
  t.after(() => sockets.forEach((s) => s.destroy()));
  for (let i = 0; i < CONNECTIONS; i++) {
    const socket = net.connect(service.echoPort, '127.0.0.1');
    socket.on('error', () => {});
    sockets.push(socket);
    if (sockets.length % 100 === 0) await Promise.all(sockets.slice(-100).map((s) => (s.connecting ? once(s, 'connect') : null)));
  }
  await Promise.all(sockets.map((s) => (s.connecting ? once(s, 'connect') : null)));
  // Every connection echoes once, so the service holds 1,000 live sockets with byte counts.
  await Promise.all(
    sockets.map(async (s) => {
      s.write('x');
      await once(s, 'data');
    }),
  );
  const deadline = Date.now() + 20_000;
  let active = 0;
  while (Date.now() < deadline) {
    const view = (await (await fetch(`${service.monitorUrl}/service/monitor?path=tcp-echo.sockets.active`)).json()) as Record<
      string,
      Array<{ value: number }>
    >;
    active = view['tcp-echo.sockets.active']?.[0]?.value ?? 0;
    if (active >= CONNECTIONS) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(active, CONNECTIONS);

  const prometheus = await timeRequests(`${service.monitorUrl}/metrics`);
  const json = await timeRequests(`${service.monitorUrl}/service/monitor?format=json`);
  const report =
    `with ${CONNECTIONS} connections: /metrics median ${prometheus.median.toFixed(2)} ms (p90 ${prometheus.p90.toFixed(2)}, ` +
    `${prometheus.bytes} B); /service/monitor?format=json median ${json.median.toFixed(2)} ms (p90 ${json.p90.toFixed(2)}, ${json.bytes} B)`;
  const prometheusBound = Math.max(MEDIAN_BOUND_MS, BASELINE_FACTOR * idlePrometheus.median);
  const jsonBound = Math.max(MEDIAN_BOUND_MS, BASELINE_FACTOR * idleJson.median);
  t.diagnostic(`${report}; with none open: ${idlePrometheus.median.toFixed(2)} / ${idleJson.median.toFixed(2)} ms`);
  assert.ok(prometheus.median < prometheusBound, `${report} (bound ${prometheusBound.toFixed(0)} ms)`);
  assert.ok(json.median < jsonBound, `${report} (bound ${jsonBound.toFixed(0)} ms)`);
});
