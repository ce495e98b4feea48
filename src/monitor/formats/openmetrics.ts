/**
 * OpenMetrics 1.0 text (https://github.com/OpenObservability/OpenMetrics/blob/main/specification/OpenMetrics.md),
 * served at `/metrics` to scrapers that ask for it (Prometheus does by default): the same
 * collection the Prometheus text renders, with the same series names, so a query or dashboard
 * does not care which format was scraped; plus what only OpenMetrics can carry: exemplars on
 * histogram bucket lines (a connection's trace), `_created` start times and the `# EOF` end.
 *
 * Rules of the format this follows (and that a real Prometheus enforces when it parses it):
 * - a counter's family is named without `_total`; its samples are `<family>_total` and
 *   `<family>_created`;
 * - `# UNIT` only when the family name ends with `_<unit>` (`seconds`, `bytes`), as the spec
 *   requires the unit to be the name's suffix;
 * - histogram buckets are cumulative, end with `le="+Inf"`, and `le` values are canonical numbers
 *   (an integral bound is written `1.0`); then `_count`, `_sum`, `_created`;
 * - exemplars: `# {trace_id="…",span_id="…"} <value> <timestamp>` after a bucket sample;
 * - the resource is an `info` family `target` (sample `target_info`);
 * - label values escape `\`, `"` and newline; the body ends with `# EOF\n`.
 */
import { hrTimeToMilliseconds } from '@opentelemetry/core';
import {
  DataPointType,
  type DataPoint,
  type Histogram,
  type MetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import type { Exemplar, ExemplarSet } from '../../telemetry/metrics/exemplar-store.js';

/** The Content-Type of OpenMetrics 1.0 text. */
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** Exemplar sets by instrument name (a histogram without attributes has one point, one set). */
export type ExemplarsByInstrument = ReadonlyMap<string, ExemplarSet>;

/** Renders one collection (and the exemplars kept beside it) as OpenMetrics text. Pure. */
export function renderOpenMetrics(resourceMetrics: ResourceMetrics, exemplars: ExemplarsByInstrument = new Map()): string {
  let out = renderTargetInfo(resourceMetrics.resource.attributes);
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) out += renderFamily(metric, exemplars.get(metric.descriptor.name));
  }
  return out + '# EOF\n';
}

function renderTargetInfo(attributes: Readonly<Record<string, unknown>>): string {
  return `# TYPE target info\n# HELP target Target metadata\ntarget_info${labelSet(attributes)} 1\n`;
}

function renderFamily(metric: MetricData, exemplarSet: ExemplarSet | undefined): string {
  // The same name the Prometheus text uses (exporter-prometheus: invalid characters and runs of
  // underscores become one `_`), so the series are the same whichever format was scraped.
  let name = metric.descriptor.name.replace(/[^a-z0-9_]/gi, '_').replace(/_{2,}/g, '_');
  if (/^[0-9]/.test(name)) name = `_${name}`;
  const help = metric.descriptor.description || 'description missing';
  switch (metric.dataPointType) {
    case DataPointType.SUM:
      if (metric.isMonotonic) {
        const family = name.endsWith('_total') ? name.slice(0, -'_total'.length) : name;
        let out = header(family, 'counter', help);
        for (const point of metric.dataPoints) {
          const labels = labelSet(point.attributes);
          out += `${family}_total${labels} ${numberText(point.value)}\n`;
          out += `${family}_created${labels} ${secondsText(hrTimeToMilliseconds(point.startTime))}\n`;
        }
        return out;
      }
      return gauge(name, help, metric.dataPoints);
    case DataPointType.GAUGE:
      return gauge(name, help, metric.dataPoints);
    case DataPointType.HISTOGRAM: {
      let out = header(name, 'histogram', help);
      for (const point of metric.dataPoints) out += histogramPoint(name, point, exemplarSet);
      return out;
    }
    default:
      // Exponential histograms are not used by tcp-echo (the Prometheus text skips them too).
      return '';
  }
}

function header(family: string, type: string, help: string): string {
  const unit = /_(seconds|bytes)$/.exec(family)?.[1];
  return `# TYPE ${family} ${type}\n${unit === undefined ? '' : `# UNIT ${family} ${unit}\n`}# HELP ${family} ${escapeHelp(help)}\n`;
}

function gauge(name: string, help: string, points: ReadonlyArray<DataPoint<number>>): string {
  let out = header(name, 'gauge', help);
  for (const point of points) out += `${name}${labelSet(point.attributes)} ${numberText(point.value)}\n`;
  return out;
}

function histogramPoint(name: string, point: DataPoint<Histogram>, exemplarSet: ExemplarSet | undefined): string {
  const { boundaries, counts } = point.value.buckets;
  // Exemplars only when they were kept on these very bounds.
  const exemplars =
    exemplarSet !== undefined && exemplarSet.bounds.length === boundaries.length && exemplarSet.bounds.every((b, i) => b === boundaries[i])
      ? exemplarSet.exemplars
      : undefined;
  let out = '';
  let cumulative = 0;
  for (let i = 0; i <= boundaries.length; i++) {
    cumulative += counts[i] ?? 0;
    const le = i < boundaries.length ? canonicalNumber(boundaries[i] as number) : '+Inf';
    out += `${name}_bucket${labelSet(point.attributes, le)} ${cumulative}${exemplarText(exemplars?.[i])}\n`;
  }
  const labels = labelSet(point.attributes);
  out += `${name}_count${labels} ${cumulative}\n`;
  if (point.value.sum !== undefined) out += `${name}_sum${labels} ${numberText(point.value.sum)}\n`;
  out += `${name}_created${labels} ${secondsText(hrTimeToMilliseconds(point.startTime))}\n`;
  return out;
}

function exemplarText(exemplar: Exemplar | null | undefined): string {
  if (exemplar == null) return '';
  return ` # {trace_id="${exemplar.traceId}",span_id="${exemplar.spanId}"} ${numberText(exemplar.value)} ${secondsText(exemplar.timestampMs)}`;
}

function labelSet(attributes: Readonly<Record<string, unknown>>, le?: string): string {
  let out = '';
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined) continue;
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    out += `${out === '' ? '' : ','}${key.replace(/[^a-z0-9_]/gi, '_').replace(/_{2,}/g, '_')}="${escapeLabelValue(text)}"`;
  }
  if (le !== undefined) out += `${out === '' ? '' : ','}le="${le}"`;
  return out === '' ? '' : `{${out}}`;
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function numberText(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  if (Number.isNaN(value)) return 'NaN';
  return String(value);
}

/** OpenMetrics' canonical form for `le`: a float with a `.0` when integral (`1.0`, `0.25`, `+Inf`). */
function canonicalNumber(value: number): string {
  if (!Number.isFinite(value)) return numberText(value);
  const text = String(value);
  return Number.isInteger(value) && !/e/i.test(text) ? `${text}.0` : text;
}

/** A timestamp in seconds since the epoch, as OpenMetrics wants it (millisecond precision). */
function secondsText(ms: number): string {
  return String(Math.round(ms) / 1000);
}
