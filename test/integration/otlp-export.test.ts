/**
 * OTLP export end to end, in both encodings: the real built service, real sockets, and the in-test
 * OTLP/HTTP receiver decoding protobuf (with the OTLP message definitions) and JSON. Spans, the
 * metrics push (values, temporality, resource), `prometheus,otlp` agreeing with /metrics, a dead
 * metrics endpoint, the refused `grpc` protocol and the unsupported-variables warning.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { echoAll } from '../helpers/echo-client.js';
import { metricUntil } from '../helpers/monitor-client.js';
import {
  SPAN_KIND,
  TEMPORALITY,
  otlpReceiverFor,
  type OtlpEncoding,
  type OtlpReceiver,
  type ReceivedMetric,
} from '../helpers/otlp-receiver.js';
import { freePort, startServiceFor } from '../helpers/service.js';

const PROTOCOLS: ReadonlyArray<readonly [string, OtlpEncoding]> = [
  ['http/protobuf', 'protobuf'],
  ['http/json', 'json'],
];

const start = startServiceFor;
const receiver = (t: TestContext): Promise<OtlpReceiver> => otlpReceiverFor(t);

const echo = echoAll;

/** The value of the single point of `name` in the latest request that has it. */
function latest(metrics: readonly ReceivedMetric[], name: string): ReceivedMetric | undefined {
  return metrics.filter((m) => m.name === name).at(-1);
}

function valueOf(metric: ReceivedMetric | undefined): number | undefined {
  return metric?.points.reduce((sum, p) => sum + (p.value ?? 0), 0);
}

describe('OTLP export, both encodings', () => {
  for (const [protocol, encoding] of PROTOCOLS) {
    it(`${protocol}: sock/send spans and the metrics push reach the receiver, with one resource`, { timeout: 90_000 }, async (t) => {
      const r = await receiver(t);
      const service = await start(t, {
        env: {
          OTEL_SDK_DISABLED: 'false',
          OTEL_EXPORTER_OTLP_ENDPOINT: r.url,
          OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
          OTEL_METRICS_EXPORTER: 'otlp',
          OTEL_METRIC_EXPORT_INTERVAL: '300',
          OTEL_BSP_SCHEDULE_DELAY: '50',
          OTEL_SERVICE_NAME: 'otlp-under-test',
          OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test,team=echo',
        },
      });
      const payloads = [Buffer.from('first connection'), Buffer.from('second one'), Buffer.from('third')];
      for (const p of payloads) assert.deepEqual(await echo(service.echoPort, p), p);

      // Spans: the readiness probe's connection has no data; the three test connections carry theirs.
      const spans = await r.waitFor((s) => s.filter((x) => x.name === 'sock' && x.attributes['sock.bytes_read'] !== 0).length >= 3, 30_000);
      const socks = spans.filter((x) => x.name === 'sock' && x.attributes['sock.bytes_read'] !== 0);
      assert.deepEqual(socks.map((s) => s.attributes['sock.bytes_read']).sort(), payloads.map((p) => p.length).sort());
      for (const sock of socks) {
        assert.equal(sock.kind, SPAN_KIND.server);
        assert.equal(typeof sock.attributes.fd, 'number');
        const send = spans.find((x) => x.name === 'send' && x.parentSpanId === sock.spanId);
        assert.ok(send, `a send child of sock ${sock.spanId}`);
        assert.equal(send.traceId, sock.traceId);
      }
      assert.ok(r.encodings('/v1/traces').length > 0 && r.encodings('/v1/traces').every((e) => e === encoding), `traces sent as ${encoding}`);

      // Metrics: the push carries the echo counters with the values /service/monitor shows (4 with the probe).
      const opened = await metricUntil(service, 'tcp-echo.sockets.opened', {}, 'exact', (v) => v >= 4, 30_000);
      await metricUntil(service, 'tcp-echo.sockets.active', {}, 'exact', (v) => v === 0, 30_000);
      const pushed = await r.waitForMetrics(
        (m) => valueOf(latest(m, 'tcp-echo.sockets.opened')) === opened && valueOf(latest(m, 'tcp-echo.sockets.closed')) === opened,
        30_000,
      );
      const openedMetric = latest(pushed, 'tcp-echo.sockets.opened')!;
      assert.equal(openedMetric.kind, 'sum');
      assert.equal(openedMetric.isMonotonic, true);
      assert.equal(openedMetric.temporality, TEMPORALITY.cumulative, 'cumulative by default');
      assert.equal(valueOf(latest(pushed, 'tcp-echo.sockets.active')), 0);
      assert.ok(r.encodings('/v1/metrics').every((e) => e === encoding), `metrics sent as ${encoding}`);

      // One resource for traces, the push and Prometheus target_info.
      for (const resource of [socks[0]!.resource, openedMetric.resource]) {
        assert.equal(resource['service.name'], 'otlp-under-test');
        assert.equal(resource['deployment.environment.name'], 'test');
        assert.equal(resource.team, 'echo');
      }
      assert.deepEqual(openedMetric.resource, socks[0]!.resource, 'spans and metrics carry the same resource');
      const text = await (await fetch(`${service.monitorUrl}/metrics`)).text();
      const info = /^target_info\{([^}]*)\} 1$/m.exec(text);
      assert.ok(info, `target_info in /metrics:\n${text.slice(0, 500)}`);
      assert.match(info[1]!, /(^|,)service_name="otlp-under-test"/);
      assert.match(info[1]!, /(^|,)team="echo"/);
      assert.match(info[1]!, /(^|,)deployment_environment_name="test"/);
      // The exporters found every answer of the receiver well-formed (a push may still time out
      // on a busy machine: that is counted, not asserted on).
      assert.doesNotMatch(service.stderr(), /could not deserialize/);
    });
  }
});

