/**
 * From a latency figure to its trace, against the real components: the built service with tracing
 * on (exporting to the in-test OTLP receiver), and a real Prometheus with exemplar storage on,
 * running the SHIPPED otel/prometheus/prometheus.yml (targets rewritten to this test's port) and
 * so asking for OpenMetrics the way the stack's Prometheus does. Each test connection's
 * `sock` span must come back from `/api/v1/query_exemplars` on the duration histogram, with that
 * connection's duration, in the bucket that counted it; the target must be up with no scrape
 * error; and the OpenMetrics body the service serves must pass the grammar checks.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { checkOpenMetrics } from '../helpers/openmetrics-grammar.js';
import { startOtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { startPrometheus, waitForQuery, type RunningPrometheus } from '../helpers/prometheus.js';
import { ROOT, startService } from '../helpers/service.js';

const SCRAPE_CONFIG = readFileSync(path.join(ROOT, 'otel/prometheus/prometheus.yml'), 'utf8');
const HISTOGRAM = 'tcp_echo_connection_duration_seconds_bucket';
const DEADLINE_MS = 60_000;

interface PromExemplar {
  labels: Record<string, string>;
  value: string;
  timestamp: number;
}
interface ExemplarSeries {
  seriesLabels: Record<string, string>;
  exemplars: PromExemplar[];
}

/** Connects, echoes one line, keeps the connection open `holdMs`, closes; resolves when closed. */
async function connection(port: number, holdMs: number): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write('exemplar\n');
  await once(socket, 'data');
  await new Promise((resolve) => setTimeout(resolve, holdMs));
  socket.end();
  await once(socket, 'close');
}

async function exemplarsOf(prom: RunningPrometheus): Promise<Array<{ series: Record<string, string>; exemplar: PromExemplar }>> {
  const now = Date.now() / 1000;
  const data = await prom.api<ExemplarSeries[]>(
    `/api/v1/query_exemplars?query=${encodeURIComponent(`${HISTOGRAM}{job="tcp-echo"}`)}&start=${now - 600}&end=${now + 60}`,
  );
  return data.flatMap((s) => s.exemplars.map((exemplar) => ({ series: s.seriesLabels, exemplar })));
}

const seconds = (span: ReceivedSpan): number => Number(span.endTimeUnixNano - span.startTimeUnixNano) / 1e9;

test('exemplars: Prometheus stores each sampled connection as an exemplar of its duration bucket, linking to its sock span', async (t) => {
  const receiver = await startOtlpReceiver();
  t.after(() => receiver.close());
  const service = await startService({
    env: { OTEL_SDK_DISABLED: 'false', OTEL_BSP_SCHEDULE_DELAY: '50' },
    components: (c) => void (c.tracer = { endpoint: receiver.url }),
  });
  t.after(() => service.stop());
  const prom = await startPrometheus({
    scrapeConfigYaml: SCRAPE_CONFIG,
    targets: [`127.0.0.1:${service.monitorPort}`],
    enableFeatures: ['exemplar-storage'],
    scrapeInterval: '1s',
  });
  t.after(() => prom.stop());
  await waitForQuery(prom, 'up{job="tcp-echo"} == 1', { timeoutMs: DEADLINE_MS });

  // Three connections of rising duration, one at a time: each waits until Prometheus has its
  // exemplar, so a later connection in the same bucket cannot replace it unseen.
  const matched: Array<{ span: ReceivedSpan; series: Record<string, string>; exemplar: PromExemplar }> = [];
  for (const holdMs of [0, 300, 1200]) {
    const before = new Set(receiver.spans.map((s) => s.spanId));
    await connection(service.echoPort, holdMs);
    const spans = await receiver.waitFor((all) => all.some((s) => s.name === 'sock' && !before.has(s.spanId)), DEADLINE_MS);
    const span = spans.find((s) => s.name === 'sock' && !before.has(s.spanId)) as ReceivedSpan;
    const deadline = Date.now() + DEADLINE_MS;
    let found: { series: Record<string, string>; exemplar: PromExemplar } | undefined;
    while (found === undefined) {
      found = (await exemplarsOf(prom)).find((e) => e.exemplar.labels.span_id === span.spanId);
      if (found !== undefined) break;
      if (Date.now() > deadline) assert.fail(`no exemplar for sock span ${span.spanId} (held ${holdMs} ms) after ${DEADLINE_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    matched.push({ span, ...found });
  }

  for (const { span, series, exemplar } of matched) {
    assert.equal(exemplar.labels.trace_id, span.traceId);
    const value = Number(exemplar.value);
    // The histogram and the span time the same accept→close, a few calls apart at each end (the
    // margin is for a descheduled process on a busy machine, not for the calls).
    const spanSeconds = seconds(span);
    assert.ok(value > 0, `exemplar ${value} s`);
    assert.ok(Math.abs(spanSeconds - value) < Math.max(0.25, spanSeconds * 0.1), `exemplar ${value} s vs span ${spanSeconds} s`);
    assert.ok(value <= Number(series.le), `exemplar ${value} above its bucket le=${series.le}`);
  }
  assert.ok(Number(matched[2]!.exemplar.value) >= 1.2, 'the held connection shows its hold time');
  const [fast] = matched;
  t.diagnostic(`prometheus exemplar: ${JSON.stringify({ seriesLabels: fast!.series, ...fast!.exemplar })}`);
  t.diagnostic(
    `received span: ${JSON.stringify({ name: fast!.span.name, traceId: fast!.span.traceId, spanId: fast!.span.spanId, seconds: seconds(fast!.span) })}`,
  );

  // Every exemplar Prometheus holds names a sock span the receiver got (the readiness probe's too).
  const sockSpans = new Map(receiver.spans.filter((s) => s.name === 'sock').map((s) => [s.spanId, s]));
  for (const { exemplar } of await exemplarsOf(prom)) {
    assert.equal(sockSpans.get(exemplar.labels.span_id ?? '')?.traceId, exemplar.labels.trace_id, JSON.stringify(exemplar));
  }

  // The scrape was OpenMetrics (only it has canonical `le="1.0"`), healthy, without errors.
  await waitForQuery(prom, `${HISTOGRAM}{job="tcp-echo",le="1.0"}`, { timeoutMs: DEADLINE_MS });
  const { activeTargets } = await prom.api<{ activeTargets: Array<{ health: string; lastError: string }> }>('/api/v1/targets');
  assert.deepEqual(
    activeTargets.map((target) => [target.health, target.lastError]),
    [['up', '']],
  );
  assert.doesNotMatch(prom.log(), /level=(warn|error).*(scrape|parse|exemplar)/i);

  // The body itself, as Prometheus asks for it.
  const response = await fetch(`${service.monitorUrl}/metrics`, {
    headers: { accept: 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1' },
  });
  assert.equal(response.headers.get('content-type'), 'application/openmetrics-text; version=1.0.0; charset=utf-8');
  const check = checkOpenMetrics(await response.text());
  assert.deepEqual(check.problems, []);
  assert.ok(check.samples.some((s) => s.exemplar?.labels.span_id === matched[2]!.span.spanId));
});
