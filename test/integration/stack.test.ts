/**
 * The Grafana dashboard and the alert rules against real data: the real service (with tracing on,
 * exporting to a loopback OTLP/HTTP receiver) and a real Prometheus scraping it with the SHIPPED
 * otel/prometheus/prometheus.yml (targets rewritten to this test's port) and alerts.yml. After
 * echo traffic with every kind of close the service can produce while running (eof, reset,
 * timeout, rejected) and some backpressure, EVERY PromQL expression of EVERY dashboard panel must
 * return data with a finite value, as an instant and as a range query, both with the dashboard's
 * default variables (instance = All) and with the instance Grafana would list; and every alert
 * rule must evaluate without error. A panel Grafana would show as "No data" fails here.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import {
  dashboardQueries,
  startPrometheus,
  substituteGrafanaVariables,
  waitForQuery,
  waitForRuleEvaluation,
  type GrafanaPanel,
  type PromSample,
  type RunningPrometheus,
} from '../helpers/prometheus.js';
import { ROOT, startService } from '../helpers/service.js';

const DASHBOARD = JSON.parse(readFileSync(path.join(ROOT, 'otel/grafana/dashboards/tcp-echo.json'), 'utf8')) as {
  panels: GrafanaPanel[];
};
const SCRAPE_CONFIG = readFileSync(path.join(ROOT, 'otel/prometheus/prometheus.yml'), 'utf8');
const ALERTS = path.join(ROOT, 'otel/prometheus/alerts.yml');
/** Short, so the timeout close reason is produced quickly; long enough that a stalled flood client
 * is resumed well before it (the resume waits for the service's pause, however slow the machine). */
const IDLE_TIMEOUT_MS = 10_000;
const MAX_CONNECTIONS = 4;

