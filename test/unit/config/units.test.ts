import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseDuration, parseSize } from '../../../src/config/units.js';
import { duration, size, validate } from '../../../src/config/schema.js';
import { ConfigValueError } from '../../../src/errors.js';

describe('durations', () => {
  test('suffixes ms, s, m, h and bare numbers (milliseconds)', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('10s'), 10_000);
    assert.equal(parseDuration('1.5m'), 90_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration(250), 250);
    assert.equal(parseDuration('250'), 250);
    assert.equal(parseDuration(' 2 s '), 2000);
  });

  test('malformed values are undefined', () => {
    for (const bad of ['', 's', '10 sec', '-1s', '1d', '1S', 'ten', -5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.equal(parseDuration(bad), undefined, String(bad));
    }
  });

  test('schema duration() converts and bounds-checks with the key path', () => {
    const schema = duration({ description: 'd', minimum: 0, maximum: 60_000 });
    assert.equal(validate(schema, '30s', { file: 'f', keyPath: 'a.b' }), 30_000);
    assert.throws(
      () => validate(schema, '2m', { file: 'f', keyPath: 'a.b' }),
      (error: unknown) => error instanceof ConfigValueError && /^f: a\.b: 120000 is out of range/.test(error.message),
    );
    assert.throws(() => validate(schema, '2 weeks', { file: 'f', keyPath: 'a.b' }), /"2 weeks" is not valid: expected a duration/);
  });
});

describe('sizes', () => {
  test('suffixes B, KiB, MiB, GiB and bare numbers (bytes)', () => {
    assert.equal(parseSize('512B'), 512);
    assert.equal(parseSize('64KiB'), 65_536);
    assert.equal(parseSize('1MiB'), 1_048_576);
    assert.equal(parseSize('2GiB'), 2 * 1024 ** 3);
    assert.equal(parseSize(4096), 4096);
    assert.equal(parseSize('1.5KiB'), 1536);
  });

  test('fractions of a byte and unknown units are rejected', () => {
    for (const bad of ['1.5B', '64KB', '1mb', 'x', '', 0.5]) assert.equal(parseSize(bad), undefined, String(bad));
  });

  test('schema size() converts with defaults', () => {
    const schema = size({ description: 's', default: '64KiB' });
    assert.equal(validate(schema, undefined, { file: 'f', keyPath: 'k' }), 65_536);
    assert.equal(validate(schema, '1MiB', { file: 'f', keyPath: 'k' }), 1_048_576);
  });
});
