/** Placeholder: replaced by the real statistics-storage (one MeterProvider, JSON and Prometheus readers). */
import type { Meter } from '@opentelemetry/api';
import { metrics } from '@opentelemetry/api';
import { defineComponent, type Component } from '../components/component.js';
import { object } from '../config/schema.js';
import type { EchoStats } from '../echo/stats.js';

/** The service's one MeterProvider and the views over it. */
export class StatisticsStorage implements Component {
  start(): void {}
  stop(): void {}
  /** The Meter other components register their (observable) instruments on. */
  readonly meter: Meter = metrics.getMeter('tcp-echo');
  /** Exposes the echo counters as the `tcp-echo.*` metrics (observable: read at collection time). */
  registerEchoStats(stats: EchoStats): void {
    void stats;
  }
}

export const statisticsStorageComponent = defineComponent({
  name: 'statistics-storage',
  loadByDefault: true,
  schema: object({ description: 'placeholder', properties: {} }),
  create: () => new StatisticsStorage(),
});
