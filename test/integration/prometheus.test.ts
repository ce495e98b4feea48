/**
 * Prometheus against the real service: `promtool check metrics` finds no error and no lint warning
 * in our exposition, and a real Prometheus (Debian's /usr/bin/prometheus) scraping every second
 * sees the echo traffic, with counters that never reset across `reset_metrics`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { startPrometheus } from '../helpers/prometheus.js';
import { startService, type RunningService } from '../helpers/service.js';

let service: RunningService;
before(async () => {
  service = await startService();
});
after(async () => {
  await service?.stop();
});

/** Echoes `bytes` bytes on a fresh connection, then closes it and waits for the close. */
async function echo(bytes: number): Promise<void> {
  const socket = net.connect(service.echoPort, '127.0.0.1');
  await once(socket, 'connect');
  let received = 0;
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`echo: ${received} of ${bytes} bytes after 10 s`)), 10_000);
    socket.on('data', (d: Buffer) => {
      received += d.length;
      if (received >= bytes) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  socket.write(Buffer.alloc(bytes, 0x61));
  await done;
  socket.end();
  await once(socket, 'close');
}

async function metricsText(path = '/metrics'): Promise<string> {
  const response = await fetch(`${service.monitorUrl}${path}`);
  assert.equal(response.status, 200);
  return response.text();
}

/** The unlabelled sample `name` in an exposition. */
function sample(text: string, name: string): number {
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  assert.ok(match, `${name} in the exposition`);
  return Number(match[1]);
}

function promtoolCheck(text: string): { status: number | null; output: string } {
  const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}

test('promtool check metrics: no errors and no lint warnings, before and after traffic and a reset', { timeout: 60_000 }, async () => {
  const fresh = promtoolCheck(await metricsText());
  assert.deepEqual(fresh, { status: 0, output: '' });
  await echo(1000);
  const reset = await fetch(`${service.monitorUrl}/tests/reset_metrics`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
  assert.equal(reset.status, 200);
  const text = await metricsText();
  assert.match(text, /^tcp_echo_connection_duration_seconds_bucket\{le="\+Inf"\} [1-9]/m, 'histogram present');
  assert.deepEqual(promtoolCheck(text), { status: 0, output: '' });
  assert.deepEqual(promtoolCheck(await metricsText('/service/monitor?format=prometheus')), { status: 0, output: '' });
});

test('a real Prometheus scraping every 1 s sees the echo traffic; counters never reset', { timeout: 120_000 }, async (t) => {
  const prometheus = await startPrometheus({ targets: [`127.0.0.1:${service.monitorPort}`], scrapeInterval: '1s' });
  t.after(() => prometheus.stop());

  const CONNECTIONS = 5;
  const BYTES = 1000;
  for (let i = 0; i < CONNECTIONS; i++) await echo(BYTES);
  // A reset of the JSON view in the middle must not look like a counter reset to Prometheus.
  await fetch(`${service.monitorUrl}/tests/reset_metrics`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
  await echo(BYTES);

  const ours = await metricsText();
  const opened = sample(ours, 'tcp_echo_sockets_opened_total');
  const bytesRead = sample(ours, 'tcp_echo_bytes_read_total');
  assert.ok(opened >= CONNECTIONS + 1 && bytesRead >= (CONNECTIONS + 1) * BYTES);

  // Wait (bounded) until a scrape after the traffic has landed.
  const value = async (expr: string) => Number((await prometheus.query(expr))[0]?.value[1] ?? NaN);
  const deadline = Date.now() + 30_000;
  let seen = { opened: NaN, bytes: NaN };
  while (Date.now() < deadline) {
    seen = { opened: await value('tcp_echo_sockets_opened_total'), bytes: await value('tcp_echo_bytes_read_total') };
    if (seen.opened >= opened && seen.bytes >= bytesRead) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.ok(seen.opened >= opened, `Prometheus saw opened=${seen.opened}, the service says ${opened}\n${prometheus.log()}`);
  assert.ok(seen.bytes >= bytesRead, `Prometheus saw bytes.read=${seen.bytes}, the service says ${bytesRead}`);
  assert.equal(await value('up{job="tcp-echo"}'), 1);
  assert.equal(await value('resets(tcp_echo_sockets_opened_total[5m])'), 0);
  assert.equal(await value('resets(tcp_echo_bytes_read_total[5m])'), 0);
  const reasons = await prometheus.query('tcp_echo_sockets_close_reasons_total');
  assert.deepEqual(reasons.map((s) => s.metric.reason).sort(), ['eof', 'error', 'rejected', 'reset', 'shutdown', 'timeout']);
  assert.ok((await value('histogram_quantile(0.5, tcp_echo_connection_duration_seconds_bucket)')) >= 0);
});
