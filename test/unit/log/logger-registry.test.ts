import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BoundFields } from '../../../src/log/logger.js';
import { LoggerRegistry } from '../../../src/log/logger-registry.js';
import { QueuedSink } from '../../../src/log/queued-sink.js';
import { MemoryTarget } from './memory-target.js';

const TSKV_HEAD = /^tskv\ttimestamp=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\t/;

function setup() {
  const target = new MemoryTarget();
  const registry: LoggerRegistry = new LoggerRegistry({
    defaultSink: () => new QueuedSink(target, { maxLines: 1000, maxChars: 1 << 20, counters: registry.counters }),
  });
  const flush = () => registry.current().sink.flush(2000);
  return { registry, target, flush };
}

/** The part of a tskv line after the timestamp. */
function tail(line: string): string {
  assert.match(line, TSKV_HEAD);
  return line.replace(TSKV_HEAD, '');
}

describe('LoggerRegistry', () => {
  it('starts at info in tskv and writes only info and above', async () => {
    const { registry, target, flush } = setup();
    const log = registry.getLogger('mod');
    log.trace('t');
    log.debug('d');
    log.info('i');
    log.warning('w');
    log.error('e');
    log.critical('c');
    await flush();
    assert.deepEqual(target.lines().map(tail), [
      'level=INFO\tmodule=mod\ttext=i',
      'level=WARNING\tmodule=mod\ttext=w',
      'level=ERROR\tmodule=mod\ttext=e',
      'level=CRITICAL\tmodule=mod\ttext=c',
    ]);
    assert.deepEqual(registry.stats().byLevel, { trace: 0, debug: 0, info: 1, warning: 1, error: 1, critical: 1 });
    assert.equal(registry.stats().written, 4);
  });

  it('makes disabled levels the same no-op function, chosen when the level is set', () => {
    const { registry } = setup();
    const a = registry.getLogger('a');
    const b = registry.getLogger('b');
    assert.equal(a.debug, b.debug, 'one shared no-op');
    assert.equal(a.trace, a.debug);
    assert.notEqual(a.info, a.debug);
    registry.setLevel('error');
    assert.equal(a.info, a.debug);
    assert.notEqual(a.error, a.debug);
    assert.equal(a.isEnabled('warning'), false);
    assert.equal(a.isEnabled('critical'), true);
  });

  it('updates loggers created before a level change, children included', async () => {
    const { registry, target, flush } = setup();
    const early = registry.getLogger('early');
    const child = early.child({ fd: 3 });
    early.debug('hidden');
    child.debug('hidden');
    registry.setLevel('debug');
    early.debug('shown');
    child.debug('shown too');
    registry.setLevel('none');
    early.critical('hidden');
    child.critical('hidden');
    assert.equal(early.isEnabled('critical'), false);
    await flush();
    assert.deepEqual(target.lines().map(tail), [
      'level=DEBUG\tmodule=early\ttext=shown',
      'level=DEBUG\tmodule=early\ttext=shown too\tfd=3',
    ]);
  });

  it('binds child fields once and adds the call\'s fields after them', async () => {
    const { registry, target, flush } = setup();
    const log = registry.getLogger('tcp-echo');
    const conn = log.child({ trace_id: 'abc', span_id: 'def' });
    const grandchild = conn.child({ fd: 9 });
    conn.info('opened', { peer: '127.0.0.1' });
    grandchild.warning('closed', { reason: 'reset' });
    log.info('plain');
    await flush();
    assert.deepEqual(target.lines().map(tail), [
      'level=INFO\tmodule=tcp-echo\ttext=opened\ttrace_id=abc\tspan_id=def\tpeer=127.0.0.1',
      'level=WARNING\tmodule=tcp-echo\ttext=closed\ttrace_id=abc\tspan_id=def\tfd=9\treason=reset',
      'level=INFO\tmodule=tcp-echo\ttext=plain',
    ]);
  });

  it('writes fields bound by bind() as a child\'s would be, in tskv, in JSON and under a further child', async () => {
    const { registry, target, flush } = setup();
    const log = registry.getLogger('tcp-echo').child({ listener: 'main' });
    const ids = Buffer.from('00ff10a0' + '0123456789abcdef'.repeat(2) + 'fedcba98', 'hex');
    let asked = 0;
    const bound: BoundFields = {
      fields() {
        asked++;
        return { trace_id: ids.toString('hex', 0, 8), fd: 17 };
      },
      writeTskv: (out) => out.text('\ttrace_id=') && out.hex(ids, 0, 8) && out.text('\tfd=') && out.number(17),
    };
    const conn = log.bind(bound);
    conn.info('opened', { peer: '127.0.0.1' });
    conn.child({ extra: 'x' }).warning('inner');
    assert.equal(conn.isEnabled('info'), true);
    await flush();
    assert.deepEqual(target.lines().map(tail), [
      'level=INFO\tmodule=tcp-echo\ttext=opened\tlistener=main\ttrace_id=00ff10a001234567\tfd=17\tpeer=127.0.0.1',
      'level=WARNING\tmodule=tcp-echo\ttext=inner\tlistener=main\ttrace_id=00ff10a001234567\tfd=17\textra=x',
    ]);
    assert.equal(asked, 1, 'tskv bytes need no fields(); only the further child encoded them, once');
    registry.configure({ level: 'info', format: 'json', sink: registry.defaultSink() });
    conn.info('json');
    await flush();
    const parsed = JSON.parse(target.lines().at(-1) as string) as Record<string, unknown>;
    delete parsed.timestamp;
    assert.deepEqual(parsed, { level: 'INFO', module: 'tcp-echo', text: 'json', listener: 'main', trace_id: '00ff10a001234567', fd: 17 });
  });

  it('hands the testsuite tee the same line for a bind() child as the sink gets', async () => {
    const { registry, target, flush } = setup();
    const teed: string[] = [];
    registry.setTee((line) => teed.push(line));
    const bound: BoundFields = { fields: () => ({ fd: 3 }), writeTskv: (out) => out.text('\tfd=') && out.number(3) };
    registry.getLogger('m').bind(bound).info('x');
    await flush();
    assert.deepEqual(target.lines().map(tail), ['level=INFO\tmodule=m\ttext=x\tfd=3']);
    assert.deepEqual(teed.map((l) => tail(l.trimEnd())), ['level=INFO\tmodule=m\ttext=x\tfd=3']);
  });

  it('keeps bound fields exact whatever their characters: one, non-ASCII, a lone surrogate', async () => {
    const { registry, target, flush } = setup();
    const log = registry.getLogger('m');
    log.child({ a: 'x' }).info('short');
    log.child({ peer: 'café ☕', odd: 'a\uD800b' }).info('wide');
    await flush();
    const lines = target.lines().map(tail);
    assert.equal(lines[0], 'level=INFO\tmodule=m\ttext=short\ta=x');
    // The memory target decodes UTF-8: the lone surrogate arrives as U+FFFD, as in any UTF-8 file.
    assert.equal(lines[1], 'level=INFO\tmodule=m\ttext=wide\tpeer=café ☕\todd=a\uFFFDb');
  });

  it('switches existing loggers to JSON with the same information', async () => {
    const { registry, target, flush } = setup();
    const log = registry.getLogger('m');
    const child = log.child({ trace_id: 'abc', fd: 4 });
    registry.configure({ level: 'info', format: 'json', sink: registry.defaultSink() });
    child.info('hello', { n: 1 });
    await flush();
    const [line] = target.lines();
    const parsed = JSON.parse(line as string) as Record<string, unknown>;
    assert.match(parsed.timestamp as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    delete parsed.timestamp;
    assert.deepEqual(parsed, { level: 'INFO', module: 'm', text: 'hello', trace_id: 'abc', fd: 4, n: 1 });
  });

  it('returns the same logger for a module and still logs from a detached method', async () => {
    const { registry, target, flush } = setup();
    assert.equal(registry.getLogger('x'), registry.getLogger('x'));
    const { info } = registry.getLogger('x');
    info('detached');
    await flush();
    assert.deepEqual(target.lines().map(tail), ['level=INFO\tmodule=x\ttext=detached']);
  });

  it('never throws from a logging call, and counts a line it cannot format as failed', () => {
    const { registry } = setup();
    const log = registry.getLogger('x');
    const hostile = { toString: () => { throw new Error('no'); } };
    assert.doesNotThrow(() => log.info('bad field', { f: hostile as unknown as string }));
    assert.equal(registry.stats().failed, 1);
    assert.doesNotThrow(() => log.info(hostile as unknown as string));
    assert.equal(registry.stats().failed, 2);
    assert.equal(registry.stats().byLevel.info, 2);
  });

  it('reset() returns to info/tskv on the default sink and hands back the configured sink', () => {
    const { registry } = setup();
    const other = new QueuedSink(new MemoryTarget(), { maxLines: 10, maxChars: 1000, counters: registry.counters });
    registry.configure({ level: 'trace', format: 'json', sink: other });
    assert.equal(registry.reset(), other);
    const { level, format, sink } = registry.current();
    assert.deepEqual([level, format, sink], ['info', 'tskv', registry.defaultSink()]);
  });
});
