/**
 * The `tracer` section's schema and how it combines with the standard `OTEL_*` environment
 * variables into the settings the tracer is built from. Environment variables win over the file
 * (the OpenTelemetry spec makes them the operator's override); this module is pure so the
 * precedence rules are unit-tested without a process.
 */
import type { ConfigLocation } from '../../errors.js';
import { boolean, duration, integer, number, object, string, type Infer } from '../../config/schema.js';
import { otlpSignalUrl } from '../otlp/signal-url.js';
import { DEFAULT_OTLP_PROTOCOL, OTLP_PROTOCOLS, resolveOtlpProtocol, type OtlpProtocol } from '../otlp/protocol.js';
import { alwaysSamples, neverSamples, ratioChoice, samplerChoiceFromEnv, type SamplerChoice } from './sampler.js';

/** The OTLP exporter's own default request timeout (OTEL_EXPORTER_OTLP_TIMEOUT). */
const DEFAULT_OTLP_TIMEOUT_MS = 10_000;
const MIN_OTLP_TIMEOUT_MS = 1000;

/** Schema of `components_manager.components.tracer`. */
export const tracerSchema = object({
  description:
    'Tracing: a `sock` span per accepted connection with a `send` child, exported over OTLP/HTTP and/or ' +
    'written to the service log. Standard OTEL_* environment variables win over these keys.',
  properties: {
    enabled: boolean({
      description: 'Record spans at all. false (or OTEL_SDK_DISABLED=true) makes tracing a no-op; metrics are unaffected.',
      default: true,
    }),
    'service-name': string({
      description: 'The resource attribute service.name. OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES) wins.',
      default: 'tcp-echo',
    }),
    endpoint: string({
      description:
        'OTLP/HTTP endpoint: a base URL (`http://jaeger:4318`, `/v1/traces` is appended) or a full traces URL ' +
        'ending in `/v1/traces`. Empty: no OTLP export unless OTEL_EXPORTER_OTLP_ENDPOINT / ' +
        'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (those win).',
      default: '',
    }),
    protocol: string({
      description:
        'OTLP encoding of exported spans: `http/protobuf` or `http/json`. OTEL_EXPORTER_OTLP_TRACES_PROTOCOL / ' +
        'OTEL_EXPORTER_OTLP_PROTOCOL win; `grpc` there is refused with a warning (spans are then not exported over OTLP).',
      enum: [...OTLP_PROTOCOLS],
      default: DEFAULT_OTLP_PROTOCOL,
    }),
    'sampler-ratio': number({
      description:
        'Fraction of connections traced (parent-based trace-id ratio). OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG win.',
      default: 1,
      minimum: 0,
      maximum: 1,
    }),
    'log-spans': string({
      description:
        'Write finished spans to the service log the way userver does (stopwatch_name, total_time, start_timestamp, ' +
        'trace_id, span_id, parent_id, tags) at level info. `auto`: only when no OTLP endpoint is configured anywhere, ' +
        'so spans are visible without a collector; `always`: also alongside OTLP; `never`: not at all.',
      enum: ['auto', 'always', 'never'],
      default: 'auto',
    }),
    'max-queue-size': integer({
      description: 'Finished spans waiting for export; beyond it spans are dropped and counted. OTEL_BSP_MAX_QUEUE_SIZE wins.',
      default: 2048,
      minimum: 1,
      maximum: 1_000_000,
    }),
    'max-export-batch-size': integer({
      description: 'Spans per OTLP request (at most max-queue-size). OTEL_BSP_MAX_EXPORT_BATCH_SIZE wins.',
      default: 512,
      minimum: 1,
      maximum: 1_000_000,
    }),
    'schedule-delay': duration({
      description: 'Longest a finished span waits before its batch is sent. OTEL_BSP_SCHEDULE_DELAY (ms) wins.',
      default: '5s',
      minimum: 0,
    }),
    'export-timeout': duration({
      description: 'Bound on one batch export, retries included. OTEL_BSP_EXPORT_TIMEOUT (ms) wins.',
      default: '30s',
      minimum: 1,
    }),
    'flush-timeout': duration({
      description:
        'Bound on the final flush at shutdown; spans still unsent after it are lost and the service exits anyway. ' +
        'Also caps each OTLP request, retries included, at min(10s, this), at least 1s (unless OTEL_EXPORTER_OTLP_TIMEOUT is set).',
      default: '5s',
      minimum: 0,
    }),
  },
});

/** The validated `tracer` section. */
export type TracerConfig = Infer<typeof tracerSchema>;

/** Environment variables as `process.env` holds them. */
export type Env = Readonly<Record<string, string | undefined>>;

