/**
 * userver's JSON statistics format, the one `pytest_userver`'s metrics client parses:
 * `{"<path>": [{"value": ..., "labels": {...}, "type": "RATE|GAUGE|HIST_RATE"}, ...]}`.
 */
import type { HistogramValue, MetricsSnapshot, MetricType } from '../../telemetry/metrics/snapshot.js';

interface JsonNode {
  value: number | HistogramValue;
  labels: Readonly<Record<string, string>>;
  type: MetricType;
}

/** Renders `snapshot` as userver's JSON (keys in snapshot order, `labels: {}` when none). */
export function renderJson(snapshot: MetricsSnapshot): string {
  const out: Record<string, JsonNode[]> = {};
  for (const point of snapshot.points) {
    const node: JsonNode = { value: point.value, labels: point.labels, type: point.type };
    const nodes = out[point.path];
    if (nodes) nodes.push(node);
    else out[point.path] = [node];
  }
  return JSON.stringify(out);
}
