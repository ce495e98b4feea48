import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validate } from '../../../src/config/schema.js';
import { ConfigValueError, ConfigUnknownKeyError } from '../../../src/errors.js';
import {
  redacted,
  resolveTracingSettings,
  tracerSchema,
  tracesUrl,
  type Env,
  type TracerConfig,
} from '../../../src/telemetry/tracing/settings.js';

const AT = { file: 'static_config.yaml', keyPath: 'components_manager.components.tracer' };

function config(section: Record<string, unknown> = {}): TracerConfig {
  return validate(tracerSchema, section, AT);
}

function resolve(section: Record<string, unknown> = {}, env: Env = {}) {
  return resolveTracingSettings(config(section), env, AT);
}

describe('tracer section schema', () => {
  it('has documented defaults', () => {
    assert.deepEqual(config(), {
      enabled: true,
      'service-name': 'tcp-echo',
      endpoint: '',
      protocol: 'http/protobuf',
      'sampler-ratio': 1,
      'log-spans': 'auto',
      'max-queue-size': 2048,
      'max-export-batch-size': 512,
      'schedule-delay': 5000,
      'export-timeout': 30000,
      'flush-timeout': 5000,
    });
  });

  it('rejects a ratio above 1 naming the key path', () => {
    assert.throws(
      () => config({ 'sampler-ratio': 1.5 }),
      (e: unknown) =>
        e instanceof ConfigValueError && e.message.startsWith('static_config.yaml: components_manager.components.tracer.sampler-ratio: 1.5'),
    );
  });

  it('rejects an unknown log-spans mode and an unknown key with suggestions', () => {
    assert.throws(() => config({ 'log-spans': 'allways' }), /did you mean 'always'/);
    assert.throws(() => config({ endpiont: 'x' }), (e: unknown) => e instanceof ConfigUnknownKeyError && /did you mean 'endpoint'/.test(e.message));
  });
});

