/** userver's metrics_portability warnings over a snapshot: every code, its threshold, and a clean snapshot. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkPortability } from '../../../src/telemetry/metrics/portability.js';
import type { MetricPoint } from '../../../src/telemetry/metrics/snapshot.js';

const point = (path: string, labels: Record<string, string> = {}, value: MetricPoint['value'] = 1): MetricPoint => ({
  path,
  labels,
  type: typeof value === 'number' ? 'RATE' : 'HIST_RATE',
  value,
});
const snapshot = (...points: MetricPoint[]) => ({ timestampMs: 0, points });
const histogram = (n: number) => ({ bounds: Array.from({ length: n }, (_, i) => i + 1), buckets: Array(n).fill(0), inf: 0 });

test('a clean snapshot gives {}; limits are inclusive (50 buckets, 9 labels, 31/200/200 characters)', () => {
  const nine = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`l${i}`, 'v']));
  assert.deepEqual(
    checkPortability(
      snapshot(
        point('tcp-echo.a', { reason: 'eof' }),
        point('tcp-echo.a', { reason: 'reset' }),
        point('tcp-echo.h', {}, histogram(50)),
        point('tcp-echo.nine', nine),
        point('x'.repeat(200), { ['n'.repeat(31)]: 'v'.repeat(200) }),
      ),
    ),
    {},
  );
});

test('each warning code with its message, path and labels', () => {
  const ten = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`l${i}`, 'v']));
  const report = checkPortability(
    snapshot(
      point('m.nan', {}, Number.NaN),
      point('m.inf', {}, Number.POSITIVE_INFINITY),
      point('m.hist', {}, histogram(51)),
      point('m.ten', ten),
      point('m.host', { host: 'a' }),
      point('m.service', { service: 'a' }),
      point('m.name', { ['n'.repeat(32)]: 'v' }),
      point('m.value', { a: 'v'.repeat(201) }),
      point('p'.repeat(201)),
      point('m.x', { a: '1' }),
      point('m.x', { a: '1', b: '2' }),
    ),
  );
  assert.deepEqual(Object.keys(report).sort(), [
    'histogram_buckets_count',
    'inf',
    'label_name_length',
    'label_name_mismatch',
    'label_reserved_host',
    'label_reserved_service',
    'label_value_length',
    'labels_count',
    'nan',
    'path_length',
  ]);
  assert.deepEqual(report.label_name_mismatch, [
    {
      error_message: "Same path 'm.x' has metrics with different labels set: 'a' vs 'a, b'",
      path: 'm.x',
      labels: { a: '1', b: '2' },
    },
  ]);
  assert.equal(report.nan?.[0]?.path, 'm.nan');
  assert.equal(report.labels_count?.[0]?.path, 'm.ten');
});

test('prefix: only paths that start with it are checked', () => {
  const s = snapshot(point('a.x', {}, Number.NaN), point('b.x', {}, Number.NaN));
  assert.deepEqual(Object.keys(checkPortability(s, 'a')), ['nan']);
  assert.equal(checkPortability(s, 'a').nan?.length, 1);
  assert.deepEqual(checkPortability(s, 'c'), {});
  assert.equal(checkPortability(s).nan?.length, 2);
});
