/**
 * Metric gathering over the cluster IPC channel (primary side): each collection asks every ready
 * worker for its metrics in parallel, each answer bounded by COLLECT_TIMEOUT_MS (a stuck worker
 * cannot hang `/metrics`; it counts as a timeout and its previous answer stands), keeps the
 * monotonic totals of workers that died so the service's counters never go back, and merges the
 * workers' collections with the primary's own: counters summed, histograms bucket-wise, gauges by
 * the policy of the instrument's owner.
 */
import type { Worker } from 'node:cluster';
import { DataPointType, type ScopeMetrics } from '@opentelemetry/sdk-metrics';
import { SOCKETS_ACTIVE_METRIC } from '../echo/echo-instruments.js';
import type { Logger } from '../log/logger.js';
import { mergeExemplarsByInstrument, type ExemplarSet } from '../telemetry/metrics/exemplar-store.js';
import { mergeScopeMetrics, monotonicPart } from '../telemetry/metrics/merge.js';
import { gaugeMergeOf } from '../telemetry/metrics/runtime-instruments.js';
import type { MetricsCollector } from '../telemetry/statistics-storage.js';
import { TAG, type PrimaryMessage } from './protocol.js';

/** How long one collection waits for a worker's answer; a late worker counts as a timeout. */
const COLLECT_TIMEOUT_MS = 1000;

/** What this module needs to know of a worker position. */
export interface MetricsSlot {
  readonly number: number;
  readonly worker: Worker | undefined;
  readonly state: 'starting' | 'ready' | 'exited';
}

/** The workers' metrics as the primary knows them. */
export class WorkerMetrics {
  readonly #slots: readonly MetricsSlot[];
  readonly #log: Logger;
  readonly #send: (worker: Worker, message: PrimaryMessage) => void;
  /** Each slot's last answer (what counts for it when it misses a collection). */
  readonly #last = new Map<MetricsSlot, ScopeMetrics[]>();
  /** Each slot's last exemplars; a worker that is gone keeps its own until a newer one replaces them. */
  readonly #lastExemplars = new Map<MetricsSlot | 'retired', ReadonlyArray<readonly [string, ExemplarSet]>>();
  readonly #pending = new Map<
    number,
    { slot: MetricsSlot; done: (metrics: ScopeMetrics[] | undefined, exemplars?: ReadonlyArray<readonly [string, ExemplarSet]>) => void }
  >();
  /** Monotonic totals (RATE, HIST_RATE) of workers that are gone. */
  #retired: ScopeMetrics[] = [];
  #timeouts = 0;
  #nextId = 1;
  /** The collection in flight: concurrent requests share one IPC round. */
  #merging: Promise<ScopeMetrics[]> | undefined;

  constructor(slots: readonly MetricsSlot[], send: (worker: Worker, message: PrimaryMessage) => void, log: Logger) {
    this.#slots = slots;
    this.#send = send;
    this.#log = log;
  }

  /** Collections a worker did not answer in time. */
  get timeouts(): number {
    return this.#timeouts;
  }

  /** statistics-storage's collector: the primary's own collection merged with the workers'. */
  readonly collector: MetricsCollector = (collectOwn) => {
    this.#merging ??= this.#merge(collectOwn).finally(() => (this.#merging = undefined));
    return this.#merging;
  };

