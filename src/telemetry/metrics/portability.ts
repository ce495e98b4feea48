/**
 * userver's `metrics_portability` check (tests-control action of that name): which metrics would
 * not survive a monitoring system's limits. A pure function of one snapshot; the same warning
 * codes and thresholds as userver (its `solomon_limits.hpp`):
 *
 * | code | when |
 * |---|---|
 * | `inf`, `nan` | a value is ±Infinity / NaN |
 * | `histogram_buckets_count` | a histogram has more than 50 buckets |
 * | `labels_count` | more than 9 labels |
 * | `label_reserved_<name>` | a label named application, cluster, group, host, project, sensor or service |
 * | `label_name_length` / `label_value_length` | a label name over 31, a value over 200 characters |
 * | `path_length` | a path over 200 characters |
 * | `label_name_mismatch` | one path has nodes with different sets of label names |
 */
import type { MetricPoint, MetricsSnapshot } from './snapshot.js';

/** One warning: what is wrong, and the metric it is about. */
export interface PortabilityWarning {
  readonly error_message: string;
  readonly path: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** Warnings by code; `{}` when every metric is portable. */
export type PortabilityReport = Record<string, PortabilityWarning[]>;

export const MAX_HISTOGRAM_BUCKETS = 50;
/** 16 labels in all, 6 reserved by the monitoring system, 1 for the path. */
export const MAX_LABELS = 9;
export const MAX_LABEL_NAME_LENGTH = 31;
export const MAX_LABEL_VALUE_LENGTH = 200;
export const MAX_PATH_LENGTH = 200;
export const RESERVED_LABELS = ['application', 'cluster', 'group', 'host', 'project', 'sensor', 'service'] as const;

/** Checks every point of `snapshot` whose path starts with `prefix` (all when undefined). */
export function checkPortability(snapshot: MetricsSnapshot, prefix?: string): PortabilityReport {
  const report: PortabilityReport = {};
  const add = (code: string, point: MetricPoint, message: string): void => {
    (report[code] ??= []).push({ error_message: message, path: point.path, labels: point.labels });
  };
  /** The first label-name set seen per path. */
  const nameSets = new Map<string, string>();
  for (const point of snapshot.points) {
    if (prefix !== undefined && !point.path.startsWith(prefix)) continue;
    const { path, labels, value } = point;
    if (typeof value === 'number') {
      if (Number.isNaN(value)) add('nan', point, `Metric '${path}' has a NaN value`);
      else if (!Number.isFinite(value)) add('inf', point, `Metric '${path}' has an infinite value`);
    } else if (value.bounds.length > MAX_HISTOGRAM_BUCKETS) {
      add(
        'histogram_buckets_count',
        point,
        `Histogram '${path}' has ${value.bounds.length} buckets, more than the ${MAX_HISTOGRAM_BUCKETS} allowed`,
      );
    }
    if (path.length > MAX_PATH_LENGTH) {
      add('path_length', point, `Path '${path}' is ${path.length} characters long, longer than ${MAX_PATH_LENGTH}`);
    }
    const names = Object.keys(labels).sort();
    if (names.length > MAX_LABELS) {
      add('labels_count', point, `Metric '${path}' has ${names.length} labels, more than the ${MAX_LABELS} allowed`);
    }
    for (const name of names) {
      if ((RESERVED_LABELS as readonly string[]).includes(name)) {
        add(`label_reserved_${name}`, point, `Label name '${name}' of '${path}' is reserved by the monitoring system`);
      }
      if (name.length > MAX_LABEL_NAME_LENGTH) {
        add('label_name_length', point, `Label name '${name}' of '${path}' is longer than ${MAX_LABEL_NAME_LENGTH} characters`);
      }
      const labelValue = labels[name] as string;
      if (labelValue.length > MAX_LABEL_VALUE_LENGTH) {
        add(
          'label_value_length',
          point,
          `Value of label '${name}' of '${path}' is longer than ${MAX_LABEL_VALUE_LENGTH} characters`,
        );
      }
    }
    const set = names.join(', ');
    const first = nameSets.get(path);
    if (first === undefined) nameSets.set(path, set);
    else if (first !== set) {
      add('label_name_mismatch', point, `Same path '${path}' has metrics with different labels set: '${first}' vs '${set}'`);
    }
  }
  return report;
}