/** Where OTLP spans go. */
export type OtlpTarget =
  /** No OTLP export. */
  | { readonly kind: 'none' }
  /** The exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT itself (or its default localhost:4318). */
  | { readonly kind: 'env'; readonly description: string }
  /** A URL from the config file. */
  | { readonly kind: 'config'; readonly url: string };

/** Everything the tracer is built from, after config and environment are combined. */
export interface TracingSettings {
  /** False: no provider at all; connections get the no-op tracer. */
  readonly enabled: boolean;
  /** Why tracing is off, for the start-up log line. */
  readonly disabledBy?: 'OTEL_SDK_DISABLED' | 'config';
  /** service.name from the config; the env detector overrides it later when OTEL_SERVICE_NAME is set. */
  readonly serviceName: string;
  readonly otlp: OtlpTarget;
  /** The OTLP encoding (meaningful when `otlp` is not `none`). */
  readonly protocol: OtlpProtocol;
  readonly logSpans: boolean;
  /** A ratio from the config; `undefined` when OTEL_TRACES_SAMPLER decides. */
  readonly samplerRatio: number | undefined;
  /** The sampler: from OTEL_TRACES_SAMPLER(_ARG) when set, else from `sampler-ratio` (read once, here). */
  readonly sampler: SamplerChoice;
  /**
   * True when no connection can be sampled: ratio 0 from the config, or OTEL_TRACES_SAMPLER
   * `always_off`, `parentbased_always_off`, or `(parentbased_)traceidratio` with OTEL_TRACES_SAMPLER_ARG=0
   * (connection spans are always roots, so parent-based samplers decide by their root sampler).
   * The connection tracer then skips the SDK altogether.
   */
  readonly neverSample: boolean;
  /** True when every connection is sampled (an always-on root): the tracer then does not ask the sampler. */
  readonly alwaysSample: boolean;
  readonly maxQueueSize: number;
  readonly maxExportBatchSize: number;
  readonly scheduleDelayMs: number;
  readonly exportTimeoutMs: number;
  readonly flushTimeoutMs: number;
  /**
   * Bound on one OTLP request including its retries: min(10 s, flush-timeout), at least 1 s, so a
   * shutdown never waits for a request longer than the flush bound and leaves no retry timer
   * behind. `undefined` when OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT is set (the exporter reads it).
   */
  readonly otlpTimeoutMs: number | undefined;
  /** Problems with environment values (ignored values); logged at warning by the component. */
  readonly warnings: readonly string[];
}

/**
 * Combines the validated section with the environment. Throws ConfigValueError (naming the file
 * and `components_manager.components.tracer.endpoint`) for an endpoint that is not an http(s) URL.
 */
export function resolveTracingSettings(config: TracerConfig, env: Env, at: ConfigLocation): TracingSettings {
  const warnings: string[] = [];
  const otlpFromConfig = config.endpoint === '' ? undefined : tracesUrl(config.endpoint, child(at, 'endpoint'));
  let otlp = resolveOtlpTarget(otlpFromConfig, env, warnings);
  const protocolChoice = resolveOtlpProtocol('traces', config.protocol as OtlpProtocol, env);
  if ('refused' in protocolChoice && otlp.kind !== 'none') {
    warnings.push(protocolChoice.refused);
    otlp = { kind: 'none' };
  }
  const exporters = listFromEnv(env, 'OTEL_TRACES_EXPORTER');
  const consoleRequested = exporters?.includes('console') ?? false;
  const logSpans =
    config['log-spans'] === 'always' || consoleRequested || (config['log-spans'] === 'auto' && otlp.kind === 'none');

  const maxQueueSize = positiveIntFromEnv(env, 'OTEL_BSP_MAX_QUEUE_SIZE', warnings) ?? config['max-queue-size'];
  let maxExportBatchSize =
    positiveIntFromEnv(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', warnings) ?? config['max-export-batch-size'];
  if (maxExportBatchSize > maxQueueSize) {
    warnings.push(
      `max export batch size ${maxExportBatchSize} exceeds max queue size ${maxQueueSize}; using ${maxQueueSize}`,
    );
    maxExportBatchSize = maxQueueSize;
  }
  const disabledBySdk = isTrue(env.OTEL_SDK_DISABLED);
  const fromEnv = nonEmpty(env.OTEL_TRACES_SAMPLER);
  const sampler = fromEnv ? samplerChoiceFromEnv(env, warnings) : ratioChoice(config['sampler-ratio']);
  return {
    enabled: config.enabled && !disabledBySdk,
    ...(disabledBySdk ? { disabledBy: 'OTEL_SDK_DISABLED' as const } : config.enabled ? {} : { disabledBy: 'config' as const }),
    serviceName: config['service-name'],
    otlp,
    protocol: 'protocol' in protocolChoice ? protocolChoice.protocol : DEFAULT_OTLP_PROTOCOL,
    logSpans,
    samplerRatio: fromEnv ? undefined : config['sampler-ratio'],
    sampler,
    neverSample: neverSamples(sampler),
    alwaysSample: alwaysSamples(sampler),
    maxQueueSize,
    maxExportBatchSize,
    scheduleDelayMs: nonNegativeFromEnv(env, 'OTEL_BSP_SCHEDULE_DELAY', warnings) ?? config['schedule-delay'],
    exportTimeoutMs: positiveIntFromEnv(env, 'OTEL_BSP_EXPORT_TIMEOUT', warnings) ?? config['export-timeout'],
    flushTimeoutMs: config['flush-timeout'],
    otlpTimeoutMs:
      nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT) || nonEmpty(env.OTEL_EXPORTER_OTLP_TIMEOUT)
        ? undefined
        : Math.max(MIN_OTLP_TIMEOUT_MS, Math.min(DEFAULT_OTLP_TIMEOUT_MS, config['flush-timeout'])),
    warnings,
  };
}

