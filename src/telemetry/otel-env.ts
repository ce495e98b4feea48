/**
 * Every SDK environment variable of the OpenTelemetry specification that applies to traces and
 * metrics, and what tcp-echo does with it. The table is the docs' (docs/configuration.md, written
 * by `npm run docs:config`) and the source of the one start-up warning that names the variables
 * set but not supported, so a value nobody reads never passes silently.
 */

/** What tcp-echo does with a variable. */
export interface OtelVariable {
  readonly name: string;
  /** `honoured`: read (by us or the exporter); `unsupported`: set → named in the start-up warning. */
  readonly status: 'honoured' | 'unsupported';
  /** What it does here, or why it is not supported. */
  readonly note: string;
}

const honoured = (name: string, note: string): OtelVariable => ({ name, status: 'honoured', note });
const unsupported = (name: string, note: string): OtelVariable => ({ name, status: 'unsupported', note });

/** Per-signal OTLP exporter variables, both signals (`_TRACES_` / `_METRICS_` win over the generic one). */
function otlpVariables(suffix: string, status: OtelVariable['status'], note: string): OtelVariable[] {
  return ['', 'TRACES_', 'METRICS_'].map((signal) => ({ name: `OTEL_EXPORTER_OTLP_${signal}${suffix}`, status, note }));
}

const SPAN_LIMIT_NOTE = 'spans have a fixed set of about a dozen short attributes and no events or links: nothing to limit';

