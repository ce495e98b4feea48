/**
 * Prometheus text exposition (format 0.0.4) of one collection: the `/metrics` endpoint and
 * `/service/monitor?format=prometheus` both use it. A pure function, in the shape of
 * opentelemetry-js `PrometheusSerializer` (OpenTelemetry naming: `.` and `-` become `_`, monotonic
 * sums end in `_total`, the resource as `target_info`), with no timestamps, no resource labels on
 * the series and no `otel_scope_*` labels: every tcp-echo instrument lives in one scope.
 */
import { DataPointType, type DataPoint, type Histogram, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { metricPath } from '../../telemetry/metrics/snapshot.js';
import { labelsMatch, pathMatches, type MetricsFilter } from './filter.js';

/** The Content-Type Prometheus expects for the text format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Attributes = Readonly<Record<string, unknown>>;

/** The text exposition of `resourceMetrics`, optionally filtered like the JSON view. */
export function renderPrometheus(resourceMetrics: ResourceMetrics, filter: MetricsFilter = {}): string {
  let families = '';
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      const family = renderFamily(metric, filter);
      if (family !== '') families += family + '\n';
    }
  }
  if (families === '') families = '# no registered metrics';
  return renderTargetInfo(resourceMetrics.resource.attributes) + families;
}

function renderTargetInfo(attributes: Attributes): string {
  return `# HELP target_info Target metadata\n# TYPE target_info gauge\n${sample('target_info', attributes, 1)}`;
}

/** One metric family: HELP, UNIT (when set), TYPE, then its samples; '' when filtered out. */
function renderFamily(metric: MetricData, filter: MetricsFilter): string {
  if (!pathMatches(metricPath(metric.descriptor.name), filter)) return '';
  const points = (metric.dataPoints as ReadonlyArray<DataPoint<number | Histogram>>).filter(
    (p) => filter.labels === undefined || labelsMatch(stringLabels(p.attributes), filter),
  );
  if (filter.labels !== undefined && points.length === 0) return '';
  let name = sanitizeName(escapeText(metric.descriptor.name));
  if (name === '' || name === '_') return '';
  if (name[0]! >= '0' && name[0]! <= '9') name = `_${name}`;
  const monotonicSum = metric.dataPointType === DataPointType.SUM && metric.isMonotonic;
  if (monotonicSum && !name.endsWith('_total')) name += '_total';
  const { description, unit } = metric.descriptor;
  let text = `# HELP ${name} ${escapeText(description || 'description missing')}\n`;
  if (unit) text += `# UNIT ${name} ${escapeText(unit)}\n`;
  text += `# TYPE ${name} ${prometheusType(metric)}\n`;
  switch (metric.dataPointType) {
    case DataPointType.SUM:
    case DataPointType.GAUGE:
      for (const p of points as ReadonlyArray<DataPoint<number>>) text += sample(name, p.attributes, p.value);
      break;
    case DataPointType.HISTOGRAM:
      for (const p of points as ReadonlyArray<DataPoint<Histogram>>) text += histogramSamples(name, p);
      break;
    default:
      // Exponential histograms are not used by tcp-echo: the family has no samples.
      break;
  }
  return text.trim();
}

function prometheusType(metric: MetricData): string {
  switch (metric.dataPointType) {
    case DataPointType.SUM:
      return metric.isMonotonic ? 'counter' : 'gauge';
    case DataPointType.GAUGE:
      return 'gauge';
    case DataPointType.HISTOGRAM:
      return 'histogram';
    default:
      return 'untyped';
  }
}

/** `_count`, `_sum`, then the cumulative `_bucket` series with `le` (the last one `+Inf`). */
function histogramSamples(name: string, point: DataPoint<Histogram>): string {
  const { attributes, value } = point;
  let text = sample(`${name}_count`, attributes, value.count);
  if (value.sum != null) text += sample(`${name}_sum`, attributes, value.sum);
  const { boundaries, counts } = value.buckets;
  let cumulative = 0;
  let infinityBound = false;
  for (let i = 0; i < counts.length; i++) {
    cumulative += counts[i]!;
    const bound = boundaries[i];
    // Some aggregators list +Inf as a boundary, others leave it implied: one +Inf bucket either way.
    if (bound === undefined && infinityBound) break;
    if (bound === Infinity) infinityBound = true;
    const le = bound === undefined || bound === Infinity ? '+Inf' : String(bound);
    text += sample(`${name}_bucket`, attributes, cumulative, le);
  }
  return text;
}

/** One sample line: `name{label="value",...} value`. */
function sample(name: string, attributes: Attributes, value: number, le?: string): string {
  let labels = '';
  for (const [key, raw] of Object.entries(attributes)) {
    labels += `${labels.length > 0 ? ',' : ''}${sanitizeName(key)}="${escapeLabelValue(raw)}"`;
  }
  if (le !== undefined) labels += `${labels.length > 0 ? ',' : ''}le="${le}"`;
  return `${labels.length > 0 ? `${name}{${labels}}` : name} ${numberText(value)}\n`;
}

function numberText(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return `${value}`;
}

/** Characters outside `[a-zA-Z0-9_]` become `_`, runs of `_` collapse to one. */
function sanitizeName(name: string): string {
  return name.replace(/[^a-z0-9_]/gi, '_').replace(/_{2,}/g, '_');
}

function escapeText(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabelValue(value: unknown): string {
  const text = typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value);
  return escapeText(text).replace(/"/g, '\\"');
}

function stringLabels(attributes: Attributes): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(attributes)) labels[key] = typeof value === 'string' ? value : JSON.stringify(value);
  return labels;
}
