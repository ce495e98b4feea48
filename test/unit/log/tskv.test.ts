import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeTskvKey, escapeTskvValue, tskvEncoder, tskvFields } from '../../../src/log/tskv.js';

const TS = '2026-11-28T08:00:00.123456';

/** A whole line through the encoder, as a logger would build it (module part precomputed). */
function line(level: Parameters<typeof tskvEncoder.line>[1], module: string, text: string, bound = {}, fields?: Record<string, string | number | boolean | undefined>) {
  return tskvEncoder.line(TS, level, tskvEncoder.modulePart(module), text, tskvEncoder.fieldsPart(bound), fields);
}

describe('tskv encoder', () => {
  it('writes userver\'s line layout exactly', () => {
    assert.equal(
      line('info', 'tcp-echo', 'connection closed', { trace_id: 'aa', span_id: 'bb' }, { fd: 12, reason: 'eof' }),
      'tskv\ttimestamp=2026-11-28T08:00:00.123456\tlevel=INFO\tmodule=tcp-echo\ttext=connection closed' +
        '\ttrace_id=aa\tspan_id=bb\tfd=12\treason=eof\n',
    );
  });

  it('writes every level name in upper case', () => {
    const levels = ['trace', 'debug', 'info', 'warning', 'error', 'critical'] as const;
    for (const level of levels) {
      assert.equal(line(level, 'm', 't'), `tskv\ttimestamp=${TS}\tlevel=${level.toUpperCase()}\tmodule=m\ttext=t\n`);
    }
  });

  it('escapes TAB, CR, LF, NUL and backslash in values, and keeps = and quotes', () => {
    assert.equal(
      line('warning', 'mod\tule', 'a\tb\nc\rd\0e\\f=g"h', {}, { v: 'x\ty=z\\' }),
      'tskv\ttimestamp=2026-11-28T08:00:00.123456\tlevel=WARNING\tmodule=mod\\tule' +
        '\ttext=a\\tb\\nc\\rd\\0e\\\\f=g"h\tv=x\\ty=z\\\\\n',
    );
  });

  it('escapes keys as userver\'s logger does: = escaped, . to _, capitals lowered', () => {
    assert.equal(escapeTskvKey('http.Status=Code\t1'), 'http_status\\=code\\t1');
    assert.equal(escapeTskvKey('plain_key'), 'plain_key');
    assert.equal(escapeTskvKey('a\\b\nc\rd\0'), 'a\\\\b\\nc\\rd\\0');
  });

  it('escapes each special character wherever it is, in short values and long ones alike', () => {
    const escaped: Record<string, string> = { '\t': '\\t', '\r': '\\r', '\n': '\\n', '\0': '\\0', '\\': '\\\\' };
    // Lengths on both sides of the short-value loop's bound (64), the special character first, last, inside.
    for (const length of [1, 2, 63, 64, 65, 200]) {
      for (const [special, escape] of Object.entries(escaped)) {
        for (const at of new Set([0, Math.floor(length / 2), length - 1])) {
          const value = 'a'.repeat(at) + special + 'b'.repeat(length - at - 1);
          assert.equal(escapeTskvValue(value), 'a'.repeat(at) + escape + 'b'.repeat(length - at - 1), `${JSON.stringify(special)} at ${at} of ${length}`);
        }
      }
      const plain = 'x='.repeat(length).slice(0, length);
      assert.equal(escapeTskvValue(plain), plain);
    }
  });

  it('returns values that need no escaping unchanged', () => {
    const value = 'no special characters = here';
    assert.equal(escapeTskvValue(value), value);
  });

  it('writes numbers and booleans as text and leaves undefined fields out', () => {
    assert.equal(tskvFields({ n: 1.5, yes: true, no: false, gone: undefined, s: '' }), '\tn=1.5\tyes=true\tno=false\ts=');
    assert.equal(tskvFields(undefined), '');
  });

  it('keeps non-ASCII text as it is', () => {
    assert.equal(line('info', 'm', 'привет ✓'), `tskv\ttimestamp=${TS}\tlevel=INFO\tmodule=m\ttext=привет ✓\n`);
  });
});
