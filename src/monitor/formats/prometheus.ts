/**
 * Prometheus text exposition (format 0.0.4), exactly as `@opentelemetry/exporter-prometheus`
 * serializes it: the `/metrics` endpoint and `/service/monitor?format=prometheus` both use this.
 */
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import type { MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { metricPath } from '../../telemetry/metrics/snapshot.js';
import { labelsMatch, pathMatches, type MetricsFilter } from './filter.js';

/** The Content-Type Prometheus expects for the text format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

// No prefix, no timestamps, no resource labels on every series (they are in `target_info`), and
// no `otel_scope_*` labels: every tcp-echo instrument lives in one scope, so they would only add noise.
const serializer = new PrometheusSerializer(undefined, false, undefined, false, true);

/** Serializes one collection of the Prometheus reader, optionally filtered like the JSON view. */
export function renderPrometheus(resourceMetrics: ResourceMetrics, filter: MetricsFilter = {}): string {
  return serializer.serialize(filterResourceMetrics(resourceMetrics, filter));
}

function filterResourceMetrics(resourceMetrics: ResourceMetrics, filter: MetricsFilter): ResourceMetrics {
  if (filter.path === undefined && filter.prefix === undefined && filter.labels === undefined) return resourceMetrics;
  return {
    resource: resourceMetrics.resource,
    scopeMetrics: resourceMetrics.scopeMetrics.map((scope) => ({
      scope: scope.scope,
      metrics: scope.metrics.flatMap((metric) => filterMetric(metric, filter)),
    })),
  };
}

function filterMetric(metric: MetricData, filter: MetricsFilter): MetricData[] {
  if (!pathMatches(metricPath(metric.descriptor.name), filter)) return [];
  if (filter.labels === undefined) return [metric];
  const keep = (attributes: Readonly<Record<string, unknown>>) =>
    labelsMatch(
      Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])),
      filter,
    );
  // The union type of MetricData does not let a generic filter keep its data-point type; the
  // points are the metric's own, only fewer.
  const dataPoints = (metric.dataPoints as Array<{ attributes: Readonly<Record<string, unknown>> }>).filter((p) =>
    keep(p.attributes),
  );
  return dataPoints.length > 0 ? [{ ...metric, dataPoints } as MetricData] : [];
}