describe('tracesUrl', () => {
  it('appends /v1/traces to a base URL and keeps a full traces URL', () => {
    assert.equal(tracesUrl('http://jaeger:4318', AT), 'http://jaeger:4318/v1/traces');
    assert.equal(tracesUrl('http://jaeger:4318/', AT), 'http://jaeger:4318/v1/traces');
    assert.equal(tracesUrl('https://c.example/otlp', AT), 'https://c.example/otlp/v1/traces');
    assert.equal(tracesUrl('http://127.0.0.1:4318/v1/traces', AT), 'http://127.0.0.1:4318/v1/traces');
  });

  it('redacts credentials in endpoint URLs for the log', () => {
    assert.equal(redacted('https://user:pw@collector:4318/v1/traces'), 'https://collector:4318/v1/traces');
    assert.equal(redacted('http://collector:4318'), 'http://collector:4318');
    const s = resolve({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://u:secret@c:4318' });
    assert.equal(s.otlp.kind, 'env');
    assert.doesNotMatch(s.otlp.kind === 'env' ? s.otlp.description : '', /secret/);
  });

  it('rejects non-URLs and non-http schemes with the key path and value', () => {
    assert.throws(
      () => resolve({ endpoint: 'jaeger:4318x' }),
      (e: unknown) => e instanceof ConfigValueError && /tracer\.endpoint: "jaeger:4318x" is not an http\(s\) URL/.test(e.message),
    );
    assert.throws(
      () => resolve({ endpoint: 'not a url' }),
      (e: unknown) => e instanceof ConfigValueError && /tracer\.endpoint: "not a url" is not a URL/.test(e.message),
    );
  });
});

describe('resolveTracingSettings', () => {
  it('logs spans and exports nothing when no endpoint is configured anywhere', () => {
    const s = resolve();
    assert.deepEqual(s.otlp, { kind: 'none' });
    assert.equal(s.logSpans, true);
    assert.equal(s.enabled, true);
    assert.equal(s.samplerRatio, 1);
  });

  it('exports to the config endpoint and stops logging spans (auto)', () => {
    const s = resolve({ endpoint: 'http://127.0.0.1:4318' });
    assert.deepEqual(s.otlp, { kind: 'config', url: 'http://127.0.0.1:4318/v1/traces' });
    assert.equal(s.logSpans, false);
  });

  it('lets OTEL_EXPORTER_OTLP_ENDPOINT and _TRACES_ENDPOINT win over the config endpoint', () => {
    const generic = resolve({ endpoint: 'http://file:4318' }, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:4318' });
    assert.equal(generic.otlp.kind, 'env');
    const specific = resolve({}, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://env:4318/v1/traces' });
    assert.equal(specific.otlp.kind, 'env');
    assert.equal(specific.logSpans, false);
  });

  it('log-spans always/never override auto', () => {
    assert.equal(resolve({ endpoint: 'http://x:1', 'log-spans': 'always' }).logSpans, true);
    assert.equal(resolve({ 'log-spans': 'never' }).logSpans, false);
  });

  it('OTEL_TRACES_EXPORTER: none turns OTLP off, console turns the span log on, otlp uses the default endpoint', () => {
    assert.deepEqual(resolve({ endpoint: 'http://x:1' }, { OTEL_TRACES_EXPORTER: 'none' }).otlp, { kind: 'none' });
    assert.equal(resolve({ endpoint: 'http://x:1' }, { OTEL_TRACES_EXPORTER: 'otlp,console' }).logSpans, true);
    assert.equal(resolve({}, { OTEL_TRACES_EXPORTER: 'otlp' }).otlp.kind, 'env');
    const unknown = resolve({}, { OTEL_TRACES_EXPORTER: 'zipkin' });
    assert.match(unknown.warnings.join('\n'), /'zipkin' is not supported/);
  });

  it('OTEL_SDK_DISABLED=true or enabled: false turn tracing off', () => {
    assert.equal(resolve({}, { OTEL_SDK_DISABLED: 'TRUE' }).enabled, false);
    assert.equal(resolve({}, { OTEL_SDK_DISABLED: 'true' }).disabledBy, 'OTEL_SDK_DISABLED');
    assert.equal(resolve({}, { OTEL_SDK_DISABLED: 'false' }).enabled, true);
    assert.equal(resolve({ enabled: false }).disabledBy, 'config');
  });

  it('leaves the sampler to OTEL_TRACES_SAMPLER when it is set', () => {
    assert.equal(resolve({ 'sampler-ratio': 0.25 }).samplerRatio, 0.25);
    assert.equal(resolve({ 'sampler-ratio': 0.25 }, { OTEL_TRACES_SAMPLER: 'traceidratio' }).samplerRatio, undefined);
  });

  it('knows when every connection is sampled (an always-on root), and only then', () => {
    assert.equal(resolve({}).alwaysSample, true, 'the default: parent-based always-on');
    assert.equal(resolve({ 'sampler-ratio': 1 }).alwaysSample, true);
    assert.equal(resolve({ 'sampler-ratio': 0.5 }).alwaysSample, false);
    assert.equal(resolve({}, { OTEL_TRACES_SAMPLER: 'always_on' }).alwaysSample, true);
    assert.equal(resolve({}, { OTEL_TRACES_SAMPLER: 'parentbased_always_on' }).alwaysSample, true);
    assert.equal(resolve({}, { OTEL_TRACES_SAMPLER: 'always_off' }).alwaysSample, false);
    // The SDK's ratio sampler still compares each trace id with its bound, even at 1: it is asked.
    assert.equal(resolve({}, { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1' }).alwaysSample, false);
  });

  it('knows when no connection can ever be sampled', () => {
    assert.equal(resolve({ 'sampler-ratio': 0 }).neverSample, true);
    assert.equal(resolve({ 'sampler-ratio': 0.001 }).neverSample, false);
    assert.equal(resolve({}, { OTEL_TRACES_SAMPLER: 'always_off' }).neverSample, true);
    assert.equal(resolve({}, { OTEL_TRACES_SAMPLER: 'parentbased_always_off' }).neverSample, true);
    assert.equal(resolve({}, { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' }).neverSample, true);
    assert.equal(resolve({}, { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.0' }).neverSample, true);
    assert.equal(resolve({}, { OTEL_TRACES_SAMPLER: 'traceidratio' }).neverSample, false, 'a missing arg means 1');
    assert.equal(resolve({ 'sampler-ratio': 0 }, { OTEL_TRACES_SAMPLER: 'always_on' }).neverSample, false, 'env wins');
  });

  it('OTEL_BSP_* win over the file; bad values are ignored with a warning', () => {
    const s = resolve(
      { 'max-queue-size': 100, 'schedule-delay': '2s' },
      { OTEL_BSP_MAX_QUEUE_SIZE: '10', OTEL_BSP_SCHEDULE_DELAY: '50', OTEL_BSP_EXPORT_TIMEOUT: 'soon' },
    );
    assert.equal(s.maxQueueSize, 10);
    assert.equal(s.maxExportBatchSize, 10, 'batch size is capped at the queue size');
    assert.equal(s.scheduleDelayMs, 50);
    assert.equal(s.exportTimeoutMs, 30_000);
    assert.match(s.warnings.join('\n'), /OTEL_BSP_EXPORT_TIMEOUT=soon is not a number/);
    assert.match(s.warnings.join('\n'), /exceeds max queue size/);
  });

  it('caps the OTLP request timeout by the flush timeout unless OTEL_EXPORTER_OTLP_TIMEOUT is set', () => {
    assert.equal(resolve().otlpTimeoutMs, 5000);
    assert.equal(resolve({ 'flush-timeout': '30s' }).otlpTimeoutMs, 10_000);
    assert.equal(resolve({ 'flush-timeout': 0 }).otlpTimeoutMs, 1000);
    assert.equal(resolve({}, { OTEL_EXPORTER_OTLP_TIMEOUT: '20000' }).otlpTimeoutMs, undefined);
    assert.equal(resolve({}, { OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '20000' }).otlpTimeoutMs, undefined);
  });
});