describe('OTLP metrics push', () => {
  it('prometheus,otlp: the push and /metrics give equal values; the delta preference is honoured', { timeout: 90_000 }, async (t) => {
    const r = await receiver(t);
    const service = await start(t, {
      env: {
        OTEL_SDK_DISABLED: 'false',
        OTEL_TRACES_EXPORTER: 'none',
        OTEL_METRICS_EXPORTER: 'prometheus,otlp',
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: r.metricsUrl,
        OTEL_METRIC_EXPORT_INTERVAL: '300',
      },
    });
    for (let i = 0; i < 5; i++) await echo(service.echoPort, Buffer.from(`connection ${i}`));
    await metricUntil(service, 'tcp-echo.sockets.active', {}, 'exact', (v) => v === 0, 30_000);
    const text = await (await fetch(`${service.monitorUrl}/metrics`)).text();
    const scraped = Number(/^tcp_echo_sockets_opened_total(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1]);
    assert.ok(scraped >= 6, `opened in /metrics: ${scraped}`);
    const pushed = await r.waitForMetrics((m) => valueOf(latest(m, 'tcp-echo.sockets.opened')) === scraped, 30_000);
    assert.equal(valueOf(latest(pushed, 'tcp-echo.sockets.opened')), scraped);
    assert.equal(valueOf(latest(pushed, 'tcp-echo.sockets.closed')), scraped);
    await service.stop();

    // Delta: each push counts only what happened since the previous one, so once the connections
    // are over, a push that had counted them is followed by pushes of 0 (cumulative would repeat the total).
    const d = await receiver(t);
    const deltaService = await start(t, {
      env: {
        OTEL_SDK_DISABLED: 'false',
        OTEL_TRACES_EXPORTER: 'none',
        OTEL_METRICS_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: d.metricsUrl,
        OTEL_METRIC_EXPORT_INTERVAL: '500',
        OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta',
      },
    });
    for (let i = 0; i < 3; i++) await echo(deltaService.echoPort, Buffer.from(`delta ${i}`));
    await metricUntil(deltaService, 'tcp-echo.sockets.active', {}, 'exact', (v) => v === 0, 30_000);
    const deltas = await d.waitForMetrics((m) => {
      const opened = m.filter((x) => x.name === 'tcp-echo.sockets.opened');
      const counted = opened.findIndex((x) => (valueOf(x) ?? 0) > 0);
      return counted >= 0 && opened.slice(counted + 1).some((x) => valueOf(x) === 0);
    }, 30_000);
    const opened = deltas.filter((x) => x.name === 'tcp-echo.sockets.opened');
    assert.ok(opened.every((x) => x.temporality === TEMPORALITY.delta), 'every push is delta');
    const total = opened.reduce((sum, x) => sum + (valueOf(x) ?? 0), 0);
    assert.ok(total >= 1 && total <= 4, `the deltas add up to at most the connections made (4 with the probe): ${total}`);
  });

  it('a dead metrics endpoint changes nothing for echo clients, and the failed pushes are counted', { timeout: 90_000 }, async (t) => {
    const deadPort = await freePort(); // nothing listens there
    const service = await start(t, {
      env: {
        OTEL_SDK_DISABLED: 'false',
        OTEL_TRACES_EXPORTER: 'none',
        OTEL_METRICS_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `http://127.0.0.1:${deadPort}/v1/metrics`,
        OTEL_METRIC_EXPORT_INTERVAL: '200',
        OTEL_METRIC_EXPORT_TIMEOUT: '150',
      },
    });
    const failed = await metricUntil(service, 'tcp-echo.metrics.exports.failed', {}, 'exact', (v) => v >= 3, 30_000);
    assert.ok(failed >= 3, `failed pushes counted: ${failed}`);
    for (let i = 0; i < 20; i++) {
      const payload = Buffer.from(`client ${i} `.repeat(50));
      assert.deepEqual(await echo(service.echoPort, payload), payload);
    }
    assert.equal((await fetch(`${service.monitorUrl}/ping`)).status, 200);
    assert.equal(await service.stop(), 0, 'exits cleanly with the endpoint still dead');
  });
});

