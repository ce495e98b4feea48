import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { validate } from '../../../src/config/schema.js';
import { ConfigValueError } from '../../../src/errors.js';
import { NOOP_CONNECTION_TRACER } from '../../../src/telemetry/connection-trace.js';
import { SPAN_METRICS, TracerComponent } from '../../../src/telemetry/tracer-component.js';
import { tracerSchema } from '../../../src/telemetry/tracing/settings.js';
import { startOtlpReceiver } from '../../helpers/otlp-receiver.js';

class TestReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const AT = { file: 'static_config.yaml', keyPath: 'components_manager.components.tracer' };
const CONTEXT = { configFile: 'static_config.yaml' };

async function counterValues(reader: TestReader): Promise<Record<string, { value: number; description: string }>> {
  const { resourceMetrics } = await reader.collect();
  const out: Record<string, { value: number; description: string }> = {};
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      out[metric.descriptor.name] = {
        value: Number(metric.dataPoints[0]?.value ?? NaN),
        description: metric.descriptor.description,
      };
    }
  }
  return out;
}

describe('TracerComponent', () => {
  it('registers the span counters with descriptions and reports exports through them', async () => {
    const receiver = await startOtlpReceiver();
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    const tracer = new TracerComponent(validate(tracerSchema, { endpoint: receiver.url }, AT), CONTEXT, provider.getMeter('tcp-echo'), {});
    await tracer.start();
    assert.notEqual(tracer.connections, NOOP_CONNECTION_TRACER);
    tracer.connections
      .start({ fd: 3, number: 1, peerAddress: '127.0.0.1', peerPort: 1, localAddress: '127.0.0.1', localPort: 2, networkType: 'ipv4' }, silentLogger())
      .end({ reason: 'eof', bytesRead: 0, bytesWritten: 0 });
    await tracer.stop();
    await tracer.stop();
    const values = await counterValues(reader);
    assert.deepEqual(values[SPAN_METRICS.exported]?.value, 1);
    assert.deepEqual(values[SPAN_METRICS.dropped]?.value, 0);
    assert.match(values[SPAN_METRICS.exported]!.description, /delivered/);
    assert.match(values[SPAN_METRICS.dropped]!.description, /lost/);
    assert.equal(receiver.spans.length, 1);
    await provider.shutdown();
    await receiver.close();
  });

  it('is the no-op tracer with enabled: false or OTEL_SDK_DISABLED=true, and its counters still exist', async () => {
    for (const [section, env] of [
      [{ enabled: false }, {}],
      [{}, { OTEL_SDK_DISABLED: 'true' }],
    ] as const) {
      const reader = new TestReader();
      const provider = new MeterProvider({ readers: [reader] });
      const tracer = new TracerComponent(validate(tracerSchema, section, AT), CONTEXT, provider.getMeter('tcp-echo'), env);
      assert.equal(tracer.connections, NOOP_CONNECTION_TRACER);
      await tracer.start();
      await tracer.stop();
      const values = await counterValues(reader);
      assert.equal(values[SPAN_METRICS.exported]?.value, 0);
      await provider.shutdown();
    }
  });

  it('rejects a bad endpoint at construction with the file and key path', () => {
    assert.throws(
      () => new TracerComponent(validate(tracerSchema, { endpoint: 'localhost:4318' }, AT), CONTEXT, undefined, {}),
      (e: unknown) =>
        e instanceof ConfigValueError &&
        e.message.startsWith('static_config.yaml: components_manager.components.tracer.endpoint: "localhost:4318" is not an http(s) URL'),
    );
  });
});

function silentLogger() {
  const noop = () => {};
  const logger = {
    trace: noop,
    debug: noop,
    info: noop,
    warning: noop,
    error: noop,
    critical: noop,
    child: () => logger,
    bind: () => logger,
    isEnabled: () => false,
    line: noop,
  };
  return logger;
}
