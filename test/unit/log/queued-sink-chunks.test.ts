/**
 * Log memory on the connection path (issue 7): lines queued as UTF-8 bytes in reused chunks, and
 * child loggers that encode only the format in use (re-encoding after a switch).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LoggerRegistry } from '../../../src/log/logger-registry.js';
import { QueuedSink } from '../../../src/log/queued-sink.js';
import { MemoryTarget, StuckTarget } from './memory-target.js';

const counters = () => ({ written: 0, dropped: 0, failed: 0 });

describe('QueuedSink byte chunks', () => {
  it('keeps multi-byte text, lines longer than a chunk and chunk boundaries intact and in order', async () => {
    const target = new MemoryTarget();
    const c = counters();
    const s = new QueuedSink(target, { maxLines: 10_000, maxChars: 1 << 24, counters: c });
    const lines: string[] = [];
    // 3-byte characters near every chunk boundary, a 200 KiB line in the middle, a lone surrogate.
    for (let i = 0; i < 3000; i++) lines.push(`${i} ${'€'.repeat(i % 97)} ${'x'.repeat(i % 13)}\n`);
    lines.splice(1500, 0, `${'y'.repeat(200 * 1024)}\n`);
    lines.push('emoji 😀 end\n');
    for (const line of lines) assert.equal(s.push(line), true);
    assert.equal(await s.flush(5000), true);
    assert.equal(target.batches.join(''), lines.join(''));
    assert.equal(c.written, lines.length);
    assert.equal(s.queuedLines, 0);
  });

  it('reuses its chunk after a write without corrupting lines queued during that write', async () => {
    const target = new StuckTarget();
    const c = counters();
    const s = new QueuedSink(target, { maxLines: 1000, maxChars: 1 << 20, counters: c });
    s.push('first\n');
    await new Promise((resolve) => setImmediate(resolve)); // 'first' is in flight, stuck
    for (let i = 0; i < 10; i++) s.push(`second ${i}\n`);
    assert.equal(s.queuedLines, 11);
    target.release();
    assert.equal(await s.flush(2000), true);
    assert.deepEqual(c, { written: 11, dropped: 0, failed: 0 });
  });
});

describe('child loggers', () => {
  it('re-encode bound fields (theirs and their parents\') after a format switch', async () => {
    const target = new MemoryTarget();
    const registry: LoggerRegistry = new LoggerRegistry({
      defaultSink: () => new QueuedSink(target, { maxLines: 100, maxChars: 1 << 20, counters: registry.counters }),
    });
    const conn = registry.getLogger('m').child({ trace_id: 'abc' });
    const inner = conn.child({ fd: 7 });
    inner.info('tskv line');
    registry.configure({ level: 'info', format: 'json', sink: registry.defaultSink() });
    inner.info('json line');
    registry.configure({ level: 'info', format: 'tskv', sink: registry.defaultSink() });
    inner.info('tskv again');
    await registry.current().sink.flush(2000);
    const [first, second, third] = target.lines();
    assert.match(first as string, /\ttext=tskv line\ttrace_id=abc\tfd=7$/);
    const parsed = JSON.parse(second as string) as Record<string, unknown>;
    assert.equal(parsed.trace_id, 'abc');
    assert.equal(parsed.fd, 7);
    assert.match(third as string, /\ttext=tskv again\ttrace_id=abc\tfd=7$/);
  });
});