describe('refused and unsupported settings are said once at start', () => {
  it('grpc is refused with one warning per signal and nothing is sent as HTTP instead', { timeout: 60_000 }, async (t) => {
    const r = await receiver(t);
    const service = await start(t, {
      env: {
        OTEL_SDK_DISABLED: 'false',
        OTEL_EXPORTER_OTLP_ENDPOINT: r.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_METRICS_EXPORTER: 'otlp',
        OTEL_METRIC_EXPORT_INTERVAL: '200',
        OTEL_BSP_SCHEDULE_DELAY: '50',
      },
    });
    await echo(service.echoPort, Buffer.from('hello'));
    const warnings = (): string[] => service.stderr().split('\n').filter((l) => l.includes('OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported'));
    const deadline = Date.now() + 10_000;
    while (warnings().length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(warnings().length, 2, `one warning for traces, one for metrics:\n${service.stderr()}`);
    assert.ok(warnings().some((l) => l.includes('traces are not exported')));
    assert.ok(warnings().some((l) => l.includes('metrics are not exported')));
    // Give a wrongly enabled exporter time to send, then check nothing came.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(r.requests(), 0, 'no request was sent in another protocol');
  });

  it('each unsupported variable that is set is named in the one start-up warning', { timeout: 60_000 }, async (t) => {
    const unsupported = {
      OTEL_PROPAGATORS: 'b3',
      OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '5',
      OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '10',
      OTEL_METRICS_EXEMPLAR_FILTER: 'always_on',
      OTEL_EXPORTER_PROMETHEUS_PORT: '9464',
      OTEL_EXPORTER_ZIPKIN_ENDPOINT: 'http://zipkin:9411',
      OTEL_EXPORTER_OTLP_INSECURE: 'true',
      OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: 'base2_exponential_bucket_histogram',
      OTEL_LOGS_EXPORTER: 'otlp',
    };
    const service = await start(t, { env: { ...unsupported, OTEL_SERVICE_NAME: 'supported-one' } });
    // Logged during start; the log sink may write it a moment after readiness.
    const deadline = Date.now() + 10_000;
    while (!service.stderr().includes('set but not supported') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const lines = service.stderr().split('\n').filter((l) => l.includes('set but not supported'));
    assert.equal(lines.length, 1, `one warning:\n${service.stderr()}`);
    assert.match(lines[0]!, /level=WARNING/);
    for (const name of Object.keys(unsupported)) assert.ok(lines[0]!.includes(name), `${name} named in: ${lines[0]}`);
    assert.ok(!lines[0]!.includes('OTEL_SERVICE_NAME'), 'a supported variable is not named');

    const quiet = await start(t, { env: { OTEL_LOGS_EXPORTER: 'none', OTEL_SERVICE_NAME: 'x' } });
    assert.ok(!quiet.stderr().includes('set but not supported'), 'nothing to warn about: no warning');
  });
});
