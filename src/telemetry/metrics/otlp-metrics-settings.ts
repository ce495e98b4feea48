/**
 * The metrics export keys of the `statistics-storage` section and how they combine with the
 * standard variables (OTEL_METRICS_EXPORTER, OTEL_METRIC_EXPORT_INTERVAL / _TIMEOUT,
 * OTEL_EXPORTER_OTLP_(METRICS_)ENDPOINT / _PROTOCOL, OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE)
 * into the settings of the OTLP push. Environment variables win over the file, as for traces.
 * Pure, so the precedence is unit-tested without a process.
 */
import type { ConfigLocation } from '../../errors.js';
import { duration, string } from '../../config/schema.js';
import { otlpSignalUrl } from '../otlp/signal-url.js';
import { DEFAULT_OTLP_PROTOCOL, OTLP_PROTOCOLS, resolveOtlpProtocol, type OtlpProtocol } from '../otlp/protocol.js';
import { redacted, type Env } from '../tracing/settings.js';

/** The spec's default of OTEL_METRIC_EXPORT_TIMEOUT. */
const DEFAULT_EXPORT_TIMEOUT_MS = 30_000;

/** The values `exporter` and OTEL_METRICS_EXPORTER take. */
export const METRICS_EXPORTERS = ['prometheus', 'otlp', 'prometheus,otlp', 'none'] as const;
/** The values `temporality` and OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE take. */
export const TEMPORALITIES = ['cumulative', 'delta', 'lowmemory'] as const;
/** An aggregation temporality preference, as the spec names it. */
export type Temporality = (typeof TEMPORALITIES)[number];

/** Properties added to the `statistics-storage` schema. */
export const otlpMetricsProperties = {
  exporter: string({
    description:
      'Where metrics go besides the monitor: `prometheus` (only /metrics, scraped), `otlp` (also pushed over OTLP ' +
      'every export-interval), `prometheus,otlp` (the same), `none` (no push). /metrics and /service/monitor are the ' +
      "service's own endpoints and are always served. OTEL_METRICS_EXPORTER wins.",
    enum: [...METRICS_EXPORTERS],
    default: 'prometheus',
  }),
  'otlp-endpoint': string({
    description:
      'OTLP/HTTP endpoint of the push: a base URL (`/v1/metrics` is appended) or a full URL ending in `/v1/metrics`. ' +
      'Empty: OTEL_EXPORTER_OTLP_METRICS_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT, else http://localhost:4318 (those win).',
    default: '',
  }),
  'otlp-protocol': string({
    description:
      'OTLP encoding of the push: `http/protobuf` or `http/json`. OTEL_EXPORTER_OTLP_METRICS_PROTOCOL / ' +
      'OTEL_EXPORTER_OTLP_PROTOCOL win; `grpc` there is refused with a warning (no push then).',
    enum: [...OTLP_PROTOCOLS],
    default: DEFAULT_OTLP_PROTOCOL,
  }),
  'export-interval': duration({
    description: 'Time between two pushes. OTEL_METRIC_EXPORT_INTERVAL (ms) wins.',
    default: '60s',
    minimum: 100,
  }),
  'export-timeout': duration({
    description:
      'Bound on one push, retries included (at most export-interval): a dead or slow endpoint costs one request ' +
      'at a time and is counted in tcp-echo.metrics.exports.failed. OTEL_METRIC_EXPORT_TIMEOUT (ms) wins.',
    default: '30s',
    minimum: 1,
  }),
  temporality: string({
    description:
      'Aggregation temporality of pushed sums and histograms: `cumulative`, `delta` or `lowmemory` (the spec\'s ' +
      'meanings). OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE wins. /metrics is cumulative regardless.',
    enum: [...TEMPORALITIES],
    default: 'cumulative',
  }),
};

/** The validated keys (the section may have others). */
export interface OtlpMetricsConfig {
  readonly exporter: string;
  readonly 'otlp-endpoint': string;
  readonly 'otlp-protocol': string;
  readonly 'export-interval': number;
  readonly 'export-timeout': number;
  readonly temporality: string;
}

/** What the OTLP metrics push is built from; `push: false` means none. */
export type OtlpMetricsSettings =
  | { readonly push: false; readonly warnings: readonly string[] }
  | {
      readonly push: true;
      readonly protocol: OtlpProtocol;
      /** From the config; `undefined`: the exporter reads the OTEL_EXPORTER_OTLP_* endpoint variables. */
      readonly url: string | undefined;
      /** For the start-up line (credentials removed). */
      readonly target: string;
      readonly intervalMs: number;
      readonly timeoutMs: number;
      /** Bound on one request; `undefined` when OTEL_EXPORTER_OTLP_(METRICS_)TIMEOUT is set (the exporter reads it). */
      readonly requestTimeoutMs: number | undefined;
      readonly temporality: Temporality;
      readonly warnings: readonly string[];
    };