function resolveOtlpTarget(fromConfig: string | undefined, env: Env, warnings: string[]): OtlpTarget {
  const exporters = listFromEnv(env, 'OTEL_TRACES_EXPORTER');
  if (exporters?.includes('none')) return { kind: 'none' };
  for (const name of exporters ?? []) {
    if (name !== 'otlp' && name !== 'console') {
      warnings.push(`OTEL_TRACES_EXPORTER: '${name}' is not supported (supported: otlp, console, none); ignored`);
    }
  }
  const envEndpoint = nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
    ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'
    : nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT)
      ? 'OTEL_EXPORTER_OTLP_ENDPOINT'
      : undefined;
  // The exporter applies the spec's rules to these variables itself (signal path appended to the
  // generic endpoint only); passing no URL is what lets them win over the config file.
  if (envEndpoint) return { kind: 'env', description: `${envEndpoint}=${redacted(env[envEndpoint] ?? '')}` };
  if (fromConfig !== undefined) return { kind: 'config', url: fromConfig };
  // OTEL_TRACES_EXPORTER=otlp without an endpoint asks for the spec's default, localhost:4318.
  if (exporters?.includes('otlp')) return { kind: 'env', description: 'OTEL_TRACES_EXPORTER=otlp (default endpoint)' };
  return { kind: 'none' };
}

/** `http://host:4318` → `http://host:4318/v1/traces` (see otlpSignalUrl). */
export function tracesUrl(endpoint: string, at: ConfigLocation): string {
  return otlpSignalUrl(endpoint, 'traces', at);
}

/** The URL without user:password, for log lines. */
export function redacted(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.username && !parsed.password) return url;
    parsed.username = '';
    parsed.password = '';
    return parsed.href;
  } catch {
    return url;
  }
}

function child(at: ConfigLocation, key: string): ConfigLocation {
  return { file: at.file, keyPath: at.keyPath ? `${at.keyPath}.${key}` : key };
}

function nonEmpty(value: string | undefined): value is string {
  return value !== undefined && value.trim() !== '';
}

function isTrue(value: string | undefined): boolean {
  return value?.trim().toLowerCase() === 'true';
}

function listFromEnv(env: Env, name: string): string[] | undefined {
  const raw = env[name];
  if (!nonEmpty(raw)) return undefined;
  return raw
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
}

function positiveIntFromEnv(env: Env, name: string, warnings: string[]): number | undefined {
  const n = numberFromEnv(env, name, warnings);
  if (n === undefined) return undefined;
  if (!Number.isInteger(n) || n < 1) {
    warnings.push(`${name}=${env[name]} is not a positive integer; ignored`);
    return undefined;
  }
  return n;
}

function nonNegativeFromEnv(env: Env, name: string, warnings: string[]): number | undefined {
  const n = numberFromEnv(env, name, warnings);
  if (n === undefined) return undefined;
  if (n < 0) {
    warnings.push(`${name}=${env[name]} is negative; ignored`);
    return undefined;
  }
  return n;
}

function numberFromEnv(env: Env, name: string, warnings: string[]): number | undefined {
  const raw = env[name];
  if (!nonEmpty(raw)) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n)) {
    warnings.push(`${name}=${raw} is not a number; ignored`);
    return undefined;
  }
  return n;
}
