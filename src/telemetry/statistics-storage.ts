/**
 * `statistics-storage` (userver's component of that name): the service's ONE OpenTelemetry
 * MeterProvider, with two pull readers on it — the Prometheus exporter (its own HTTP server off;
 * our monitor listener serves its text at `/metrics`) and a snapshot reader behind the userver
 * JSON/pretty/graphite views — and, when OTEL_METRICS_EXPORTER (or the section's `exporter`) asks
 * for `otlp`, a periodic OTLP push reader (metrics/otlp-metrics-export.ts). The resource is the
 * tracer's (resource.ts), so traces, the push and Prometheus `target_info` agree. The monitor
 * views work the same with `OTEL_SDK_DISABLED=true`: that variable turns off export to external
 * backends (the push), not the service's own monitor.
 */
import cluster from 'node:cluster';
import type { Meter } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { Resource } from '@opentelemetry/resources';
import { MeterProvider, type MetricReader, type ResourceMetrics, type ScopeMetrics } from '@opentelemetry/sdk-metrics';
import { defineComponent, type Component } from '../components/component.js';
import { object } from '../config/schema.js';
import type { EchoStats } from '../echo/stats.js';
import { getLogger, getLogStats } from '../log/index.js';
import { renderPrometheus } from '../monitor/formats/prometheus.js';
import type { MetricsFilter } from '../monitor/formats/filter.js';
import { ResetBaseline } from './metrics/baseline.js';
import { registerEchoInstruments } from './metrics/echo-instruments.js';
import { mergeScopeMetrics } from './metrics/merge.js';
import { createOtlpMetricsPush, registerMetricsExportCounters, type OtlpMetricsPush } from './metrics/otlp-metrics-export.js';
import { otlpMetricsProperties, resolveOtlpMetricsSettings, type OtlpMetricsSettings } from './metrics/otlp-metrics-settings.js';
import { unsupportedVariablesWarning } from './otel-env.js';
import { DEFAULT_SERVICE_NAME, serviceNameFromStaticConfig, serviceResource, settleResource } from './resource.js';
import { gaugeMergeOf, registerRuntimeInstruments, type LogCounters } from './metrics/runtime-instruments.js';
import { SnapshotReader } from './metrics/snapshot-reader.js';
import { toSnapshot, type MetricsSnapshot } from './metrics/snapshot.js';

/** Bound on flushing the readers at shutdown; both are pull readers, so this is only a safety net. */
const SHUTDOWN_TIMEOUT_MS = 2000;

/**
 * Where the metrics of other processes come from (cluster mode): called once per collection with
 * nothing, resolves with their collections (each a `ScopeMetrics[]` of the same instruments),
 * bounded in time by the source itself.
 */
export type RemoteMetricsSource = () => Promise<ReadonlyArray<readonly ScopeMetrics[]>>;

/** Bound on waiting for the resource's async attributes (host.id) at start. */
const RESOURCE_TIMEOUT_MS = 1000;

/** Options of a StatisticsStorage. */
export interface StatisticsStorageOptions {
  /** `service.name` of the resource (the tracer's `service-name`); OTEL_SERVICE_NAME wins. @default `tcp-echo` */
  readonly serviceName?: string;
  /** The logger's counters, exposed as `logger.lines.*`. */
  readonly logCounters?: () => LogCounters;
  /** The OTLP push, resolved from the section and the environment. @default no push */
  readonly otlpMetrics?: OtlpMetricsSettings;
}

/** The service's one MeterProvider and the views over it. */
export class StatisticsStorage implements Component {
  /** The Meter other components register their (observable) instruments on. */
  readonly meter: Meter;
  /** The resource every metric carries (also `target_info`). */
  readonly resource: Resource;
  readonly #provider: MeterProvider;
  readonly #push: OtlpMetricsPush | undefined;
  readonly #otlpMetrics: OtlpMetricsSettings | undefined;
  readonly #prometheus: PrometheusExporter;
  readonly #snapshots: SnapshotReader;
  readonly #baseline = new ResetBaseline();
  readonly #disposers: Array<() => void> = [];
  #remote: RemoteMetricsSource | undefined;
  /** The collection in flight in cluster mode: concurrent requests share one IPC round. */
  #merging: Promise<ResourceMetrics> | undefined;
  #stopped: Promise<void> | undefined;

