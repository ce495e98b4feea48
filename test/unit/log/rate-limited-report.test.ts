import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RateLimitedReport } from '../../../src/log/rate-limited-report.js';
import { until } from '../../helpers/echo-client.js';

type Line = { count: number; last: string };

function report(intervalMs: number): { lines: Line[]; report: RateLimitedReport<string> } {
  const lines: Line[] = [];
  return { lines, report: new RateLimitedReport<string>(intervalMs, (count, last) => lines.push({ count, last })) };
}

test('the first event is reported at once; a burst after it becomes one line when the interval ends', async () => {
  const { lines, report: r } = report(200);
  r.note('a');
  assert.deepEqual(lines, [{ count: 1, last: 'a' }]);
  r.note('b');
  r.note('c');
  r.note('d');
  // Within the interval nothing more is written, however many events come.
  assert.equal(lines.length, 1);
  await until(() => lines.length === 2, 'the burst line', 30_000);
  assert.deepEqual(lines[1], { count: 3, last: 'd' });
  // Every event is in exactly one line.
  assert.equal(
    lines.reduce((sum, l) => sum + l.count, 0),
    4,
  );
});

test('flush reports what is pending at once and cancels the timer; nothing pending writes nothing', async () => {
  const { lines, report: r } = report(60_000);
  r.flush();
  assert.deepEqual(lines, []);
  r.note('a');
  r.note('b');
  r.note('c');
  assert.equal(lines.length, 1);
  r.flush();
  assert.deepEqual(lines, [
    { count: 1, last: 'a' },
    { count: 2, last: 'c' },
  ]);
  r.flush();
  assert.equal(lines.length, 2);
  // The flush started a new interval: the next event waits for its end (or the next flush).
  r.note('d');
  assert.equal(lines.length, 2, 'an event within the interval after a flush waits for its end');
  r.flush();
  assert.deepEqual(lines[2], { count: 1, last: 'd' });
});

test('an event after a quiet interval is reported at once again', async () => {
  const { lines, report: r } = report(50);
  r.note('a');
  await new Promise((resolve) => setTimeout(resolve, 120));
  r.note('b');
  assert.deepEqual(lines, [
    { count: 1, last: 'a' },
    { count: 1, last: 'b' },
  ]);
});
