/** The worker log relay's line splitting: whole lines only, partial lines wait, bounded. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineSplitter, MAX_PARTIAL_LINE_CHARS } from '../../../src/cluster/log-relay.js';

test('complete lines pass, a partial line waits for its end', () => {
  const s = new LineSplitter();
  assert.equal(s.push('a=1\tb'), '');
  assert.equal(s.push('=2\nc=3\nd'), 'a=1\tb=2\nc=3\n');
  assert.equal(s.push('=4'), '');
  assert.equal(s.push('\n'), 'd=4\n');
  assert.equal(s.end(), '');
});

test('the rest without a newline is terminated at the end of the stream', () => {
  const s = new LineSplitter();
  assert.equal(s.push('tail'), '');
  assert.equal(s.end(), 'tail\n');
  assert.equal(s.end(), '');
});

test('a line with no newline is passed on once it reaches the bound, so a worker cannot pin memory', () => {
  const s = new LineSplitter();
  const piece = 'x'.repeat(MAX_PARTIAL_LINE_CHARS / 4);
  for (let i = 0; i < 3; i++) assert.equal(s.push(piece), '');
  const out = s.push(piece);
  assert.equal(out.length, MAX_PARTIAL_LINE_CHARS + 1);
  assert.ok(out.endsWith('\n'));
});
