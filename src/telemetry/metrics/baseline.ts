/**
 * userver's `ResetMetric` for the JSON view, without ever resetting the counters themselves:
 * `reset_metrics` remembers the current values of every RATE and HIST_RATE point, and the JSON view
 * subtracts them afterwards. The instruments (and so Prometheus' counters) stay monotonic; GAUGE
 * points describe current state (open sockets, RSS, buffered bytes) and are never offset.
 */
import { pointKey, type HistogramValue, type MetricPoint, type MetricsSnapshot } from './snapshot.js';

/** The values remembered at the last reset; empty until the first one. */
export class ResetBaseline {
  #values = new Map<string, number | HistogramValue>();

  /** Remembers `snapshot`'s RATE and HIST_RATE values as the new zero. */
  capture(snapshot: MetricsSnapshot): void {
    const values = new Map<string, number | HistogramValue>();
    for (const point of snapshot.points) {
      if (point.type !== 'GAUGE') values.set(pointKey(point), point.value);
    }
    this.#values = values;
  }

  /** `snapshot` with the remembered values subtracted (never below zero). */
  apply(snapshot: MetricsSnapshot): MetricsSnapshot {
    if (this.#values.size === 0) return snapshot;
    return { timestampMs: snapshot.timestampMs, points: snapshot.points.map((p) => this.#offset(p)) };
  }

  #offset(point: MetricPoint): MetricPoint {
    if (point.type === 'GAUGE') return point;
    const base = this.#values.get(pointKey(point));
    if (base === undefined) return point;
    if (typeof point.value === 'number') {
      // A counter below its baseline means its source restarted; show what it counted since.
      const value = typeof base === 'number' && point.value >= base ? point.value - base : point.value;
      return { ...point, value };
    }
    if (typeof base === 'number' || !sameBounds(base.bounds, point.value.bounds)) return point;
    const buckets = point.value.buckets.map((count, i) => Math.max(0, count - (base.buckets[i] ?? 0)));
    return { ...point, value: { bounds: point.value.bounds, buckets, inf: Math.max(0, point.value.inf - base.inf) } };
  }
}

function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
