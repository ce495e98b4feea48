/**
 * userver's statistics request filters for `/service/monitor`: `prefix` (path starts with),
 * `path` (exact path) and `labels` (a JSON object; points carrying all those labels, exact values).
 */
import { isMapping } from '../../config/mapping.js';
import { HttpBadRequestError } from '../../errors.js';
import type { MetricsSnapshot } from '../../telemetry/metrics/snapshot.js';

/** Which points a request wants. Absent members match everything. */
export interface MetricsFilter {
  readonly prefix?: string;
  readonly path?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

/** True when a metric path passes the `prefix` and `path` filters. */
export function pathMatches(path: string, filter: MetricsFilter): boolean {
  if (filter.path !== undefined && path !== filter.path) return false;
  return filter.prefix === undefined || path.startsWith(filter.prefix);
}

/** True when `labels` carries every label of the filter with exactly its value. */
export function labelsMatch(labels: Readonly<Record<string, string>>, filter: MetricsFilter): boolean {
  if (filter.labels === undefined) return true;
  for (const [name, value] of Object.entries(filter.labels)) {
    if (labels[name] !== value) return false;
  }
  return true;
}

/** The points of `snapshot` that pass `filter`. */
export function filterSnapshot(snapshot: MetricsSnapshot, filter: MetricsFilter): MetricsSnapshot {
  if (filter.path === undefined && filter.prefix === undefined && filter.labels === undefined) return snapshot;
  return {
    timestampMs: snapshot.timestampMs,
    points: snapshot.points.filter((p) => pathMatches(p.path, filter) && labelsMatch(p.labels, filter)),
  };
}

/**
 * Parses the `labels` query parameter: a JSON object whose values are strings (numbers and
 * booleans are accepted and compared as their text). Anything else is a 400.
 */
export function parseLabelsParameter(text: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new HttpBadRequestError(`query parameter 'labels' is not valid JSON: expected an object like {"reason":"eof"}`);
  }
  if (!isMapping(parsed)) {
    throw new HttpBadRequestError(`query parameter 'labels' must be a JSON object like {"reason":"eof"}`);
  }
  const labels: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (typeof value === 'string') labels[name] = value;
    else if (typeof value === 'number' || typeof value === 'boolean') labels[name] = String(value);
    else throw new HttpBadRequestError(`query parameter 'labels': the value of '${name}' must be a string`);
  }
  return labels;
}
