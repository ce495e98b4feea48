/**
 * Merging collections of the same instruments from several processes into one view of the whole
 * service (cluster mode): counters summed, histograms merged bucket-wise, gauges summed or maxed
 * by a per-metric policy. Pure functions over OpenTelemetry's `ScopeMetrics`, which is plain data
 * (numbers, strings, HrTime arrays) and so crosses the cluster IPC channel as it is.
 */
import type { Attributes, HrTime } from '@opentelemetry/api';
import { DataPointType, type DataPoint, type Histogram, type MetricData, type ScopeMetrics } from '@opentelemetry/sdk-metrics';

/** How the values of one GAUGE from several processes combine. */
export type GaugeMerge = 'sum' | 'max';

/** Options of `mergeScopeMetrics`. */
export interface MergeOptions {
  /**
   * The policy of a gauge (a GAUGE point or a non-monotonic SUM) by instrument name.
   * @default every gauge is summed
   */
  readonly gaugeMerge?: (instrumentName: string) => GaugeMerge;
  /** Told once per merge about each histogram point whose bucket bounds differ (it is left out). */
  readonly onMismatch?: (instrumentName: string) => void;
}

/** One metric being merged: its first occurrence's shape, and its points by attribute key. */
interface Accumulator {
  readonly metric: MetricData;
  readonly points: Map<string, DataPoint<number> | DataPoint<Histogram>>;
}

/**
 * Merges several collections into one: metrics with the same scope and instrument name are
 * combined point by point (points with the same attributes). A metric present in only some
 * collections keeps what those have. The output order is the first collection's order, then new
 * metrics in the order met. Inputs are never modified.
 */
export function mergeScopeMetrics(collections: ReadonlyArray<readonly ScopeMetrics[]>, options: MergeOptions = {}): ScopeMetrics[] {
  const gaugeMerge = options.gaugeMerge ?? (() => 'sum' as const);
  const scopes = new Map<string, { scope: ScopeMetrics['scope']; metrics: Map<string, Accumulator> }>();
  for (const collection of collections) {
    for (const scopeMetrics of collection) {
      const scopeKey = `${scopeMetrics.scope.name}\u0000${scopeMetrics.scope.version ?? ''}`;
      let scope = scopes.get(scopeKey);
      if (!scope) scopes.set(scopeKey, (scope = { scope: scopeMetrics.scope, metrics: new Map() }));
      for (const metric of scopeMetrics.metrics) {
        const name = metric.descriptor.name;
        let acc = scope.metrics.get(name);
        if (!acc) scope.metrics.set(name, (acc = { metric, points: new Map() }));
        else if (acc.metric.dataPointType !== metric.dataPointType) continue; // a different instrument kind: keep the first
        mergeInto(acc, metric, gaugeMerge, options.onMismatch);
      }
    }
  }
  return [...scopes.values()].map(({ scope, metrics }) => ({
    scope,
    metrics: [...metrics.values()].map(({ metric, points }) => ({ ...metric, dataPoints: [...points.values()] }) as MetricData),
  }));
}

/**
 * Only the monotonic part of a collection: RATE counters (monotonic sums) and histograms. What a
 * process that is gone leaves behind so totals never go backwards; its gauges described a state
 * that ended with it.
 */
export function monotonicPart(collection: readonly ScopeMetrics[]): ScopeMetrics[] {
  return collection.map((scope) => ({
    scope: scope.scope,
    metrics: scope.metrics.filter(
      (m) => m.dataPointType === DataPointType.HISTOGRAM || (m.dataPointType === DataPointType.SUM && m.isMonotonic),
    ),
  }));
}

function mergeInto(
  acc: Accumulator,
  metric: MetricData,
  gaugeMerge: (name: string) => GaugeMerge,
  onMismatch: ((name: string) => void) | undefined,
): void {
  const name = metric.descriptor.name;
  switch (metric.dataPointType) {
    case DataPointType.SUM:
    case DataPointType.GAUGE: {
      const max = (metric.dataPointType === DataPointType.GAUGE || !metric.isMonotonic) && gaugeMerge(name) === 'max';
      for (const point of metric.dataPoints) {
        const key = attributesKey(point.attributes);
        const seen = acc.points.get(key) as DataPoint<number> | undefined;
        if (!seen) {
          acc.points.set(key, point);
          continue;
        }
        const value = max ? Math.max(seen.value, point.value) : seen.value + point.value;
        acc.points.set(key, { ...spanOf(seen, point), attributes: seen.attributes, value });
      }
      return;
    }
    case DataPointType.HISTOGRAM:
      for (const point of metric.dataPoints) {
        const key = attributesKey(point.attributes);
        const seen = acc.points.get(key) as DataPoint<Histogram> | undefined;
        if (!seen) {
          acc.points.set(key, point);
          continue;
        }
        const merged = mergeHistograms(seen.value, point.value);
        if (merged === undefined) {
          onMismatch?.(name);
          continue;
        }
        acc.points.set(key, { ...spanOf(seen, point), attributes: seen.attributes, value: merged });
      }
      return;
    default:
      // Exponential histograms are not used by tcp-echo: the first collection's points stand.
      return;
  }
}

/** Bucket-wise sum of two histograms with the same bounds; undefined when the bounds differ. */
export function mergeHistograms(a: Histogram, b: Histogram): Histogram | undefined {
  const bounds = a.buckets.boundaries;
  if (bounds.length !== b.buckets.boundaries.length || bounds.some((x, i) => x !== b.buckets.boundaries[i])) return undefined;
  const histogram: Histogram = {
    buckets: { boundaries: bounds, counts: a.buckets.counts.map((n, i) => n + (b.buckets.counts[i] ?? 0)) },
    count: a.count + b.count,
  };
  if (a.sum !== undefined || b.sum !== undefined) histogram.sum = (a.sum ?? 0) + (b.sum ?? 0);
  // An empty side has no meaningful min/max (the SDK reports ±Infinity or leaves them out).
  const min = Math.min(a.count > 0 ? (a.min ?? Infinity) : Infinity, b.count > 0 ? (b.min ?? Infinity) : Infinity);
  const max = Math.max(a.count > 0 ? (a.max ?? -Infinity) : -Infinity, b.count > 0 ? (b.max ?? -Infinity) : -Infinity);
  if (Number.isFinite(min)) histogram.min = min;
  if (Number.isFinite(max)) histogram.max = max;
  return histogram;
}

/** The earlier start and the later end of two points of one series. */
function spanOf(a: DataPoint<unknown>, b: DataPoint<unknown>): { startTime: HrTime; endTime: HrTime } {
  return {
    startTime: hrLess(b.startTime, a.startTime) ? b.startTime : a.startTime,
    endTime: hrLess(a.endTime, b.endTime) ? b.endTime : a.endTime,
  };
}

function hrLess(a: HrTime, b: HrTime): boolean {
  return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
}

/** A stable key of a point's attributes (sorted names; values as JSON). */
function attributesKey(attributes: Attributes): string {
  const names = Object.keys(attributes).sort();
  let key = '';
  for (const name of names) {
    const value = attributes[name];
    if (value !== undefined) key += `${name}\u0000${JSON.stringify(value)}\u0001`;
  }
  return key;
}
