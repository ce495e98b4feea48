/**
 * The one reader of statistics-storage: a MetricReader that never exports on its own; each
 * collection (a monitor request, a cluster worker's answer) pulls every instrument once.
 */
import { MetricReader } from '@opentelemetry/sdk-metrics';

/** Collects on demand (cumulative temporality, the SDK default). */
export class PullReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}
