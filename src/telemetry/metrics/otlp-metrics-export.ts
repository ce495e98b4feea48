/**
 * The OTLP metrics push: a PeriodicExportingMetricReader for the service's MeterProvider (so the
 * push carries the same instruments, resource and values as /metrics), with an OTLP/HTTP exporter
 * in the configured encoding and temporality, and counters of how the pushes went. Whoever builds
 * the MeterProvider adds `reader` to its readers and registers the counters on its Meter.
 *
 * A dead, slow or failing endpoint costs a bounded amount: one push per interval, each cut off
 * after the export timeout (the exporter's request timeout, retries included, is the same bound),
 * its data dropped and counted in `tcp-echo.metrics.exports.failed`.
 */
import type { Meter, ObservableResult } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { AggregationTemporalityPreference, OTLPMetricExporter as OtlpJsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as OtlpProtobufMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import {
  PeriodicExportingMetricReader,
  type AggregationOption,
  type AggregationTemporality,
  type InstrumentType,
  type MetricReader,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import type { OtlpMetricsSettings, Temporality } from './otlp-metrics-settings.js';

/** Metric names of the push counters (Prometheus: `tcp_echo_metrics_exports_succeeded_total`, ...). */
export const METRICS_EXPORT_METRICS = {
  succeeded: 'tcp-echo.metrics.exports.succeeded',
  failed: 'tcp-echo.metrics.exports.failed',
} as const;

const PREFERENCE: Record<Temporality, AggregationTemporalityPreference> = {
  cumulative: AggregationTemporalityPreference.CUMULATIVE,
  delta: AggregationTemporalityPreference.DELTA,
  lowmemory: AggregationTemporalityPreference.LOWMEMORY,
};

/** How the pushes went (plain fields, read at collection time). */
export class MetricsExportCounters {
  succeeded = 0;
  failed = 0;
  /** The latest failure, for the shutdown log line. */
  lastError: string | undefined;
}

/** A built push: the reader to add to the MeterProvider and its counters. */
export interface OtlpMetricsPush {
  readonly reader: MetricReader;
  readonly counters: MetricsExportCounters;
}

/** Builds the push for `settings` (which must have `push: true`). */
export function createOtlpMetricsPush(settings: Extract<OtlpMetricsSettings, { push: true }>): OtlpMetricsPush {
  const counters = new MetricsExportCounters();
  const options = {
    ...(settings.url === undefined ? {} : { url: settings.url }),
    ...(settings.requestTimeoutMs === undefined ? {} : { timeoutMillis: settings.requestTimeoutMs }),
    temporalityPreference: PREFERENCE[settings.temporality],
  };
  const exporter =
    settings.protocol === 'http/json' ? new OtlpJsonMetricExporter(options) : new OtlpProtobufMetricExporter(options);
  const reader = new PeriodicExportingMetricReader({
    exporter: new CountingMetricExporter(exporter, counters),
    exportIntervalMillis: settings.intervalMs,
    exportTimeoutMillis: settings.timeoutMs,
  });
  return { reader, counters };
}

/** Declares the push counters on `meter` (observable: read only at collection time); returns the undo. */
export function registerMetricsExportCounters(meter: Meter, counters: MetricsExportCounters): () => void {
  const succeeded = meter.createObservableCounter(METRICS_EXPORT_METRICS.succeeded, {
    description: 'OTLP metric pushes the endpoint accepted',
  });
  const failed = meter.createObservableCounter(METRICS_EXPORT_METRICS.failed, {
    description: 'OTLP metric pushes lost: the endpoint was unreachable, slow or answered an error',
  });
  const observeSucceeded = (result: ObservableResult): void => result.observe(counters.succeeded);
  const observeFailed = (result: ObservableResult): void => result.observe(counters.failed);
  succeeded.addCallback(observeSucceeded);
  failed.addCallback(observeFailed);
  return () => {
    succeeded.removeCallback(observeSucceeded);
    failed.removeCallback(observeFailed);
  };
}

/** Counts each export's outcome, passing everything through. */
class CountingMetricExporter implements PushMetricExporter {
  constructor(
    private readonly inner: PushMetricExporter,
    private readonly counters: MetricsExportCounters,
  ) {}

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    this.inner.export(metrics, (result) => {
      if (result.code === ExportResultCode.SUCCESS) this.counters.succeeded++;
      else {
        this.counters.failed++;
        this.counters.lastError = result.error?.message ?? 'export failed';
      }
      resultCallback(result);
    });
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  selectAggregationTemporality(instrumentType: InstrumentType): AggregationTemporality {
    return this.inner.selectAggregationTemporality!(instrumentType);
  }

  selectAggregation(instrumentType: InstrumentType): AggregationOption {
    return this.inner.selectAggregation!(instrumentType);
  }
}
