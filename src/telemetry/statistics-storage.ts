/**
 * `statistics-storage` (userver's component of that name): the service's ONE OpenTelemetry
 * MeterProvider with ONE pull reader. Components declare their own instruments on `meter`; the
 * storage collects (this process, or — in cluster mode — merged with the workers through the
 * collector the cluster supplies), keeps the reset baseline of the userver views, and renders
 * nothing: the monitor handlers format what `collect()` and `snapshot()` return. When
 * OTEL_METRICS_EXPORTER (or the section's `exporter`) asks for `otlp`, a second reader pushes the
 * same instruments over OTLP (metrics/otlp-metrics-export.ts). The resource is the tracer's
 * (resource.ts), so spans, the push and Prometheus `target_info` agree. The monitor views work the
 * same with `OTEL_SDK_DISABLED=true`: that variable turns off export to external backends (the
 * push), not the service's own monitor.
 */
import cluster from 'node:cluster';
import type { Meter } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import { MeterProvider, type MetricReader, type ResourceMetrics, type ScopeMetrics } from '@opentelemetry/sdk-metrics';
import { defineComponent, type Component } from '../components/component.js';
import { object } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import { getLogger } from '../log/index.js';
import { registerLogInstruments } from '../log/log-instruments.js';
import { ResetBaseline } from './metrics/baseline.js';
import { createOtlpMetricsPush, registerMetricsExportCounters, type OtlpMetricsPush } from './metrics/otlp-metrics-export.js';
import { otlpMetricsProperties, resolveOtlpMetricsSettings, type OtlpMetricsSettings } from './metrics/otlp-metrics-settings.js';
import { mergeExemplarsByInstrument, type ExemplarSet, type ExemplarStore } from './metrics/exemplar-store.js';
import { PullReader } from './metrics/pull-reader.js';
import { registerRuntimeInstruments } from './metrics/runtime-instruments.js';
import { toSnapshot, type MetricsSnapshot } from './metrics/snapshot.js';
import { unsupportedVariablesWarning } from './otel-env.js';
import { DEFAULT_SERVICE_NAME, serviceNameFromStaticConfig, serviceResource, settleResource } from './resource.js';

/** Bound on flushing the reader at shutdown; it is a pull reader, so this is only a safety net. */
const SHUTDOWN_TIMEOUT_MS = 2000;

/** Bound on waiting for the resource's async attributes (host.id) at start. */
const RESOURCE_TIMEOUT_MS = 1000;

/**
 * How one collection is made: given this process's own collection, resolves with the service's
 * (cluster mode: merged with the workers', bounded in time by the collector itself). The default
 * is this process alone.
 */
export type MetricsCollector = (collectOwn: () => Promise<ScopeMetrics[]>) => Promise<ScopeMetrics[]>;

/** Options of a StatisticsStorage. */
export interface StatisticsStorageOptions {
  /** `service.name` of the resource (the tracer's `service-name`); OTEL_SERVICE_NAME wins. @default `tcp-echo` */
  readonly serviceName?: string;
  /** The OTLP push, resolved from the section and the environment. @default no push */
  readonly otlpMetrics?: OtlpMetricsSettings;
}

/** The service's one MeterProvider, its one reader, and the reset baseline of the userver views. */
export class StatisticsStorage implements Component {
  /** The Meter every component declares its (observable) instruments on. */
  readonly meter: Meter;
  readonly #resource: Resource;
  readonly #provider: MeterProvider;
  readonly #reader = new PullReader();
  readonly #push: OtlpMetricsPush | undefined;
  readonly #otlpMetrics: OtlpMetricsSettings | undefined;
  readonly #baseline = new ResetBaseline();
  readonly #disposers: Array<() => void> = [];
  /** Exemplar stores by histogram instrument name, registered by the histograms' owners. */
  readonly #exemplars = new Map<string, ExemplarStore>();
  /** Cluster mode: the workers' exemplars, as their latest answers carried them. */
  #remoteExemplars: () => Iterable<Iterable<readonly [string, ExemplarSet]>> = () => [];
  #collector: MetricsCollector = (collectOwn) => collectOwn();
  #stopped: Promise<void> | undefined;