/** The table, in the specification's order. */
export const OTEL_VARIABLES: readonly OtelVariable[] = [
  honoured('OTEL_SDK_DISABLED', '`true`: no tracing and no metrics push; /metrics and /service/monitor still serve'),
  honoured('OTEL_RESOURCE_ATTRIBUTES', 'resource of spans, the metrics push and Prometheus `target_info`; wins over the config'),
  honoured('OTEL_SERVICE_NAME', '`service.name` of that resource; wins over `tracer.service-name` and OTEL_RESOURCE_ATTRIBUTES'),
  honoured('OTEL_LOG_LEVEL', "the SDK's diagnostics, written to our log (module `opentelemetry`); default warn"),
  unsupported('OTEL_CONFIG_FILE', 'no declarative SDK configuration: the `tracer` and `statistics-storage` sections and these variables'),
  unsupported('OTEL_PROPAGATORS', 'connection spans are roots (TCP carries no trace context): W3C tracecontext and baggage are registered, fixed'),
  honoured('OTEL_TRACES_SAMPLER', 'always_on, always_off, traceidratio and the parentbased_ forms; wins over `tracer.sampler-ratio`'),
  honoured('OTEL_TRACES_SAMPLER_ARG', 'the ratio of the traceidratio samplers'),
  honoured('OTEL_BSP_SCHEDULE_DELAY', 'wins over `tracer.schedule-delay`'),
  honoured('OTEL_BSP_EXPORT_TIMEOUT', 'wins over `tracer.export-timeout`'),
  honoured('OTEL_BSP_MAX_QUEUE_SIZE', 'wins over `tracer.max-queue-size`'),
  honoured('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 'wins over `tracer.max-export-batch-size`'),
  unsupported('OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT', SPAN_LIMIT_NOTE),
  unsupported('OTEL_ATTRIBUTE_COUNT_LIMIT', SPAN_LIMIT_NOTE),
  unsupported('OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT', SPAN_LIMIT_NOTE),
  unsupported('OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT', SPAN_LIMIT_NOTE),
  unsupported('OTEL_SPAN_EVENT_COUNT_LIMIT', SPAN_LIMIT_NOTE),
  unsupported('OTEL_SPAN_LINK_COUNT_LIMIT', SPAN_LIMIT_NOTE),
  unsupported('OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT', SPAN_LIMIT_NOTE),
  unsupported('OTEL_LINK_ATTRIBUTE_COUNT_LIMIT', SPAN_LIMIT_NOTE),
  honoured('OTEL_TRACES_EXPORTER', '`otlp`, `console` (the span log), `none`; other names are warned about'),
  honoured('OTEL_METRICS_EXPORTER', '`prometheus` (default), `otlp` (periodic push), `prometheus,otlp`, `none`; wins over `statistics-storage.exporter`'),
  unsupported('OTEL_LOGS_EXPORTER', 'logs go to the configured log sinks, not over OTLP (ignored when `none`)'),
  honoured('OTEL_METRIC_EXPORT_INTERVAL', 'ms between pushes; wins over `statistics-storage.export-interval`'),
  honoured('OTEL_METRIC_EXPORT_TIMEOUT', 'bound on one push; wins over `statistics-storage.export-timeout`'),
  unsupported('OTEL_METRICS_EXEMPLAR_FILTER', 'fixed at trace_based: the duration histogram keeps exemplars of sampled connections only (OpenMetrics on /metrics)'),
  unsupported('OTEL_EXPORTER_PROMETHEUS_HOST', 'the monitor listener serves /metrics: `server.listener`'),
  unsupported('OTEL_EXPORTER_PROMETHEUS_PORT', 'the monitor listener serves /metrics: `server.listener`'),
  unsupported('OTEL_EXPORTER_ZIPKIN_ENDPOINT', 'no Zipkin exporter: export over OTLP'),
  unsupported('OTEL_EXPORTER_ZIPKIN_TIMEOUT', 'no Zipkin exporter: export over OTLP'),
  ...otlpVariables('ENDPOINT', 'honoured', 'OTLP/HTTP endpoint (base URL for the generic one); wins over the config'),
  ...otlpVariables('PROTOCOL', 'honoured', '`http/protobuf` (default) or `http/json`; `grpc` is refused with a warning and that signal is not exported'),
  ...otlpVariables('HEADERS', 'honoured', 'request headers (`k=v,k2=v2`), read by the exporter'),
  ...otlpVariables('COMPRESSION', 'honoured', '`gzip` or `none`, read by the exporter'),
  ...otlpVariables('TIMEOUT', 'honoured', 'bound on one request, retries included, read by the exporter'),
  ...otlpVariables('CERTIFICATE', 'honoured', 'CA file for https endpoints, read by the exporter'),
  ...otlpVariables('CLIENT_KEY', 'honoured', 'client key file (mTLS), read by the exporter'),
  ...otlpVariables('CLIENT_CERTIFICATE', 'honoured', 'client certificate file (mTLS), read by the exporter'),
  ...otlpVariables('INSECURE', 'unsupported', 'gRPC only; over HTTP the URL scheme decides'),
  honoured('OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE', '`cumulative` (default), `delta`, `lowmemory`; wins over `statistics-storage.temporality`'),
  unsupported('OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION', 'histograms keep their explicit userver-style buckets'),
];

/**
 * The one start-up warning for `env`: the unsupported variables that are set (non-empty; for
 * OTEL_LOGS_EXPORTER, other than `none`), or `undefined` when there are none.
 */
export function unsupportedVariablesWarning(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const set = OTEL_VARIABLES.filter((v) => {
    if (v.status !== 'unsupported') return false;
    const value = env[v.name]?.trim();
    if (value === undefined || value === '') return false;
    return !(v.name === 'OTEL_LOGS_EXPORTER' && value.toLowerCase() === 'none');
  }).map((v) => v.name);
  if (set.length === 0) return undefined;
  return `set but not supported, ignored: ${set.join(', ')} (docs/configuration.md lists every OTEL_* variable)`;
}

/** The docs' table (Markdown). */
export function renderOtelVariablesTable(): string {
  const rows = OTEL_VARIABLES.map((v) => `| \`${v.name}\` | ${v.status === 'honoured' ? 'yes' : '**no**: warned at start'} | ${v.note} |`);
  return [
    '## OpenTelemetry environment variables',
    '',
    'Every SDK variable of the OpenTelemetry specification that applies to traces and metrics. Environment',
    'variables win over the config file. A variable marked **no** that is set is named in one warning at start',
    '(`set but not supported, ignored: ...`); a bad value of a supported one is warned about and ignored.',
    '',
    '| variable | supported | what tcp-echo does with it |',
    '|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
