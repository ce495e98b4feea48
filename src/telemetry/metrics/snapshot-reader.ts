/**
 * The pull reader behind the JSON, pretty and graphite views: a MetricReader that never exports on
 * its own; each monitor request collects once and converts the result to a MetricsSnapshot.
 */
import { MetricReader } from '@opentelemetry/sdk-metrics';
import { diag } from '@opentelemetry/api';
import { toSnapshot, type MetricsSnapshot } from './snapshot.js';

/** Collects on demand (cumulative temporality, the SDK default). */
export class SnapshotReader extends MetricReader {
  /** Collects every instrument now and returns the snapshot. */
  async snapshot(): Promise<MetricsSnapshot> {
    const { resourceMetrics, errors } = await this.collect();
    // A failing observable callback must not take the monitor down: report it like the exporter does.
    if (errors.length > 0) diag.warn('statistics-storage: metric collection errors', ...errors);
    return toSnapshot(resourceMetrics, Date.now());
  }

  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}