/** Combines the section's keys with the environment. Throws ConfigValueError for a bad `otlp-endpoint`. */
export function resolveOtlpMetricsSettings(config: OtlpMetricsConfig, env: Env, at: ConfigLocation): OtlpMetricsSettings {
  const warnings: string[] = [];
  const exporters = exportersFrom(config, env, warnings);
  // OTEL_SDK_DISABLED turns off export to external backends (the monitor endpoints stay).
  if (!exporters.includes('otlp') || exporters.includes('none') || env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') {
    return { push: false, warnings };
  }
  const choice = resolveOtlpProtocol('metrics', config['otlp-protocol'] as OtlpProtocol, env);
  if ('refused' in choice) return { push: false, warnings: [...warnings, choice.refused] };
  const fromConfig = config['otlp-endpoint'] === '' ? undefined : metricsUrl(config['otlp-endpoint'], child(at, 'otlp-endpoint'));
  const envEndpoint = ['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT'].find((n) => nonEmpty(env[n]));
  const url = envEndpoint ? undefined : fromConfig;
  const target = envEndpoint
    ? `${envEndpoint}=${redacted(env[envEndpoint] ?? '')}`
    : fromConfig
      ? redacted(fromConfig)
      : 'http://localhost:4318/v1/metrics (default)';
  const intervalMs = positiveFromEnv(env, 'OTEL_METRIC_EXPORT_INTERVAL', warnings) ?? config['export-interval'];
  const envTimeout = positiveFromEnv(env, 'OTEL_METRIC_EXPORT_TIMEOUT', warnings);
  let timeoutMs = envTimeout ?? config['export-timeout'];
  if (timeoutMs > intervalMs) {
    // The reader requires it: one push never overlaps the next. Said only when a timeout was set
    // (a short interval with the default timeout is the usual case, not a mistake).
    if (envTimeout !== undefined || config['export-timeout'] !== DEFAULT_EXPORT_TIMEOUT_MS) {
      warnings.push(`metrics export timeout ${timeoutMs} ms exceeds the interval ${intervalMs} ms; using ${intervalMs} ms`);
    }
    timeoutMs = intervalMs;
  }
  return {
    push: true,
    protocol: choice.protocol,
    url,
    target,
    intervalMs,
    timeoutMs,
    requestTimeoutMs: ['OTEL_EXPORTER_OTLP_METRICS_TIMEOUT', 'OTEL_EXPORTER_OTLP_TIMEOUT'].some((n) => nonEmpty(env[n]))
      ? undefined
      : timeoutMs,
    temporality: temporalityFrom(config, env, warnings),
    warnings,
  };
}

function exportersFrom(config: OtlpMetricsConfig, env: Env, warnings: string[]): string[] {
  const raw = env.OTEL_METRICS_EXPORTER;
  if (!nonEmpty(raw)) return config.exporter.split(',');
  const names = raw
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
  for (const name of names) {
    if (name !== 'otlp' && name !== 'prometheus' && name !== 'none') {
      warnings.push(`OTEL_METRICS_EXPORTER: '${name}' is not supported (supported: prometheus, otlp, none); ignored`);
    }
  }
  return names;
}

function temporalityFrom(config: OtlpMetricsConfig, env: Env, warnings: string[]): Temporality {
  const name = 'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE';
  const raw = env[name];
  if (!nonEmpty(raw)) return config.temporality as Temporality;
  const value = raw.trim().toLowerCase();
  if ((TEMPORALITIES as readonly string[]).includes(value)) return value as Temporality;
  warnings.push(`${name}=${raw} is not one of cumulative, delta, lowmemory; using ${config.temporality}`);
  return config.temporality as Temporality;
}

/** `http://host:4318` → `http://host:4318/v1/metrics` (see otlpSignalUrl). */
export function metricsUrl(endpoint: string, at: ConfigLocation): string {
  return otlpSignalUrl(endpoint, 'metrics', at);
}

function positiveFromEnv(env: Env, name: string, warnings: string[]): number | undefined {
  const raw = env[name];
  if (!nonEmpty(raw)) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    warnings.push(`${name}=${raw} is not a positive number of milliseconds; ignored`);
    return undefined;
  }
  return n;
}

function child(at: ConfigLocation, key: string): ConfigLocation {
  return { file: at.file, keyPath: at.keyPath ? `${at.keyPath}.${key}` : key };
}

function nonEmpty(value: string | undefined): value is string {
  return value !== undefined && value.trim() !== '';
}
