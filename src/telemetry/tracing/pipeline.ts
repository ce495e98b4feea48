/**
 * Builds the tracing pipeline from TracingSettings: resource, sampler, span processors (OTLP/HTTP
 * through a bounded batch queue, and/or the userver-style span log), the tracer provider, and the
 * global registrations (tracer provider, W3C propagators).
 *
 * No context manager is registered, on purpose: every one for Node is AsyncLocalStorage, and once
 * anything calls `context.with` (the SDK does, around every batch export) Node runs an async-hook
 * callback for each async resource created from then on: every accepted socket and every write
 * request of the echo, i.e. JavaScript per chunk. Our spans get their parents explicitly, so
 * nothing here needs an active context.
 *
 * Explicit providers rather than NodeSDK (`@opentelemetry/sdk-node` is not a dependency), because
 * NodeSDK:
 * - registers an AsyncLocalStorage context manager on start (the async-hook cost above) unless
 *   handed a no-op one, and depends on `@opentelemetry/context-async-hooks` for it;
 * - switches on OTLP *logs* and *metrics* exporters by default (unless OTEL_LOGS_EXPORTER /
 *   OTEL_METRICS_EXPORTER=none), which would export to a collector nobody configured and register
 *   a second global MeterProvider beside statistics-storage's;
 * - points OTEL_LOG_LEVEL's diagnostics at the console (stdout), where ours go to our log;
 * - depends on, and loads at import, every exporter (gRPC with protobufjs, logs, Zipkin): the
 *   production install goes from ~14 packages to ~70 and start-up takes ~130 ms more;
 * - wraps exporters in its own processors: no place for our bounded queue that counts queue-full
 *   and failed-export drops, nor for our sampler decided at accept and our preset id generator.
 * What tcp-echo implements itself instead: OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES (env
 * resource detector, merged last so it wins), OTEL_EXPORTER_OTLP_* (read by the exporter),
 * OTEL_TRACES_SAMPLER(_ARG) (read once by settings.ts, over the config's sampler-ratio), OTEL_BSP_*
 * (settings.ts), OTEL_SDK_DISABLED and OTEL_LOG_LEVEL (tracer component).
 */
import { propagation, trace, type Tracer } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace';
import type { Logger } from '../../log/logger.js';
import { serviceResource, settleResource } from '../resource.js';
import { OtelConnectionTracer, PresetIdGenerator } from './otel-connection-tracer.js';
import { buildSampler } from './sampler.js';
import { CountingSpanExporter, QueueBoundSpanProcessor, SpanCounters } from './span-counters.js';
import type { SpanSender } from './connection-span-exporter.js';
import { createOtlpSpanExporter } from './span-exporter-factory.js';
import { SpanLogProcessor } from './span-log-processor.js';
import type { TracingSettings } from './settings.js';

/** The instrumentation scope our spans carry. */
export const TRACER_NAME = 'tcp-echo';

/** How a shutdown went. */
export interface ShutdownResult {
  /** False when the flush was cut off by the timeout (spans still queued or in flight are lost). */
  readonly flushed: boolean;
  /** Connection spans the tracer had to end itself (the echo component had not). */
  readonly endedOpen: number;
  readonly elapsedMs: number;
  /** Why the final flush failed (collector down, 5xx), when it did within the timeout. */
  readonly error?: string;
}

/** A built pipeline: the connection tracer and the means to flush and stop it. */
export class TracingPipeline {
  readonly connections: OtelConnectionTracer;
  readonly tracer: Tracer;
  readonly resource: Resource;
  /** Which HTTP client carries the OTLP exports; undefined without OTLP export. */
  sender: SpanSender | undefined;
  private readonly provider: TracerProvider;
  private registered = false;
  private shutdownPromise: Promise<ShutdownResult> | undefined;

