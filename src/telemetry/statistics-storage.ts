/**
 * `statistics-storage` (userver's component of that name): the service's ONE OpenTelemetry
 * MeterProvider, with two pull readers on it — the Prometheus exporter (its own HTTP server off;
 * our monitor listener serves its text at `/metrics`) and a snapshot reader behind the userver
 * JSON/pretty/graphite views. It works the same with `OTEL_SDK_DISABLED=true`: that variable turns
 * off export to external backends, not the service's own monitor.
 */
import type { Meter } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, type ResourceMetrics, type ScopeMetrics } from '@opentelemetry/sdk-metrics';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { defineComponent, type Component } from '../components/component.js';
import { object } from '../config/schema.js';
import type { EchoStats } from '../echo/stats.js';
import { getLogger, getLogStats } from '../log/index.js';
import { renderPrometheus } from '../monitor/formats/prometheus.js';
import type { MetricsFilter } from '../monitor/formats/filter.js';
import { ResetBaseline } from './metrics/baseline.js';
import { registerEchoInstruments } from './metrics/echo-instruments.js';
import { mergeScopeMetrics } from './metrics/merge.js';
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

/** Options of a StatisticsStorage. */
export interface StatisticsStorageOptions {
  /** `service.name` of the resource. @default process.env.OTEL_SERVICE_NAME, else `tcp-echo` */
  readonly serviceName?: string;
  /** The logger's counters, exposed as `logger.lines.*`. */
  readonly logCounters?: () => LogCounters;
}

/** The service's one MeterProvider and the views over it. */
export class StatisticsStorage implements Component {
  /** The Meter other components register their (observable) instruments on. */
  readonly meter: Meter;
  readonly #provider: MeterProvider;
  readonly #prometheus: PrometheusExporter;
  readonly #snapshots: SnapshotReader;
  readonly #baseline = new ResetBaseline();
  readonly #disposers: Array<() => void> = [];
  #remote: RemoteMetricsSource | undefined;
  /** The collection in flight in cluster mode: concurrent requests share one IPC round. */
  #merging: Promise<ResourceMetrics> | undefined;
  #stopped: Promise<void> | undefined;

  constructor(options: StatisticsStorageOptions = {}) {
    const serviceName = options.serviceName ?? (process.env.OTEL_SERVICE_NAME || 'tcp-echo');
    this.#prometheus = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true });
    this.#snapshots = new SnapshotReader();
    this.#provider = new MeterProvider({
      resource: defaultResource().merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName })),
      readers: [this.#prometheus, this.#snapshots],
    });
    this.meter = this.#provider.getMeter('tcp-echo');
    this.#disposers.push(registerRuntimeInstruments(this.meter, options.logCounters));
  }

  start(): void {}

  /** Unregisters every instrument callback and shuts the provider down (bounded). Safe to call twice. */
  stop(): Promise<void> {
    this.#stopped ??= this.#shutdown();
    return this.#stopped;
  }

  async #shutdown(): Promise<void> {
    for (const dispose of this.#disposers.splice(0)) dispose();
    try {
      await this.#provider.shutdown({ timeoutMillis: SHUTDOWN_TIMEOUT_MS });
    } catch (error) {
      getLogger('statistics-storage').warning('meter provider shutdown failed', { error: String(error) });
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
 * and lines lost: dropped because the sink could not keep up, or failed to write (ENOSPC, EPIPE).
 */
function logCountersFromRegistry(): LogCounters {
  const stats = getLogStats();
  return { written: stats.byLevel, dropped: stats.dropped + stats.failed };
}

/** The `statistics-storage` component: no options; loaded by default. */
export const statisticsStorageComponent = defineComponent({
  name: 'statistics-storage',
  loadByDefault: true,
  schema: object({
    description:
      'The one OpenTelemetry MeterProvider of the service; its metrics are served by handler-server-monitor ' +
      '(userver JSON, pretty, graphite) and at /metrics (Prometheus). Takes no options.',
    properties: {},
  }),
  create: () => new StatisticsStorage({ logCounters: logCountersFromRegistry }),
});
