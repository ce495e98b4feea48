/**
 * The `tracer` component (load by default): OpenTelemetry spans per connection, exported over
 * OTLP/HTTP and/or written to the log userver-style, OpenTelemetry's diagnostics routed to our log,
 * and the `tcp-echo.tracing.spans.*` counters. Settings: the `tracer` section, overridden by the
 * standard OTEL_* environment variables (see tracing/settings.ts and tracing/pipeline.ts).
 */
import { DiagLogLevel, type Meter } from '@opentelemetry/api';
import { defineComponent, type Component, type ComponentContext } from '../components/component.js';
import { getLogger } from '../log/index.js';
import type { Logger } from '../log/logger.js';
import { NOOP_CONNECTION_TRACER, type ConnectionTracer } from './connection-trace.js';
import type { StatisticsStorage } from './statistics-storage.js';
import { diagLevelFromEnv, installDiagLogger, RateLimitedDiagLogger } from './tracing/diag-logger.js';
import { TracingPipeline } from './tracing/pipeline.js';
import { SpanCounters } from './tracing/span-counters.js';
import { redacted, resolveTracingSettings, tracerSchema, type Env, type TracerConfig, type TracingSettings } from './tracing/settings.js';

/** Metric names of the span counters (Prometheus: `tcp_echo_tracing_spans_exported_total`, `..._dropped_total`). */
export const SPAN_METRICS = {
  exported: 'tcp-echo.tracing.spans.exported',
  dropped: 'tcp-echo.tracing.spans.dropped',
} as const;

/** Tracing for the service. `connections` is the no-op tracer when tracing is off. */
export class TracerComponent implements Component {
  /** Starts one ConnectionTrace per accepted socket. */
  readonly connections: ConnectionTracer;
  /** Span fates, read by the metrics at collection time. */
  readonly counters = new SpanCounters();
  /** The resolved settings (config + environment). */
  readonly settings: TracingSettings;
  private readonly log: Logger;
  private readonly pipeline: TracingPipeline | undefined;
  private readonly removeDiag: () => void;
  private stopPromise: Promise<void> | undefined;

  constructor(config: TracerConfig, context: Pick<ComponentContext, 'configFile'>, meter?: Meter, env: Env = process.env) {
    this.log = getLogger('tracer');
    this.settings = resolveTracingSettings(config, env, {
      file: context.configFile,
      keyPath: 'components_manager.components.tracer',
    });
    const diagLevel = diagLevelFromEnv(env.OTEL_LOG_LEVEL);
    this.removeDiag = installDiagLogger(new RateLimitedDiagLogger(getLogger('opentelemetry')), diagLevel ?? DiagLogLevel.WARN);
    if (diagLevel === undefined) {
      this.log.warning(`OTEL_LOG_LEVEL=${env.OTEL_LOG_LEVEL} is not one of none, error, warn, info, debug, verbose, all; using warn`);
    }
    for (const warning of this.settings.warnings) this.log.warning(`tracer: ${warning}`);
    if (meter) registerCounters(meter, this.counters);
    this.pipeline = this.settings.enabled ? new TracingPipeline(this.settings, getLogger('tracing'), this.counters) : undefined;
    this.connections = this.pipeline?.connections ?? NOOP_CONNECTION_TRACER;
  }

  async start(): Promise<void> {
    const s = this.settings;
    if (!this.pipeline) {
      this.log.info(`tracing is off (${s.disabledBy === 'OTEL_SDK_DISABLED' ? 'OTEL_SDK_DISABLED=true' : 'tracer.enabled: false'})`);
      return;
    }
    await this.pipeline.start();
    const otlp = s.otlp.kind === 'none' ? 'off' : s.otlp.kind === 'config' ? redacted(s.otlp.url) : s.otlp.description;
    this.log.info('tracing on', {
      service_name: String(this.pipeline.resource.attributes['service.name'] ?? s.serviceName),
      otlp,
      ...(s.otlp.kind === 'none' ? {} : { protocol: s.protocol, otlp_sender: this.pipeline.sender ?? 'none' }),
      log_spans: s.logSpans,
      sampler: s.samplerRatio === undefined ? 'OTEL_TRACES_SAMPLER' : `parentbased_traceidratio:${s.samplerRatio}`,
    });
  }

  /** Ends open connection spans, flushes within `flush-timeout`, then detaches from the OpenTelemetry globals. */
  stop(): Promise<void> {
    this.stopPromise ??= this.doStop();
    return this.stopPromise;
  }

  private async doStop(): Promise<void> {
    try {
      if (!this.pipeline) return;
      const timeoutMs = this.settings.flushTimeoutMs;
      const result = await this.pipeline.shutdown(timeoutMs);
      if (result.endedOpen > 0) this.log.info(`ended ${result.endedOpen} open connection spans at shutdown`);
      if (result.error !== undefined) {
        this.log.warning(`final span flush failed: ${result.error}`, { dropped: this.counters.dropped });
      }
      if (!result.flushed) {
        this.log.warning(`span flush did not finish within flush-timeout (${timeoutMs} ms); unsent spans are lost`, {
          exported: this.counters.exported,
          dropped: this.counters.dropped,
        });
      }
    } finally {
      this.removeDiag();
    }
  }
}

function registerCounters(meter: Meter, counters: SpanCounters): void {
  // Observable: the numbers are plain fields bumped per batch, read only at collection time.
  meter
    .createObservableCounter(SPAN_METRICS.exported, {
      description: 'Finished spans delivered: accepted by the OTLP collector or written to the span log',
    })
    .addCallback((result) => result.observe(counters.exported));
  meter
    .createObservableCounter(SPAN_METRICS.dropped, {
      description: 'Finished spans lost: the export queue was full or an export failed',
    })
    .addCallback((result) => result.observe(counters.dropped));
}

export const tracerComponent = defineComponent({
  name: 'tracer',
  loadByDefault: true,
  schema: tracerSchema,
  create: (config, context) =>
    new TracerComponent(config, context, context.findOptional<StatisticsStorage>('statistics-storage')?.meter),
});
