/**
 * OpenTelemetry core's `hrTime(ms)`: the time origin plus a `performance.now()` value, as
 * [seconds, nanoseconds]. The arithmetic is core's, step for step, so every time is the SDK's to
 * the nanosecond (test/unit/telemetry/hr-time.test.ts). The two parts also come one by one, so
 * the protobuf encoder writes a span's times without an array per time (a seconds part is past
 * V8's small integers, so each array also boxes a number: 64 bytes per time, four per connection).
 */
import type { HrTime } from '@opentelemetry/api';
import { performance } from 'node:perf_hooks';

const ORIGIN_SECONDS = Math.trunc(performance.timeOrigin / 1e3);
const ORIGIN_NANOS = Math.round((performance.timeOrigin % 1e3) * 1e6);

/** The nanoseconds before the carry into the next second. */
function nanosSum(performanceNow: number): number {
  return ORIGIN_NANOS + Math.round((performanceNow % 1e3) * 1e6);
}

export function hrSecondsAt(performanceNow: number): number {
  return ORIGIN_SECONDS + Math.trunc(performanceNow / 1e3) + (nanosSum(performanceNow) >= 1e9 ? 1 : 0);
}

export function hrNanosAt(performanceNow: number): number {
  const nanos = nanosSum(performanceNow);
  return nanos >= 1e9 ? nanos - 1e9 : nanos;
}

export function hrTimeAt(performanceNow: number): HrTime {
  return [hrSecondsAt(performanceNow), hrNanosAt(performanceNow)];
}