  constructor(options: StatisticsStorageOptions = {}) {
    this.#resource = serviceResource(options.serviceName ?? DEFAULT_SERVICE_NAME);
    this.#otlpMetrics = options.otlpMetrics;
    this.#push = options.otlpMetrics?.push ? createOtlpMetricsPush(options.otlpMetrics) : undefined;
    const readers: MetricReader[] = [this.#reader];
    if (this.#push) readers.push(this.#push.reader);
    this.#provider = new MeterProvider({ resource: this.#resource, readers });
    this.meter = this.#provider.getMeter('tcp-echo');
    this.register(registerRuntimeInstruments);
    const pushCounters = this.#push?.counters;
    if (pushCounters) this.register((meter) => registerMetricsExportCounters(meter, pushCounters));
  }

  /** Settles the resource (bounded) and says how metrics are exported, and which OTEL_* are ignored. */
  async start(): Promise<void> {
    await settleResource(this.#resource, RESOURCE_TIMEOUT_MS);
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

  /**
   * Runs a component's own instrument declaration on the meter (e.g. the echo's
   * `registerEchoInstruments`); the undo it returns runs when the storage stops.
   */
  register(declare: (meter: Meter) => () => void): void {
    this.#disposers.push(declare(this.meter));
  }

  /** Undoes every registration and shuts the provider down (bounded). Safe to call twice. */
  stop(): Promise<void> {
    this.#stopped ??= this.#shutdown();
    return this.#stopped;
  }

  async #shutdown(): Promise<void> {
    // The push's final export happens in the provider's shutdown, while the callbacks still answer.
    try {
      await this.#provider.shutdown({ timeoutMillis: SHUTDOWN_TIMEOUT_MS });
    } catch (error) {
      getLogger('statistics-storage').warning('meter provider shutdown failed', { error: errorMessage(error) });
    }
    for (const dispose of this.#disposers.splice(0)) dispose();
    const push = this.#push?.counters;
    if (push && push.failed > 0) {
      getLogger('statistics-storage').warning(`${push.failed} OTLP metric pushes failed: ${push.lastError ?? ''}`, {
        succeeded: push.succeeded,
      });
    }
  }

  /**
   * Keeps `store` as the exemplars of the histogram `instrumentName`: its owner records into it
   * beside the histogram (OpenTelemetry JS keeps no exemplars), and the OpenMetrics view shows them.
   */
  registerExemplars(instrumentName: string, store: ExemplarStore): void {
    this.#exemplars.set(instrumentName, store);
  }

  /**
   * The histograms' exemplars now, by instrument name (copies): this process's, and in cluster mode
   * the workers' from their latest answers (so read it right after `collect()`), the latest per
   * bucket winning.
   */
  exemplars(): Map<string, ExemplarSet> {
    const own: Array<[string, ExemplarSet]> = [];
    for (const [name, store] of this.#exemplars) own.push([name, store.snapshot()]);
    return mergeExemplarsByInstrument([own, ...this.#remoteExemplars()]);
  }

  /**
   * Cluster mode (primary): every collection from now on goes through `collector`, and
   * `exemplars()` adds what `exemplars` returns (the workers').
   */
  setCollector(collector: MetricsCollector, exemplars?: () => Iterable<Iterable<readonly [string, ExemplarSet]>>): void {
    this.#collector = collector;
    if (exemplars !== undefined) this.#remoteExemplars = exemplars;
  }

  /**
   * Every metric now, never offset by resets (what Prometheus scrapes), under this process's
   * resource. Plain data: a worker's `scopeMetrics` cross the cluster IPC channel as they are.
   */
  async collect(): Promise<ResourceMetrics> {
    return { resource: this.#resource, scopeMetrics: await this.#collector(this.#collectOwn) };
  }

  /** Every metric now, as the userver views show it: RATE and HIST_RATE counted since the last reset. */
  async snapshot(): Promise<MetricsSnapshot> {
    return this.#baseline.apply(toSnapshot(await this.collect(), Date.now()));
  }

  /**
   * userver's `reset_metrics`: the userver views' RATE and HIST_RATE metrics start again from zero.
   * Done with a baseline in the view, so the instruments and Prometheus' counters stay monotonic;
   * GAUGE metrics describe current state (open sockets, RSS) and are not reset.
   */
  async resetMetrics(): Promise<void> {
    this.#baseline.capture(toSnapshot(await this.collect(), Date.now()));
  }

  readonly #collectOwn = async (): Promise<ScopeMetrics[]> => {
    const { resourceMetrics, errors } = await this.#reader.collect();
    // A failing observable callback must not take the monitor down: the rest is still shown.
    if (errors.length > 0) getLogger('statistics-storage').warning('metric collection errors', { error: errorMessage(errors[0]) });
    return resourceMetrics.scopeMetrics;
  };
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
  create: (config, context) => {
    const storage = new StatisticsStorage({
      serviceName: serviceNameFromStaticConfig(context.staticConfig),
      otlpMetrics: resolveOtlpMetricsSettings(config, process.env, {
        file: context.configFile,
        keyPath: 'components_manager.components.statistics-storage',
      }),
    });
    // The logging component is built before this one, so the logger's instruments are registered here.
    storage.register((meter) => registerLogInstruments(meter));
    return storage;
  },
});