/** A loopback OTLP/HTTP trace receiver that accepts everything and counts the requests. */
async function startOtlpReceiver(): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let requests = 0;
  const server = http.createServer((request, response) => {
    request.resume();
    request.once('end', () => {
      if (request.method === 'POST' && request.url === '/v1/traces') requests++;
      // An empty ExportTraceServiceResponse, in the encoding the exporter used.
      const json = (request.headers['content-type'] ?? '').includes('json');
      response.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
      response.end(json ? '{}' : '');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Sends `payload`, reads until it all came back (bounded by `timeoutMs`). */
async function roundTrip(socket: net.Socket, payload: Buffer, timeoutMs = 60_000): Promise<void> {
  let received = 0;
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`echo of ${payload.length} bytes: only ${received} after ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received >= payload.length) {
        clearTimeout(timer);
        socket.off('data', onData);
        resolve();
      }
    };
    socket.on('data', onData);
  });
  socket.write(payload);
  await done;
}

/** Resolves when the socket closed (any way), rejects after `timeoutMs`. */
function closed(socket: net.Socket, timeoutMs = 60_000): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socket not closed after ${timeoutMs} ms`)), timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Resolves once no socket's send queue shrank for 150 ms (or after `maxMs`, whichever first). */
/** Polls the service's own count of backpressure pauses until it reaches `count` (or `maxMs` passes). */
async function untilPauses(monitorUrl: string, count: number, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const response = await fetch(`${monitorUrl}/service/monitor?format=json&path=tcp-echo.backpressure.pauses`);
    const json = (await response.json()) as Record<string, Array<{ value: number }>>;
    if ((json['tcp-echo.backpressure.pauses']?.[0]?.value ?? 0) >= count || Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Echo traffic producing every runtime close reason and some backpressure; returns the closes caused. */
async function driveTraffic(port: number, monitorUrl: string): Promise<number> {
  let closes = 0;
  // eof: clients that send, read everything back, and close their side.
  for (let i = 0; i < 5; i++) {
    const socket = await connect(port);
    socket.on('error', () => {});
    await roundTrip(socket, Buffer.alloc(16_384 * (i + 1), 0x61 + i));
    socket.end();
    await closed(socket);
    closes++;
  }
  // reset: clients that abort with RST after an echo.
  for (let i = 0; i < 3; i++) {
    const socket = await connect(port);
    socket.on('error', () => {});
    await roundTrip(socket, Buffer.alloc(1024, 0x72));
    socket.resetAndDestroy();
    await closed(socket);
    closes++;
  }
  // Backpressure: clients that send far more than the per-connection bound plus what the kernel
  // buffers on loopback (tcp_rmem/tcp_wmem allow tens of MiB) while not reading. The service stops
  // reading from them; once they read again, its write side drains and reading resumes (one pause).
  const floods = await Promise.all([connect(port), connect(port)]);
  const floodBytes = 512 * 65_536; // 32 MiB each; bounded loop, one shared chunk
  const echoed = floods.map((socket) => {
    socket.on('error', () => {});
    socket.pause();
    const chunk = Buffer.alloc(65_536, 0x66);
    for (let i = 0; i < 512; i++) socket.write(chunk);
    let received = 0;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`flood echo: ${received} of ${floodBytes} bytes`)), 120_000);
      socket.on('data', (data: Buffer) => {
        received += data.length;
        if (received >= floodBytes) {
          clearTimeout(timer);
          resolve();
        }
      });
      socket.once('close', () => {
        clearTimeout(timer);
        reject(new Error(`flood connection closed after ${received} of ${floodBytes} echoed bytes`));
      });
    });
  });
  // Wait until the service stopped reading from both (its write side is full: one pause each), and
  // resume before the idle timeout, which would close a stalled connection.
  await untilPauses(monitorUrl, floods.length, 120_000);
  for (const socket of floods) socket.resume();
  await Promise.all(echoed);
  for (const socket of floods) socket.end();
  await Promise.all(floods.map((s) => closed(s)));
  closes += floods.length;
  // rejected, then timeout: fill max_connections with clients, then one more, which is closed at
  // once; the others then sit idle until the idle timeout closes them.
  const holders: net.Socket[] = [];
  for (let i = 0; i < MAX_CONNECTIONS; i++) {
    const socket = await connect(port);
    socket.on('error', () => {});
    // An echo proves the service accepted (and counts) this connection before the next one.
    await roundTrip(socket, Buffer.from('hold\n'));
    holders.push(socket);
  }
  const extra = await connect(port);
  extra.on('error', () => {});
  extra.resume();
  await closed(extra, 5_000);
  closes++;
  await Promise.all(holders.map((s) => closed(s, IDLE_TIMEOUT_MS * 10)));
  closes += holders.length;
  return closes;
}

function isFinite(sample: PromSample): boolean {
  return Number.isFinite(Number(sample.value[1]));
}

/** Grafana's regex escaping of a multi-value variable's value inside a PromQL string. */
function grafanaRegexEscape(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\\\$&');
}

async function rangeQuery(prom: RunningPrometheus, expr: string): Promise<Array<{ values: Array<[number, string]> }>> {
  const end = Date.now() / 1000;
  const data = await prom.api<{ resultType: string; result: Array<{ values: Array<[number, string]> }> }>(
    `/api/v1/query_range?query=${encodeURIComponent(expr)}&start=${end - 120}&end=${end}&step=1`,
  );
  assert.equal(data.resultType, 'matrix');
  return data.result;
}

