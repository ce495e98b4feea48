/** A prepared line is the line its level method writes with the same fields, in every format and case. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BoundFields, LogFields } from '../../../src/log/logger.js';
import { LoggerRegistry } from '../../../src/log/logger-registry.js';
import { prepareLine, type LineValue, type PreparedLine } from '../../../src/log/prepared-line.js';
import { QueuedSink } from '../../../src/log/queued-sink.js';
import { tskvEncoder } from '../../../src/log/tskv.js';
import { writePreparedTskvLine, writeTskvLine } from '../../../src/log/tskv-bytes.js';
import { MemoryTarget } from './memory-target.js';

const SECOND = 1_764_662_400; // 2025-12-02T08:00:00Z
const MICROS = SECOND * 1e6 + 4_321;

type Values = [LineValue?, LineValue?, LineValue?, LineValue?, LineValue?];

const ACCEPTED = prepareLine('info', 'Accepted connection', ['sock_number', 'peer_address', 'peer_port']);
const CLOSING = prepareLine('warning', 'Closing socket', ['reason', 'bytes_read', 'bytes_written', 'duration_ms', 'error']);
const ODD = prepareLine('error', 'tab\there, é, new\nline', ['Key.With=Odd', 'tab\tkey', 'é']);
const NONE = prepareLine('critical', 'no fields', []);

/** [line, values] pairs covering every value kind the key walk distinguishes. */
const CASES: Array<[PreparedLine, Values]> = [
  [ACCEPTED, [1, '127.0.0.1', 54_321]],
  [ACCEPTED, [2, undefined, undefined]],
  [ACCEPTED, [3, '::1%lo', 0]],
  [CLOSING, ['eof', 32, 32, 0, undefined]],
  [CLOSING, ['error', 0, 2 ** 53, 1.5, 'ECONNRESET']],
  [CLOSING, ['reset', -1, Number.NaN, Number.POSITIVE_INFINITY, 'a message\twith a tab, \\ and \n']],
  [CLOSING, [true, false, -0, 1e21, 'lone \uD800 surrogate 😀']],
  [ODD, ['', 'x=y', 'ünï']],
  [NONE, []],
];

function fieldsOf(line: PreparedLine, values: Values): LogFields {
  return line.fields(values[0], values[1], values[2], values[3], values[4]);
}

/** A BoundFields as a connection's trace gives it: ids as bytes, the fd as a number. */
const ids = Buffer.from('0123456789abcdef0123456789abcdef0123456789abcdef', 'hex');
const BOUND: BoundFields = {
  fields: () => ({ trace_id: ids.toString('hex', 0, 16), span_id: ids.toString('hex', 16, 24), fd: 23 }),
  writeTskv: (out) => out.text('\ttrace_id=') && out.hex(ids, 0, 16) && out.text('\tspan_id=') && out.hex(ids, 16, 24) && out.text('\tfd=') && out.number(23),
};

function bytesOf(write: (buf: Buffer, at: number, limit: number) => number, room = 4096): Buffer | undefined {
  const buf = Buffer.alloc(room + 16, 0xee);
  const end = write(buf, 5, 5 + room);
  if (end < 0) return undefined;
  assert.equal(buf[end], 0xee, 'nothing written past the end it reports');
  return Buffer.from(buf.subarray(5, end));
}

