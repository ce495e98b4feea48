/**
 * How the OTLP protocol, the metrics push settings and the unsupported-variables warning are
 * resolved from the config and the OTEL_* environment (env wins; bad values are warned about).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { object, validate } from '../../../src/config/schema.js';
import { ConfigValueError } from '../../../src/errors.js';
import {
  otlpMetricsProperties,
  resolveOtlpMetricsSettings,
  type OtlpMetricsConfig,
} from '../../../src/telemetry/metrics/otlp-metrics-settings.js';
import { OTEL_VARIABLES, unsupportedVariablesWarning } from '../../../src/telemetry/otel-env.js';
import { resolveOtlpProtocol } from '../../../src/telemetry/otlp/protocol.js';
import { resolveTracingSettings, tracerSchema } from '../../../src/telemetry/tracing/settings.js';

const AT = { file: 'static_config.yaml', keyPath: 'components_manager.components.statistics-storage' };
const schema = object({ description: 'test', properties: { ...otlpMetricsProperties } });
const metrics = (section: Record<string, unknown>, env: Record<string, string> = {}) =>
  resolveOtlpMetricsSettings(validate(schema, section, AT) as OtlpMetricsConfig, env, AT);

describe('OTLP protocol', () => {
  it('signal variable > generic variable > config > http/protobuf', () => {
    assert.deepEqual(resolveOtlpProtocol('traces', undefined, {}), { protocol: 'http/protobuf', source: 'default' });
    assert.deepEqual(resolveOtlpProtocol('traces', 'http/json', {}), { protocol: 'http/json', source: 'config' });
    assert.deepEqual(resolveOtlpProtocol('traces', 'http/json', { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }), {
      protocol: 'http/protobuf',
      source: 'OTEL_EXPORTER_OTLP_PROTOCOL',
    });
    assert.deepEqual(
      resolveOtlpProtocol('metrics', undefined, { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json' }),
      { protocol: 'http/json', source: 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL' },
    );
  });

  it('grpc and unknown values are refused, naming the variable and the signal', () => {
    const grpc = resolveOtlpProtocol('traces', undefined, { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc' });
    assert.ok('refused' in grpc && /OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc is not supported.*traces are not exported/.test(grpc.refused));
    const bad = resolveOtlpProtocol('metrics', undefined, { OTEL_EXPORTER_OTLP_PROTOCOL: 'thrift' });
    assert.ok('refused' in bad && bad.refused.includes('OTEL_EXPORTER_OTLP_PROTOCOL=thrift'));
  });

  it('a refused trace protocol turns OTLP span export off with a warning (the span log takes over)', () => {
    const config = validate(tracerSchema, {}, AT);
    const s = resolveTracingSettings(config, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, AT);
    assert.equal(s.otlp.kind, 'none');
    assert.equal(s.logSpans, true);
    assert.ok(s.warnings.some((w) => w.includes('grpc is not supported')));
  });
});

describe('metrics push settings', () => {
  it('default: no push', () => {
    assert.deepEqual(metrics({}), { push: false, warnings: [] });
  });

  it('the config asks for it: 60 s, 30 s, cumulative, http/protobuf, the config URL', () => {
    const s = metrics({ exporter: 'prometheus,otlp', 'otlp-endpoint': 'http://collector:4318' });
    assert.ok(s.push);
    assert.equal(s.url, 'http://collector:4318/v1/metrics');
    assert.equal(s.intervalMs, 60_000);
    assert.equal(s.timeoutMs, 30_000);
    assert.equal(s.requestTimeoutMs, 30_000);
    assert.equal(s.temporality, 'cumulative');
    assert.equal(s.protocol, 'http/protobuf');
  });

  it('the environment wins over the config', () => {
    const s = metrics(
      { exporter: 'none', 'otlp-endpoint': 'http://file:4318', temporality: 'cumulative', 'export-interval': '10s' },
      {
        OTEL_METRICS_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://env:4318/v1/metrics',
        OTEL_METRIC_EXPORT_INTERVAL: '5000',
        OTEL_METRIC_EXPORT_TIMEOUT: '2000',
        OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'DELTA',
        OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
      },
    );
    assert.ok(s.push);
    assert.equal(s.url, undefined, 'the exporter reads the env endpoint itself');
    assert.match(s.target, /^OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http:\/\/env:4318/);
    assert.equal(s.intervalMs, 5000);
    assert.equal(s.timeoutMs, 2000);
    assert.equal(s.requestTimeoutMs, undefined, 'OTEL_EXPORTER_OTLP_TIMEOUT is left to the exporter');
    assert.equal(s.temporality, 'delta');
    assert.equal(s.protocol, 'http/json');
  });

  it('none, OTEL_SDK_DISABLED and a refused protocol mean no push; bad values are warned about', () => {
    assert.equal(metrics({ exporter: 'otlp' }, { OTEL_METRICS_EXPORTER: 'none' }).push, false);
    assert.equal(metrics({ exporter: 'otlp' }, { OTEL_SDK_DISABLED: 'true' }).push, false);
    const grpc = metrics({ exporter: 'otlp' }, { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' });
    assert.equal(grpc.push, false);
    assert.ok(grpc.warnings.some((w) => w.includes('metrics are not exported')));
    const bad = metrics({}, { OTEL_METRICS_EXPORTER: 'otlp,statsd', OTEL_METRIC_EXPORT_INTERVAL: 'soon', OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'sometimes' });
    assert.ok(bad.push);
    assert.equal(bad.intervalMs, 60_000);
    assert.equal(bad.temporality, 'cumulative');
    assert.equal(bad.warnings.length, 3, bad.warnings.join('\n'));
  });

  it('the timeout never exceeds the interval; warned about only when a timeout was set', () => {
    const s = metrics({ exporter: 'otlp', 'export-interval': '1s', 'export-timeout': '5s' });
    assert.ok(s.push);
    assert.equal(s.timeoutMs, 1000);
    assert.equal(s.warnings.length, 1);
    const quiet = metrics({ exporter: 'otlp' }, { OTEL_METRIC_EXPORT_INTERVAL: '300' });
    assert.ok(quiet.push);
    assert.equal(quiet.timeoutMs, 300);
    assert.deepEqual(quiet.warnings, []);
  });

  it('a bad otlp-endpoint is a config error naming the key', () => {
    assert.throws(
      () => metrics({ exporter: 'otlp', 'otlp-endpoint': 'ftp://x' }),
      (e: unknown) => e instanceof ConfigValueError && e.message.includes('components_manager.components.statistics-storage.otlp-endpoint'),
    );
  });
});

describe('unsupported OTEL_* variables', () => {
  it('each one set is named in the one warning; supported ones and empty values are not', () => {
    const unsupported = OTEL_VARIABLES.filter((v) => v.status === 'unsupported').map((v) => v.name);
    assert.ok(unsupported.length >= 10);
    const env = Object.fromEntries(unsupported.map((n) => [n, 'x']));
    const warning = unsupportedVariablesWarning({ ...env, OTEL_SERVICE_NAME: 'a', OTEL_BSP_MAX_QUEUE_SIZE: '5' });
    assert.ok(warning);
    for (const name of unsupported) assert.ok(warning.includes(name), name);
    assert.ok(!warning.includes('OTEL_SERVICE_NAME') && !warning.includes('OTEL_BSP_MAX_QUEUE_SIZE'));
    assert.equal(unsupportedVariablesWarning({ OTEL_PROPAGATORS: ' ', OTEL_LOGS_EXPORTER: 'none', OTEL_SERVICE_NAME: 'a' }), undefined);
  });

  it('the table names every variable once', () => {
    const names = OTEL_VARIABLES.map((v) => v.name);
    assert.equal(new Set(names).size, names.length);
  });
});