test('every dashboard query returns data and every alert rule evaluates, against the real service', async (t) => {
  const started = Date.now();
  const receiver = await startOtlpReceiver();
  t.after(() => receiver.close());
  const service = await startService({
    components: (c) => {
      c['tcp-echo'] = { ...c['tcp-echo'], max_connections: MAX_CONNECTIONS, idle_timeout: `${IDLE_TIMEOUT_MS}ms` };
    },
    env: {
      OTEL_SDK_DISABLED: 'false',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '200',
    },
  });
  t.after(() => service.stop());
  const target = `127.0.0.1:${service.monitorPort}`;
  const prom = await startPrometheus({ scrapeConfigYaml: SCRAPE_CONFIG, targets: [target], ruleFiles: [ALERTS], scrapeInterval: '1s' });
  t.after(() => prom.stop());

  // The shipped job name and metrics path, scraping this service, healthy.
  await waitForQuery(prom, 'up{job="tcp-echo"} == 1');
  const targets = await prom.api<{ activeTargets: Array<{ labels: Record<string, string>; scrapeUrl: string; health: string }> }>(
    '/api/v1/targets',
  );
  assert.deepEqual(
    targets.activeTargets.map((x) => [x.labels.job, x.scrapeUrl, x.health]),
    [['tcp-echo', `http://${target}/metrics`, 'up']],
  );

  const closes = await driveTraffic(service.echoPort, service.monitorUrl);
  // Wait until Prometheus has scraped the state after the traffic, and spans went out.
  await waitForQuery(prom, `tcp_echo_sockets_closed_total >= ${closes}`, { timeoutMs: 120_000 });
  await waitForQuery(prom, 'tcp_echo_tracing_spans_exported_total > 0', { timeoutMs: 120_000 });
  assert.ok(receiver.requests() > 0, 'the OTLP receiver got spans');

  // The traffic really produced what the panels show (not only zero-valued series).
  const reasons = await prom.query('sum by (reason) (tcp_echo_sockets_close_reasons_total) > 0');
  assert.deepEqual(reasons.map((s) => s.metric.reason).sort(), ['eof', 'rejected', 'reset', 'timeout']);
  assert.equal((await prom.query('tcp_echo_backpressure_pauses_total > 0')).length, 1, 'backpressure paused reading');
  assert.equal((await prom.query('tcp_echo_bytes_read_total > 250000')).length, 1);

  // Template variables as Grafana resolves them (label_values → the label values API).
  const jobs = await prom.api<string[]>(`/api/v1/label/job/values?match[]=${encodeURIComponent('tcp_echo_sockets_active')}`);
  assert.deepEqual(jobs, ['tcp-echo']);
  const instances = await prom.api<string[]>(
    `/api/v1/label/instance/values?match[]=${encodeURIComponent('tcp_echo_sockets_active{job="tcp-echo"}')}`,
  );
  assert.deepEqual(instances, [target]);

  const queries = dashboardQueries(DASHBOARD);
  assert.ok(queries.length >= 20);
  // $__rate_interval: Grafana uses max($__interval + scrape interval, 4 × scrape interval); the
  // traffic above is recent, so a generous 1m window holds all of it.
  const intervals = { rateInterval: '1m', interval: '1s', range: '15m' };
  const empty: string[] = [];
  for (const instance of ['.*', grafanaRegexEscape(target)]) {
    for (const query of queries) {
      const expr = substituteGrafanaVariables(query.expr, { job: 'tcp-echo', instance, jaeger_url: 'http://unused' }, intervals);
      const samples = await prom.query(expr);
      if (!samples.some(isFinite)) {
        empty.push(`${query.panel} [${query.refId}] ${expr} → ${JSON.stringify(samples)}`);
        continue;
      }
      const series = await rangeQuery(prom, expr);
      if (!series.some((s) => s.values.some(([, v]) => Number.isFinite(Number(v))))) {
        empty.push(`${query.panel} [${query.refId}] (range) ${expr}`);
      }
    }
  }
  assert.deepEqual(empty, [], `panels without data:\n${empty.join('\n')}`);

  // Alert rules: loaded, evaluated against this data, healthy; the service is up, so no TcpEchoDown.
  const rules = await waitForRuleEvaluation(prom);
  assert.deepEqual(
    rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`),
    [],
  );
  assert.ok(rules.length >= 5, `${rules.length} rules`);
  const alerts = await prom.api<{ alerts: Array<{ labels: Record<string, string>; state: string }> }>('/api/v1/alerts');
  assert.deepEqual(alerts.alerts.filter((a) => a.labels.alertname === 'TcpEchoDown'), []);

  const seconds = (Date.now() - started) / 1000;
  // Its duration is reported, not asserted: on a busy machine it measures the machine.
  t.diagnostic(`stack test: ${queries.length} dashboard queries × 2 variable sets, ${rules.length} rules, ${seconds.toFixed(1)} s`);
});
