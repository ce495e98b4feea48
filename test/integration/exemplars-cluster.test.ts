/**
 * Exemplars in cluster mode (`tcp-echo.workers: 2`): the workers hold the connections and keep the
 * exemplars; their metric answers carry them to the primary, whose OpenMetrics `/metrics` shows
 * them merged (latest per bucket). The primary holds no connection, so every exemplar there came
 * from a worker: it must name a `sock` span a worker exported.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect, ping, randomData, serverClosed, waitFor } from '../helpers/echo-client.js';
import { checkOpenMetrics, type OpenMetricsSample } from '../helpers/openmetrics-grammar.js';
import { startOtlpReceiver } from '../helpers/otlp-receiver.js';
import { startService } from '../helpers/service.js';

const OPENMETRICS = 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5';

test('cluster: the primary serves the workers\' exemplars, each naming a sock span a worker exported', { timeout: 120_000 }, async (t) => {
  const receiver = await startOtlpReceiver();
  t.after(() => receiver.close());
  const service = await startService({
    components: (c) => {
      c['tcp-echo']!.workers = 2;
      c.tracer = { endpoint: receiver.url };
    },
    env: { OTEL_SDK_DISABLED: 'false', OTEL_BSP_SCHEDULE_DELAY: '100' },
  });
  t.after(() => service.stop());

  const exemplars = async (): Promise<OpenMetricsSample[]> => {
    const response = await fetch(`${service.monitorUrl}/metrics`, { headers: { accept: OPENMETRICS } });
    const check = checkOpenMetrics(await response.text());
    assert.deepEqual(check.problems, []);
    return check.samples.filter((s) => s.name === 'tcp_echo_connection_duration_seconds_bucket' && s.exemplar !== undefined);
  };
  const sockets = await Promise.all(Array.from({ length: 16 }, () => connect(service.echoPort)));
  // A reset after the echo (the peer closes first) is no failure here; unhandled it would be one.
  for (const socket of sockets) socket.on('error', () => {});
  for (const socket of sockets) await ping(socket, randomData(32));
  for (const socket of sockets) socket.end();
  await Promise.all(sockets.map((s) => serverClosed(s)));
  await receiver.waitFor((all) => all.filter((s) => s.name === 'sock').length >= 16, 30_000);

  let found: OpenMetricsSample[] = [];
  assert.ok(await waitFor(async () => (found = await exemplars()).length > 0, 30_000), 'exemplars reach the primary');
  // startService's readiness probe is a connection too, so more sock spans exist than the 16 waited
  // for above; an exemplar may name the one still in a worker's export queue. Wait for what it names.
  const named = (spans: readonly { name: string; spanId: string }[]): boolean =>
    found.every((sample) => spans.some((s) => s.name === 'sock' && s.spanId === sample.exemplar!.labels.span_id));
  await receiver.waitFor(named, 30_000).catch(() => undefined);
  const socks = new Map(receiver.spans.filter((s) => s.name === 'sock').map((s) => [s.spanId, s]));
  for (const sample of found) {
    const span = socks.get(sample.exemplar!.labels.span_id ?? '');
    assert.ok(span, `exemplar ${JSON.stringify(sample.exemplar)} names a received sock span`);
    assert.equal(span.traceId, sample.exemplar!.labels.trace_id);
    assert.notEqual(span.resource['process.pid'], service.pid, 'recorded by a worker, not the primary');
  }
});
