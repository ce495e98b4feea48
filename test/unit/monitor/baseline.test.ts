/** reset_metrics' baseline: RATE and HIST_RATE restart from zero in the view, GAUGE untouched. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ResetBaseline } from '../../../src/telemetry/metrics/baseline.js';
import type { MetricPoint, MetricsSnapshot } from '../../../src/telemetry/metrics/snapshot.js';

const snap = (points: MetricPoint[]): MetricsSnapshot => ({ timestampMs: 0, points });
const rate = (path: string, value: number, labels: Record<string, string> = {}): MetricPoint => ({ path, labels, type: 'RATE', value });

test('no reset: the snapshot passes through unchanged', () => {
  const s = snap([rate('a', 5)]);
  assert.equal(new ResetBaseline().apply(s), s);
});

test('after a reset counters count from zero, per label set; gauges keep their value', () => {
  const baseline = new ResetBaseline();
  baseline.capture(
    snap([
      rate('opened', 10),
      rate('reasons', 4, { reason: 'eof' }),
      rate('reasons', 1, { reason: 'reset' }),
      { path: 'active', labels: {}, type: 'GAUGE', value: 7 },
      { path: 'duration', labels: {}, type: 'HIST_RATE', value: { bounds: [1, 2], buckets: [5, 1], inf: 2 } },
    ]),
  );
  const after = baseline.apply(
    snap([
      rate('opened', 12),
      rate('reasons', 4, { reason: 'eof' }),
      rate('reasons', 3, { reason: 'reset' }),
      rate('new', 9),
      { path: 'active', labels: {}, type: 'GAUGE', value: 8 },
      { path: 'duration', labels: {}, type: 'HIST_RATE', value: { bounds: [1, 2], buckets: [6, 1], inf: 4 } },
    ]),
  );
  assert.deepEqual(
    after.points.map((p) => [p.path, p.labels, p.value]),
    [
      ['opened', {}, 2],
      ['reasons', { reason: 'eof' }, 0],
      ['reasons', { reason: 'reset' }, 2],
      ['new', {}, 9],
      ['active', {}, 8],
      ['duration', {}, { bounds: [1, 2], buckets: [1, 0], inf: 2 }],
    ],
  );
});

test('a counter below its baseline (its source restarted) shows its own value, never a negative', () => {
  const baseline = new ResetBaseline();
  baseline.capture(snap([rate('x', 100)]));
  assert.equal(baseline.apply(snap([rate('x', 3)])).points[0]?.value, 3);
});

test('a second reset replaces the first', () => {
  const baseline = new ResetBaseline();
  baseline.capture(snap([rate('x', 10)]));
  baseline.capture(snap([rate('x', 15)]));
  assert.equal(baseline.apply(snap([rate('x', 16)])).points[0]?.value, 1);
});
