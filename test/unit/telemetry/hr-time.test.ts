/**
 * The connection spans' times (src/telemetry/tracing/hr-time.ts) are OpenTelemetry core's
 * `hrTime(ms)` to the nanosecond: every value, as an array and part by part, is compared with
 * core's own result.
 */
import { hrTime } from '@opentelemetry/core';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { performance } from 'node:perf_hooks';
import { hrNanosAt, hrSecondsAt, hrTimeAt } from '../../../src/telemetry/tracing/hr-time.js';

test('hrTimeAt and its two parts give what core hrTime gives: sub-millisecond parts, carries into the next second, long uptimes', () => {
  const now = performance.now();
  const values = [0, 0.000_001, 0.5, 999.999_999, 999.999_999_9, 1000, 1234.567_891, now, now + 0.123_456, 86_400_000.000_1, 31_536_000_000.999];
  // Values that land on either side of a carry with this process's time origin.
  const toNextSecond = 1000 - (performance.timeOrigin % 1000);
  for (const delta of [-0.000_001, -0.000_000_6, -0.000_000_4, 0, 0.000_000_4, 0.000_001]) values.push(toNextSecond + delta, 4000 + toNextSecond + delta);
  let seed = 12_345;
  for (let i = 0; i < 10_000; i++) {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    values.push((seed / 2_147_483_648) * 10_000_000);
  }
  let carries = 0;
  for (const ms of values) {
    const expected = hrTime(ms);
    assert.deepEqual(hrTimeAt(ms), expected, `performance.now() = ${ms}`);
    assert.deepEqual([hrSecondsAt(ms), hrNanosAt(ms)], expected, `parts of performance.now() = ${ms}`);
    if (expected[1] < 1_000_000) carries++;
  }
  assert.ok(carries >= 3, `the carry cases are among the values (${carries} with under 1 ms of nanoseconds)`);
});
