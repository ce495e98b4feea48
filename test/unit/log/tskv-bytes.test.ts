/** The tskv line written straight into bytes is the string encoder's line, byte for byte. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LineLevel } from '../../../src/log/line-encoder.js';
import type { BoundFields, LogFields } from '../../../src/log/logger.js';
import { formatLogTimestamp } from '../../../src/log/timestamp.js';
import { tskvEncoder } from '../../../src/log/tskv.js';
import { writeTskvLine } from '../../../src/log/tskv-bytes.js';

interface Case {
  readonly micros: number;
  readonly level: LineLevel;
  readonly module: string;
  readonly text: string;
  readonly bound: LogFields | undefined;
  readonly fields: LogFields | undefined;
}

const SECOND = 1_764_662_400; // 2025-12-02T08:00:00Z
const base: Case = { micros: SECOND * 1e6 + 123_456, level: 'info', module: 'tcp-echo', text: 'Closing socket', bound: undefined, fields: undefined };

const CASES: Case[] = [
  base,
  { ...base, bound: { trace_id: '0123456789abcdef0123456789abcdef', span_id: '0123456789abcdef', fd: 23 }, fields: { reason: 'eof', bytes_read: 32, bytes_written: 32, duration_ms: 1, error: undefined } },
  { ...base, micros: SECOND * 1e6, level: 'warning' },
  { ...base, micros: SECOND * 1e6 + 42, level: 'critical' },
  { ...base, micros: SECOND * 1e6 + 999_999, level: 'trace' },
  { ...base, text: 'tab\there, new\nline, cr\r, nul\0, back\\slash' },
  { ...base, text: 'café ☕ — ünïcödé', module: 'módulo' },
  { ...base, text: 'lone \uD800 surrogate', fields: { odd: 'x\uDC00y', pair: '😀' } },
  { ...base, fields: { a: 0, b: 7, c: 10, d: 99, e: 100, f: 123_456_789, g: -1, h: 1.5, i: Number.NaN, j: Number.POSITIVE_INFINITY, k: 2 ** 53, l: -0, m: 1e21 } },
  { ...base, fields: { yes: true, no: false, gone: undefined, empty: '' } },
  { ...base, fields: { 'Key.With=Odd': 'v', 'tab\tkey': 'w' } },
  { ...base, text: '', fields: { value: 'a=b c\td\\e' } },
  { ...base, text: 'é\t after a non-ASCII start' },
];

function stringLine(c: Case): Buffer {
  const bound = tskvEncoder.fieldsPart(c.bound);
  return Buffer.from(tskvEncoder.line(formatLogTimestamp(c.micros), c.level, tskvEncoder.modulePart(c.module), c.text, bound, c.fields), 'utf8');
}

function directLine(c: Case, room = 4096): Buffer | undefined {
  const buf = Buffer.alloc(room + 20, 0xee);
  const at = 7;
  const end = writeTskvLine(buf, at, at + room, c.micros, c.level, tskvEncoder.modulePart(c.module), c.text, tskvEncoder.fieldsPart(c.bound), c.fields);
  if (end < 0) return undefined;
  assert.ok(end <= at + room, 'never past the limit');
  assert.equal(buf[end], 0xee, 'nothing written past the end it reports');
  return buf.subarray(at, end);
}

test('every line is the string encoder\'s line, byte for byte', () => {
  for (const c of CASES) {
    const direct = directLine(c);
    assert.ok(direct !== undefined, `fits: ${JSON.stringify(c.text)}`);
    assert.equal(direct.toString('hex'), stringLine(c).toString('hex'), JSON.stringify({ text: c.text, fields: c.fields }));
  }
});

test('a line that does not fit its room is abandoned, and fits once the room is large enough', () => {
  const long: Case = { ...base, text: 'x'.repeat(500), fields: { peer: 'y'.repeat(300) } };
  assert.equal(directLine(long, 200), undefined);
  assert.equal(directLine(base, 40), undefined, 'cut off in the middle of the timestamp');
  assert.equal(directLine(long, 8192)?.toString('hex'), stringLine(long).toString('hex'));
});

test('fields bound as bytes (BoundFields) are written as the string encoder writes their fields()', () => {
  const ids = Buffer.alloc(40);
  for (let i = 0; i < ids.length; i++) ids[i] = (i * 37 + 11) & 0xff;
  ids[3] = 0;
  ids[4] = 0xff;
  const bound: BoundFields = {
    fields: () => ({ trace_id: ids.toString('hex', 2, 18), span_id: ids.toString('hex', 18, 26), fd: 1234 }),
    writeTskv: (out) =>
      out.text('\ttrace_id=') && out.hex(ids, 2, 18) && out.text('\tspan_id=') && out.hex(ids, 18, 26) && out.text('\tfd=') && out.number(1234),
  };
  const c: Case = { ...base, bound: { listener: 'a' }, fields: { reason: 'eof', bytes_read: 32 } };
  const expected = Buffer.from(
    tskvEncoder.line(formatLogTimestamp(c.micros), c.level, tskvEncoder.modulePart(c.module), c.text, tskvEncoder.fieldsPart({ ...c.bound, ...bound.fields() }), c.fields),
    'utf8',
  );
  const buf = Buffer.alloc(4096);
  const end = writeTskvLine(buf, 0, 4096, c.micros, c.level, tskvEncoder.modulePart(c.module), c.text, tskvEncoder.fieldsPart(c.bound), c.fields, bound);
  assert.equal(buf.subarray(0, end).toString(), expected.toString());
  // Out of room inside the bound fields: nothing counts as written.
  const tight = expected.indexOf('trace_id=') + 'trace_id='.length + 10;
  const part = tskvEncoder.fieldsPart(c.bound);
  assert.equal(writeTskvLine(Buffer.alloc(tight), 0, tight, c.micros, c.level, tskvEncoder.modulePart(c.module), c.text, part, c.fields, bound), -1);
});

test('lines across second boundaries, long texts and large numbers, written again and again, stay the string encoder\'s', () => {
  const cases: Case[] = [
    ...CASES,
    // Across second boundaries, back and forth (the second's text is cached).
    { ...base, micros: SECOND * 1e6 + 999_999 },
    { ...base, micros: (SECOND + 1) * 1e6 },
    { ...base, micros: SECOND * 1e6 + 1 },
    { ...base, micros: (SECOND + 86_400) * 1e6 + 500_000 },
    // Past the cached text length, with escapes and non-ASCII.
    { ...base, text: `${'long text '.repeat(8)}\twith a tab, é and \\` },
    // Digits on both sides of 2^31.
    { ...base, fields: { a: 2_147_483_647, b: 2_147_483_648, c: 4_294_967_296, d: Number.MAX_SAFE_INTEGER, e: 999_999_999_999 } },
  ];
  for (let pass = 0; pass < 3; pass++) {
    for (const c of cases) {
      const direct = directLine(c);
      assert.ok(direct !== undefined);
      assert.equal(direct.toString('hex'), stringLine(c).toString('hex'), `pass ${pass}: ${JSON.stringify({ micros: c.micros, text: c.text, fields: c.fields })}`);
    }
  }
});

test('many distinct texts, keys and modules are each written exactly', () => {
  // More distinct keys than tskv.ts keeps escaped (512): the rest are escaped as they come.
  for (let i = 0; i < 1200; i++) {
    const c: Case = { ...base, module: `module-${i}`, text: `text ${i}\twith a tab`, fields: { [`key_${i}`]: `value ${i}`, [`Odd.Key=${i}`]: i } };
    const direct = directLine(c);
    assert.ok(direct !== undefined);
    assert.equal(direct.toString('hex'), stringLine(c).toString('hex'), JSON.stringify(c.fields));
  }
});
