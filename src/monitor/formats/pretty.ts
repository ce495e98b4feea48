/**
 * userver's human-readable format, a line per point:
 * `path: label=value, other=value<TAB>TYPE<TAB>value`. For people; scripts should use JSON.
 */
import type { MetricPoint, MetricsSnapshot } from '../../telemetry/metrics/snapshot.js';

/** Renders `snapshot` one point per line; a histogram prints `[bound]=count ... [inf]=count`. */
export function renderPretty(snapshot: MetricsSnapshot): string {
  let text = '';
  for (const point of snapshot.points) {
    const labels = Object.entries(point.labels)
      .map(([name, value]) => `${name}=${value}`)
      .join(', ');
    text += `${point.path}:${labels ? ` ${labels}` : ''}\t${point.type}\t${prettyValue(point)}\n`;
  }
  return text;
}

function prettyValue(point: MetricPoint): string {
  const { value } = point;
  if (typeof value === 'number') return String(value);
  const parts = value.bounds.map((bound, i) => `[${bound}]=${value.buckets[i] ?? 0}`);
  parts.push(`[inf]=${value.inf}`);
  return parts.join(' ');
}
