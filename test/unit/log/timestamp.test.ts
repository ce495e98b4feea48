import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatLogTimestamp, logTimestamp, nowEpochMicros } from '../../../src/log/timestamp.js';

describe('log timestamps', () => {
  it('formats UTC with six fractional digits, as userver does', () => {
    const micros = Date.UTC(2026, 10, 28, 8, 0, 0) * 1000 + 123_456;
    assert.equal(formatLogTimestamp(micros), '2026-11-28T08:00:00.123456');
    assert.equal(formatLogTimestamp(micros - 123_456 + 7), '2026-11-28T08:00:00.000007');
    assert.equal(formatLogTimestamp(micros + 1_000_000 - 123_456), '2026-11-28T08:00:01.000000');
  });

  it('uses the right second across the cache boundary', () => {
    const base = Date.UTC(2030, 0, 1, 0, 0, 59) * 1000;
    assert.equal(formatLogTimestamp(base + 999_999), '2030-01-01T00:00:59.999999');
    assert.equal(formatLogTimestamp(base + 1_000_000), '2030-01-01T00:01:00.000000');
    assert.equal(formatLogTimestamp(base + 999_999), '2030-01-01T00:00:59.999999');
  });

  it('tracks the wall clock', () => {
    const before = Date.now() * 1000;
    const now = nowEpochMicros();
    const after = Date.now() * 1000 + 1000;
    // Monotonic + offset may differ from Date.now() by a millisecond or two of rounding.
    assert.ok(now >= before - 5000 && now <= after + 5000, `${now} not within [${before}, ${after}]`);
    assert.match(logTimestamp(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
  });
});