describe('prepared lines', () => {
  it('writes the bytes the generic tskv writer writes for the same fields, bound fields and parts', () => {
    const modulePart = tskvEncoder.modulePart('tcp-echo');
    for (const boundPart of ['', tskvEncoder.fieldsPart({ worker: 1, pid: 4242 })]) {
      for (const bound of [undefined, BOUND]) {
        for (const [line, values] of CASES) {
          const generic = bytesOf((buf, at, limit) =>
            writeTskvLine(buf, at, limit, MICROS, line.level, modulePart, line.text, boundPart, fieldsOf(line, values), bound),
          );
          const prepared = bytesOf((buf, at, limit) =>
            writePreparedTskvLine(buf, at, limit, MICROS, line, modulePart, boundPart, bound, values[0], values[1], values[2], values[3], values[4]),
          );
          assert.ok(generic !== undefined && prepared !== undefined);
          assert.equal(prepared.toString('hex'), generic.toString('hex'), `${line.text} ${JSON.stringify(values)}`);
        }
      }
    }
  });

  it('at any limit writes the whole line within it or gives up (-1) with nothing counted, as the generic writer does', () => {
    const modulePart = tskvEncoder.modulePart('tcp-echo');
    const values: Values = ['eof', 32, 32, 0, 'x'];
    const full = bytesOf((buf, at, limit) => writePreparedTskvLine(buf, at, limit, MICROS, CLOSING, modulePart, '', BOUND, ...values));
    assert.ok(full !== undefined);
    let fitted = 0;
    // Both writers reserve room for a string piece by its worst case (6 bytes per unit), so where
    // exactly each gives up differs; what both promise is the whole line or nothing.
    for (let room = 0; room < 6 * full.length; room++) {
      const prepared = bytesOf((buf, at, limit) => writePreparedTskvLine(buf, at, limit, MICROS, CLOSING, modulePart, '', BOUND, ...values), room);
      if (prepared === undefined) continue;
      fitted++;
      assert.ok(room >= full.length, `room ${room}`);
      assert.equal(prepared.toString('hex'), full.toString('hex'), `room ${room}`);
    }
    assert.ok(fitted > 0);
    assert.equal(bytesOf((buf, at, limit) => writePreparedTskvLine(buf, at, limit, MICROS, CLOSING, modulePart, '', BOUND, ...values), full.length - 1), undefined);
  });

  it('refuses more than five keys, or a key twice', () => {
    assert.throws(() => prepareLine('info', 't', ['a', 'b', 'c', 'd', 'e', 'f']), RangeError);
    assert.throws(() => prepareLine('info', 't', ['a', 'a']), RangeError);
  });

  for (const format of ['tskv', 'json'] as const) {
    it(`through a logger (${format}): the level method's line, with a child's and a bound child's fields, at every level setting`, async () => {
      const target = new MemoryTarget();
      const registry: LoggerRegistry = new LoggerRegistry();
      const sink = new QueuedSink(target, { maxLines: 1000, maxChars: 1 << 20, counters: registry.counters });
      registry.configure({ level: 'info', format, sink });
      const root = registry.getLogger('tcp-echo');
      const loggers = [root, root.child({ worker: 2 }), root.child({ worker: 2 }).bind(BOUND)];
      const expected: string[] = [];
      const got: string[] = [];
      for (const level of ['trace', 'info', 'warning', 'none'] as const) {
        registry.setLevel(level);
        for (const logger of loggers) {
          for (const [line, values] of CASES) {
            const before = target.lines().length;
            logger[line.level](line.text, fieldsOf(line, values));
            logger.line(line, ...values);
            await sink.flush(2000);
            const lines = target.lines().slice(before);
            const enabled = registry.isEnabled(line.level);
            assert.equal(lines.length, enabled ? 2 : 0, `${level}: ${line.level} written ${enabled ? 'twice' : 'never'}`);
            if (lines.length === 2) {
              expected.push(withoutTime(lines[0] as string));
              got.push(withoutTime(lines[1] as string));
            }
          }
        }
      }
      assert.ok(got.length > 40);
      assert.deepEqual(got, expected);
      const byLevel = registry.stats().byLevel;
      assert.equal(byLevel.info + byLevel.warning + byLevel.error + byLevel.critical, 2 * got.length, 'each counted once by level');
    });
  }

  it('hands the testsuite tee the same line, and takes the string path for a line longer than the direct room', async () => {
    const target = new MemoryTarget();
    const registry: LoggerRegistry = new LoggerRegistry();
    const sink = new QueuedSink(target, { maxLines: 1000, maxChars: 1 << 20, counters: registry.counters });
    registry.configure({ level: 'info', format: 'tskv', sink });
    const log = registry.getLogger('tcp-echo').bind(BOUND);
    const long = 'é'.repeat(3000);
    log.line(CLOSING, 'error', 1, 2, 3, long);
    const teed: string[] = [];
    registry.setTee((line) => teed.push(line));
    log.line(ACCEPTED, 7, '10.0.0.1', 80);
    registry.setTee(undefined);
    await sink.flush(2000);
    const lines = target.lines().map(withoutTime);
    assert.equal(lines.length, 2);
    assert.equal(lines[0], withoutTime(tskvEncoder.line('T', 'warning', tskvEncoder.modulePart('tcp-echo'), 'Closing socket', tskvEncoder.fieldsPart(BOUND.fields()), fieldsOf(CLOSING, ['error', 1, 2, 3, long])).slice(0, -1)));
    assert.equal(teed.length, 1);
    assert.equal(withoutTime(teed[0]!.slice(0, -1)), lines[1]);
    assert.match(lines[1] as string, /\ttext=Accepted connection\ttrace_id=0123456789abcdef0123456789abcdef\tspan_id=0123456789abcdef\tfd=23\tsock_number=7\tpeer_address=10\.0\.0\.1\tpeer_port=80$/);
  });
});

/** A line with its timestamp cut out (tskv `timestamp=...`, JSON `"timestamp":"..."`). */
function withoutTime(line: string): string {
  return line.replace(/timestamp=[^\t]*/, 'timestamp=T').replace(/"timestamp":"[^"]*"/, '"timestamp":"T"');
}