  /**
   * Asks every ready worker (in parallel, each bounded by COLLECT_TIMEOUT_MS) and returns the
   * collections the service's totals consist of: the retired totals of dead workers and each
   * worker's latest answer (its previous one when it did not answer in time).
   */
  async gather(): Promise<ScopeMetrics[][]> {
    await Promise.all(this.#slots.map((slot) => (slot.state === 'ready' ? this.#ask(slot) : undefined)));
    const collections: ScopeMetrics[][] = [];
    if (this.#retired.length > 0) collections.push(this.#retired);
    for (const slot of this.#slots) {
      const last = this.#last.get(slot);
      if (last) collections.push(last);
    }
    return collections;
  }

  /** A worker's answer to collection `id`. */
  answer(slot: MetricsSlot, id: number, scopeMetrics: ScopeMetrics[], exemplars?: ReadonlyArray<readonly [string, ExemplarSet]>): void {
    const pending = this.#pending.get(id);
    if (pending && pending.slot === slot) pending.done(scopeMetrics, exemplars);
  }

  /**
   * statistics-storage's exemplar source: the exemplars of the workers' latest answers (and of
   * workers that are gone), read right after a collection asked them.
   */
  readonly exemplars = (): Array<ReadonlyArray<readonly [string, ExemplarSet]>> => [...this.#lastExemplars.values()];

  /** A new process took the slot: nothing it reported yet. */
  forget(slot: MetricsSlot): void {
    this.#last.delete(slot);
  }

  /** The slot's process exited: what it counted stays in the totals; its gauges ended with it. */
  retire(slot: MetricsSlot): void {
    const last = this.#last.get(slot);
    if (last) this.#retired = mergeScopeMetrics([this.#retired, monotonicPart(last)]);
    this.#last.delete(slot);
    // Its exemplars still point at real traces: kept, merged into one retired set (latest per
    // bucket wins), so restarts do not grow it.
    const exemplars = this.#lastExemplars.get(slot);
    if (exemplars) {
      this.#lastExemplars.set('retired', [...mergeExemplarsByInstrument([this.#lastExemplars.get('retired') ?? [], exemplars])]);
      this.#lastExemplars.delete(slot);
    }
    for (const pending of [...this.#pending.values()]) if (pending.slot === slot) pending.done(undefined);
  }

  /** Connections open in the slot's worker at its last answer; undefined when it is not ready or never answered. */
  activeSockets(slot: MetricsSlot): number | undefined {
    const last = slot.state === 'ready' ? this.#last.get(slot) : undefined;
    if (!last) return undefined;
    for (const scope of last) {
      for (const metric of scope.metrics) {
        if (metric.descriptor.name !== SOCKETS_ACTIVE_METRIC || metric.dataPointType !== DataPointType.SUM) continue;
        return metric.dataPoints.reduce((sum, p) => sum + p.value, 0);
      }
    }
    return undefined;
  }

  async #merge(collectOwn: () => Promise<ScopeMetrics[]>): Promise<ScopeMetrics[]> {
    // The workers first: some of the primary's instruments describe them (per-worker gauges).
    const others = await this.gather();
    const own = await collectOwn();
    let mismatched: string | undefined;
    const merged = mergeScopeMetrics([own, ...others], { gaugeMerge: gaugeMergeOf, onMismatch: (name) => (mismatched ??= name) });
    if (mismatched !== undefined) {
      this.#log.warning('histogram bounds differ between processes; some points left out', { metric: mismatched });
    }
    return merged;
  }

  /** One worker's collection: resolves when it answered or COLLECT_TIMEOUT_MS passed (never rejects). */
  #ask(slot: MetricsSlot): Promise<void> {
    const worker = slot.worker as Worker;
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        this.#timeouts++;
        this.#log.warning(`echo worker ${slot.number} did not answer a metrics collection in ${COLLECT_TIMEOUT_MS} ms`, {
          worker: slot.number,
        });
        resolve();
      }, COLLECT_TIMEOUT_MS);
      this.#pending.set(id, {
        slot,
        done: (metrics, exemplars) => {
          clearTimeout(timer);
          this.#pending.delete(id);
          if (metrics && slot.worker === worker && slot.state === 'ready') {
            this.#last.set(slot, metrics);
            if (exemplars) this.#lastExemplars.set(slot, exemplars);
          }
          resolve();
        },
      });
      this.#send(worker, { tag: TAG, kind: 'collect', id });
    });
  }
}