  constructor(
    private readonly settings: TracingSettings,
    spanLogger: Logger,
    readonly counters: SpanCounters,
  ) {
    this.resource = serviceResource(settings.serviceName);
    const processors: SpanProcessor[] = [];
    if (settings.otlp.kind !== 'none') processors.push(this.otlpProcessor());
    if (settings.logSpans) processors.push(new SpanLogProcessor(spanLogger, counters));
    // Built here (not left to TracerProvider) because the connection tracer decides sampling
    // at accept with the very same sampler the SDK uses when the spans are built at close.
    const sampler = buildSampler(settings.sampler);
    const ids = new PresetIdGenerator();
    this.provider = new TracerProvider({
      resource: this.resource,
      spanProcessors: processors,
      sampler,
      idGenerator: ids,
    });
    this.tracer = this.provider.getTracer(TRACER_NAME);
    // Connection spans go straight to these processors, with the provider's resource and the
    // scope getTracer(TRACER_NAME) gives (see otel-connection-tracer.ts, "Speed").
    const sink = { resource: this.resource, scope: { name: TRACER_NAME, version: undefined, schemaUrl: undefined }, processors };
    this.connections = new OtelConnectionTracer(this.tracer, sampler, ids, settings.neverSample ? 'never' : settings.alwaysSample ? 'always' : 'ask', sink);
  }

  private otlpProcessor(): SpanProcessor {
    const { otlp } = this.settings;
    const otlpExporter = createOtlpSpanExporter({
      protocol: this.settings.protocol,
      ...(otlp.kind === 'config' ? { url: otlp.url } : {}),
      ...(this.settings.otlpTimeoutMs === undefined ? {} : { timeoutMillis: this.settings.otlpTimeoutMs }),
    });
    this.sender = otlpExporter.sender;
    const exporter = new CountingSpanExporter(otlpExporter, this.counters);
    const batch = new BatchSpanProcessor({
      exporter,
      maxQueueSize: this.settings.maxQueueSize,
      maxExportBatchSize: this.settings.maxExportBatchSize,
      scheduledDelayMillis: this.settings.scheduleDelayMs,
      exportTimeoutMillis: this.settings.exportTimeoutMs,
    });
    return new QueueBoundSpanProcessor(batch, exporter, this.settings.maxQueueSize, this.counters);
  }

  /**
   * Registers the provider and propagators globally (for any code using the
   * OpenTelemetry API), and waits, bounded, for async resource attributes (host.id reads a file)
   * so that exports never wait for them.
   */
  async start(resourceTimeoutMs = 1000): Promise<void> {
    if (!this.registered) {
      this.registered = true;
      trace.setGlobalTracerProvider(this.provider);
      propagation.setGlobalPropagator(
        new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
      );
    }
    await settleResource(this.resource, resourceTimeoutMs);
  }

  /**
   * Ends the connection spans still open (reason `shutdown`), then flushes and shuts the provider
   * down within `timeoutMs`. Never rejects; safe to call twice (the second call gets the first result).
   */
  shutdown(timeoutMs: number): Promise<ShutdownResult> {
    this.shutdownPromise ??= this.doShutdown(timeoutMs);
    return this.shutdownPromise;
  }

  private async doShutdown(timeoutMs: number): Promise<ShutdownResult> {
    const started = Date.now();
    const endedOpen = this.connections.endAll();
    // The final flush's failure is not routed to diag by the batch processor (only timer-driven
    // exports are), so it is returned for the component to log; its spans are already counted.
    const outcome = await withTimeout(
      this.provider.shutdown().then(
        () => ({ error: undefined }),
        (error: unknown) => ({ error: describe(error) }),
      ),
      timeoutMs,
    );
    if (this.registered) {
      trace.disable();
      propagation.disable();
    }
    return {
      flushed: outcome !== undefined,
      endedOpen,
      elapsedMs: Date.now() - started,
      ...(outcome?.error === undefined ? {} : { error: outcome.error }),
    };
  }
}

function describe(error: unknown): string {
  const first = Array.isArray(error) ? error[0] : error;
  if (first instanceof Error) {
    const code = (first as NodeJS.ErrnoException).code;
    return code ? `${first.message} (${code})` : first.message;
  }
  return String(first);
}

/** Resolves with the promise's value, or `undefined` after `ms` (the timer never holds the process). */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise<T | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      () => {
        clearTimeout(timer);
        resolve(undefined);
      },
    );
  });
}

export { SpanCounters };
