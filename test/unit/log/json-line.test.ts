import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonEncoder, jsonFields } from '../../../src/log/json-line.js';

const TS = '2026-11-28T08:00:00.123456';

function line(text: string, bound = {}, fields?: Record<string, string | number | boolean | undefined>) {
  return jsonEncoder.line(TS, 'error', jsonEncoder.modulePart('tcp-echo'), text, jsonEncoder.fieldsPart(bound), fields);
}

describe('JSON line encoder', () => {
  it('writes one object per line with timestamp, level, module, text, then the fields', () => {
    assert.equal(
      line('socket error', { trace_id: 'aa', span_id: 'bb', fd: 12 }, { error: 'ECONNRESET', fatal: false }),
      '{"timestamp":"2026-11-28T08:00:00.123456","level":"ERROR","module":"tcp-echo","text":"socket error",' +
        '"trace_id":"aa","span_id":"bb","fd":12,"error":"ECONNRESET","fatal":false}\n',
    );
  });

  it('escapes quotes, control characters and backslashes so every line parses', () => {
    const text = 'a"b\\c\nd\te\0f\u2028';
    const out = line(text, {}, { 'we"ird\nkey': 'x' });
    assert.equal(out.split('\n').length, 2, 'exactly one newline, at the end');
    const parsed = JSON.parse(out) as Record<string, unknown>;
    assert.equal(parsed.text, text);
    assert.equal(parsed['we"ird\nkey'], 'x');
  });

  it('writes non-finite numbers as strings (JSON has no NaN) and leaves undefined out', () => {
    assert.equal(jsonFields({ a: Number.NaN, b: Infinity, c: undefined, d: 2 }), ',"a":"NaN","b":"Infinity","d":2');
    assert.equal(jsonFields(undefined), '');
  });
});
