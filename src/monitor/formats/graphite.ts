/**
 * Graphite plaintext protocol with tags: `path;label=value value unix_seconds`, a line per point.
 * A histogram becomes one line per bucket with an `le` tag (`inf` for the overflow bucket),
 * per-bucket counts as in the JSON view.
 */
import type { MetricsSnapshot } from '../../telemetry/metrics/snapshot.js';

/** Renders `snapshot` in Graphite's tagged plaintext format. */
export function renderGraphite(snapshot: MetricsSnapshot): string {
  const ts = Math.floor(snapshot.timestampMs / 1000);
  let text = '';
  for (const point of snapshot.points) {
    let series = point.path;
    for (const [name, value] of Object.entries(point.labels)) series += `;${graphiteTag(name)}=${graphiteTag(value)}`;
    const { value } = point;
    if (typeof value === 'number') {
      text += `${series} ${value} ${ts}\n`;
      continue;
    }
    value.bounds.forEach((bound, i) => {
      text += `${series};le=${bound} ${value.buckets[i] ?? 0} ${ts}\n`;
    });
    text += `${series};le=inf ${value.inf} ${ts}\n`;
  }
  return text;
}

// Graphite tag names and values may not contain `;`, `=`, `~`, `!`, spaces or be empty.
function graphiteTag(text: string): string {
  const clean = text.replace(/[;=~!\s]/g, '_');
  return clean === '' ? '_' : clean;
}
