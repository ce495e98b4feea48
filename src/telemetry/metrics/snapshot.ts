/**
 * The one collected view of every metric that the monitor formats render: a flat list of points,
 * each with userver's dotted path, exact labels, type (RATE/GAUGE/HIST_RATE) and value. Built from
 * OpenTelemetry's `ResourceMetrics` once per request; the formats are pure functions of it.
 */
import { DataPointType, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';

/** userver's metric types: monotonic counters, values that go up and down, histograms. */
export type MetricType = 'RATE' | 'GAUGE' | 'HIST_RATE';

/** A histogram in userver's JSON shape: upper bounds, per-bucket (not cumulative) counts, overflow. */
export interface HistogramValue {
  readonly bounds: readonly number[];
  readonly buckets: readonly number[];
  readonly inf: number;
}

/** One labelled value of one metric. */
export interface MetricPoint {
  /** userver's dotted path, e.g. `tcp-echo.sockets.opened`. */
  readonly path: string;
  /** Exactly the point's own attributes (no scope or resource labels), values as strings. */
  readonly labels: Readonly<Record<string, string>>;
  readonly type: MetricType;
  readonly value: number | HistogramValue;
}

/** Every point at one moment, sorted by path then labels (stable output for people and diffs). */
export interface MetricsSnapshot {
  /** When it was collected, milliseconds since the epoch (graphite's timestamp). */
  readonly timestampMs: number;
  readonly points: readonly MetricPoint[];
}

// Prometheus wants base units in metric names (`_seconds`, `_bytes`); the OpenTelemetry exporter
// derives the Prometheus name from the instrument name only, so instruments that need a unit
// suffix carry it after an underscore. userver's paths carry no units, so the JSON path drops it.
// Underscores appear nowhere else in our dotted, kebab-case names, so the rule is unambiguous.
const UNIT_SUFFIX = /_(seconds|bytes)$/;

/** userver's path for an instrument name: `process.memory.rss_bytes` → `process.memory.rss`. */
export function metricPath(instrumentName: string): string {
  return instrumentName.replace(UNIT_SUFFIX, '');
}

/** Converts one collection of the SDK into a snapshot (pure; cumulative temporality expected). */
export function toSnapshot(resourceMetrics: ResourceMetrics, timestampMs: number): MetricsSnapshot {
  const points: MetricPoint[] = [];
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) appendPoints(metric, points);
  }
  points.sort(comparePoints);
  return { timestampMs, points };
}

function appendPoints(metric: MetricData, out: MetricPoint[]): void {
  const path = metricPath(metric.descriptor.name);
  switch (metric.dataPointType) {
    case DataPointType.SUM: {
      const type: MetricType = metric.isMonotonic ? 'RATE' : 'GAUGE';
      for (const p of metric.dataPoints) out.push({ path, labels: stringLabels(p.attributes), type, value: p.value });
      return;
    }
    case DataPointType.GAUGE:
      for (const p of metric.dataPoints) {
        out.push({ path, labels: stringLabels(p.attributes), type: 'GAUGE', value: p.value });
      }
      return;
    case DataPointType.HISTOGRAM:
      for (const p of metric.dataPoints) {
        const { boundaries, counts } = p.value.buckets;
        out.push({
          path,
          labels: stringLabels(p.attributes),
          type: 'HIST_RATE',
          value: { bounds: [...boundaries], buckets: counts.slice(0, boundaries.length), inf: counts[boundaries.length] ?? 0 },
        });
      }
      return;
    default:
      // Exponential histograms are not used by tcp-echo; skipping keeps the view well-formed.
      return;
  }
}

function stringLabels(attributes: Readonly<Record<string, unknown>>): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const key of Object.keys(attributes).sort()) {
    const v = attributes[key];
    if (v !== undefined) labels[key] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return labels;
}

/** A stable identity of a point: its path and its labels. */
export function pointKey(point: Pick<MetricPoint, 'path' | 'labels'>): string {
  let key = point.path;
  for (const name of Object.keys(point.labels).sort()) key += `\u0000${name}=${point.labels[name]}`;
  return key;
}

function comparePoints(a: MetricPoint, b: MetricPoint): number {
  const ka = pointKey(a);
  const kb = pointKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