  constructor(options: StatisticsStorageOptions = {}) {
    this.resource = serviceResource(options.serviceName ?? DEFAULT_SERVICE_NAME);
    this.#prometheus = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true });
    this.#snapshots = new SnapshotReader();
    this.#otlpMetrics = options.otlpMetrics;
    this.#push = options.otlpMetrics?.push ? createOtlpMetricsPush(options.otlpMetrics) : undefined;
    const readers: MetricReader[] = [this.#prometheus, this.#snapshots];
    if (this.#push) readers.push(this.#push.reader);
    this.#provider = new MeterProvider({ resource: this.resource, readers });
    this.meter = this.#provider.getMeter('tcp-echo');
    this.#disposers.push(registerRuntimeInstruments(this.meter, options.logCounters));
    if (this.#push) registerMetricsExportCounters(this.meter, this.#push.counters);
  }

  /** Settles the resource (bounded) and logs how metrics are exported. */
  async start(): Promise<void> {
    await settleResource(this.resource, RESOURCE_TIMEOUT_MS);
    const log = getLogger('statistics-storage');
    // Once per service: echo workers (cluster mode) read the same environment.
    const unsupported = cluster.isWorker ? undefined : unsupportedVariablesWarning(process.env);
    if (unsupported !== undefined) log.warning(unsupported);
    const settings = this.#otlpMetrics;
    if (!settings) return;
    for (const warning of settings.warnings) log.warning(`metrics: ${warning}`);
    if (settings.push) {
      log.info('metrics push on', {
        otlp: settings.target,
        protocol: settings.protocol,
        interval_ms: settings.intervalMs,
        timeout_ms: settings.timeoutMs,
        temporality: settings.temporality,
      });
    }
  }

  /** Unregisters every instrument callback and shuts the provider down (bounded). Safe to call twice. */
  stop(): Promise<void> {
    this.#stopped ??= this.#shutdown();
    return this.#stopped;
  }

  async #shutdown(): Promise<void> {
    // The push's final export happens in the provider's shutdown, while the callbacks still answer.
    try {
      await this.#provider.shutdown({ timeoutMillis: SHUTDOWN_TIMEOUT_MS });
    } catch (error) {
      getLogger('statistics-storage').warning('meter provider shutdown failed', { error: String(error) });
    }
    for (const dispose of this.#disposers.splice(0)) dispose();
    const push = this.#push?.counters;
    if (push && push.failed > 0) {
      getLogger('statistics-storage').warning(`${push.failed} OTLP metric pushes failed: ${push.lastError ?? ''}`, {
        succeeded: push.succeeded,
      });
    }
  }

  /** Exposes the echo counters as the `tcp-echo.*` metrics (observable: read at collection time). */
  registerEchoStats(stats: EchoStats): void {
    this.#disposers.push(registerEchoInstruments(this.meter, stats));
  }

  /**
   * Cluster mode (primary): every view (JSON, Prometheus, reset) from now on shows this process's
   * metrics merged with those `source` collects from the workers. Without it (one process) the
   * views read this process's readers directly, as before.
   */
  setRemoteSource(source: RemoteMetricsSource): void {
    this.#remote = source;
  }

  /**
   * This process's own metrics, collected now (a worker hands them to the primary). Plain data:
   * it crosses the cluster IPC channel as it is.
   */
  async collectLocal(): Promise<ScopeMetrics[]> {
    const { resourceMetrics, errors } = await this.#prometheus.collect();
    if (errors.length > 0) getLogger('statistics-storage').warning('metric collection errors', { error: String(errors[0]) });
    return resourceMetrics.scopeMetrics;
  }

  /** Every metric now, as the JSON view shows it: RATE and HIST_RATE counted since the last reset. */
  async snapshot(): Promise<MetricsSnapshot> {
    if (this.#remote) return this.#baseline.apply(toSnapshot(await this.#collectMerged(), Date.now()));
    return this.#baseline.apply(await this.#snapshots.snapshot());
  }

  /**
   * userver's `reset_metrics`: the JSON view's RATE and HIST_RATE metrics start again from zero.
   * Done with a baseline in the view, so the instruments and Prometheus' counters stay monotonic;
   * GAUGE metrics describe current state (open sockets, RSS) and are not reset.
   */
  async resetMetrics(): Promise<void> {
    if (this.#remote) this.#baseline.capture(toSnapshot(await this.#collectMerged(), Date.now()));
    else this.#baseline.capture(await this.#snapshots.snapshot());
  }

  /** The Prometheus text exposition of every metric (never offset by resets), optionally filtered. */
  async prometheusText(filter?: MetricsFilter): Promise<string> {
    if (this.#remote) return renderPrometheus(await this.#collectMerged(), filter);
    const { resourceMetrics, errors } = await this.#prometheus.collect();
    if (errors.length > 0) getLogger('statistics-storage').warning('metric collection errors', { error: String(errors[0]) });
    return renderPrometheus(resourceMetrics, filter);
  }

  /**
   * Own metrics merged with the workers' (counters summed, histograms bucket-wise, gauges by
   * `gaugeMergeOf`), under this process's resource. Requests that arrive while one is in flight
   * share it, so the workers are asked once.
   */
  #collectMerged(): Promise<ResourceMetrics> {
    this.#merging ??= this.#merge().finally(() => (this.#merging = undefined));
    return this.#merging;
  }

  async #merge(): Promise<ResourceMetrics> {
    const remote = this.#remote as RemoteMetricsSource;
    // The workers first: some of this process's instruments describe them (per-worker gauges).
    const others = await remote();
    const own = await this.#prometheus.collect();
    if (own.errors.length > 0) getLogger('statistics-storage').warning('metric collection errors', { error: String(own.errors[0]) });
    let mismatched: string | undefined;
    const scopeMetrics = mergeScopeMetrics([own.resourceMetrics.scopeMetrics, ...others], {
      gaugeMerge: gaugeMergeOf,
      onMismatch: (name) => (mismatched ??= name),
    });
    if (mismatched !== undefined) {
      getLogger('statistics-storage').warning('histogram bounds differ between processes; some points left out', { metric: mismatched });
    }
    return { resource: own.resourceMetrics.resource, scopeMetrics };
  }
}

/**
 * The logger's counters as `logger.lines.*`: lines produced per level (written, or still queued),
 * and lines dropped because the sink could not keep up.
 */
function logCountersFromRegistry(): LogCounters {
  const stats = getLogStats();
  return { written: stats.byLevel, dropped: stats.dropped };
}

/** The `statistics-storage` component: loaded by default; its keys configure the OTLP push. */
export const statisticsStorageComponent = defineComponent({
  name: 'statistics-storage',
  loadByDefault: true,
  schema: object({
    description:
      'The one OpenTelemetry MeterProvider of the service; its metrics are served by handler-server-monitor ' +
      '(userver JSON, pretty, graphite) and at /metrics (Prometheus), and pushed over OTLP when asked. ' +
      'Standard OTEL_* environment variables win over these keys.',
    properties: { ...otlpMetricsProperties },
  }),
  create: (config, context) =>
    new StatisticsStorage({
      logCounters: logCountersFromRegistry,
      serviceName: serviceNameFromStaticConfig(context.staticConfig),
      otlpMetrics: resolveOtlpMetricsSettings(config, process.env, {
        file: context.configFile,
        keyPath: 'components_manager.components.statistics-storage',
      }),
    }),
});
