import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { QueuedSink, type SinkCounters } from '../../../src/log/queued-sink.js';
import { openSinkTarget, type SinkTarget } from '../../../src/log/sink-target.js';
import { MemoryTarget, ScriptedTarget, StuckTarget } from './memory-target.js';

function counters(): SinkCounters {
  return { written: 0, dropped: 0, failed: 0 };
}

function sink(target: SinkTarget, maxLines = 1000, onError?: (e: NodeJS.ErrnoException) => void) {
  const c = counters();
  return { sink: new QueuedSink(target, { maxLines, maxChars: 1 << 24, counters: c, onError }), counters: c };
}

/**
 * Produces `burst` lines every `everyMs` until `total` lines are out, while a 10 ms probe timer
 * counts its ticks (and records how late they ran, reported only: lateness is the machine's speed).
 * Stops once `total` lines are produced and the probe has ticked at least `minTicks` times meanwhile,
 * i.e. the loop kept running timers between bursts; a 60 s hang guard ends it otherwise.
 */
async function floodAndMeasure(push: (line: string) => void, total: number, burst: number, everyMs: number, minTicks = 5) {
  let worst = 0;
  let produced = 0;
  let ticks = 0;
  let expected = performance.now() + 10;
  const probe = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - expected);
    expected = now + 10;
    ticks++;
  }, 10);
  const line = `tskv\ttimestamp=2026-11-28T08:00:00.123456\tlevel=INFO\tmodule=flood\ttext=${'x'.repeat(150)}\n`;
  const producer = setInterval(() => {
    if (produced >= total) return;
    const n = Math.min(burst, total - produced);
    for (let i = 0; i < n; i++) push(line);
    produced += n;
  }, everyMs);
  const deadline = Date.now() + 60_000;
  while ((produced < total || ticks < minTicks) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  clearInterval(producer);
  clearInterval(probe);
  return { worst, produced, ticks };
}

describe('QueuedSink', () => {
  it('writes the lines of one loop turn as one batch, in order, and counts them', async () => {
    const target = new MemoryTarget();
    const { sink: s, counters: c } = sink(target);
    for (let i = 0; i < 5; i++) assert.equal(s.push(`line ${i}\n`), true);
    assert.equal(s.queuedLines, 5);
    assert.equal(await s.flush(2000), true);
    assert.deepEqual(target.batches, ['line 0\nline 1\nline 2\nline 3\nline 4\n']);
    assert.deepEqual(c, { written: 5, dropped: 0, failed: 0 });
    assert.equal(s.queuedLines, 0);
  });

  it('writes a large backlog in batches of about 1 MiB of whole lines, in order', async () => {
    const target = new MemoryTarget();
    const c = counters();
    const s = new QueuedSink(target, { maxLines: 100_000, maxChars: 1 << 26, counters: c });
    const lines = Array.from({ length: 30_000 }, (_, i) => `line ${i} ${'x'.repeat(100)}\n`);
    for (const line of lines) s.push(line);
    assert.equal(await s.flush(5000), true);
    assert.ok(target.batches.length >= 3, `${target.batches.length} batches`);
    for (const batch of target.batches) {
      assert.ok(batch.length <= 1024 * 1024 + 64 * 1024 + 200, `batch of ${batch.length} characters`);
      assert.ok(batch.endsWith('\n'), 'batches hold whole lines');
    }
    assert.equal(target.batches.join(''), lines.join(''));
    assert.equal(c.written, 30_000);
  });

  it('drops and counts lines past maxLines while the destination does not finish a write', async () => {
    const target = new StuckTarget();
    const { sink: s, counters: c } = sink(target, 100);
    for (let i = 0; i < 50; i++) s.push('a\n');
    await new Promise((resolve) => setImmediate(resolve)); // the first batch is now in flight
    assert.equal(target.writes, 1);
    for (let i = 0; i < 1000; i++) s.push('b\n');
    assert.equal(s.queuedLines, 100, 'in-flight lines count against the bound');
    assert.equal(c.dropped, 950);
    assert.equal(await s.flush(50), false, 'flush gives up after its timeout');
    target.release();
    assert.equal(await s.flush(2000), true);
    assert.deepEqual(c, { written: 100, dropped: 950, failed: 0 });
  });

  it('bounds queued characters too, whatever the line count', () => {
    const c = counters();
    const s = new QueuedSink(new StuckTarget(), { maxLines: 1000, maxChars: 100, counters: c });
    assert.equal(s.push('x'.repeat(60) + '\n'), true);
    assert.equal(s.push('y'.repeat(60) + '\n'), false);
    assert.equal(s.push('z\n'), true);
    assert.equal(c.dropped, 1);
  });

  it('keeps the event loop responsive while a paused destination holds everything', async (t) => {
    const target = new StuckTarget();
    const { sink: s, counters: c } = sink(target, 10_000);
    const { worst, produced, ticks } = await floodAndMeasure((line) => s.push(line), 60_000, 5000, 5);
    t.diagnostic(`paused destination: ${produced} lines produced, ${c.dropped} dropped, ${ticks} probe ticks, worst timer lateness ${worst.toFixed(1)} ms`);
    assert.equal(produced, 60_000, 'every push returned without waiting for the destination');
    // Behaviour, not lateness (270 ms late on 2 busy cores is the machine): timers kept firing during the flood.
    assert.ok(ticks >= 5, `the probe timer ticked ${ticks} times`);
    assert.equal(s.queuedLines, 10_000);
    assert.equal(c.dropped, produced - 10_000);
    target.release();
    await s.close(2000);
  });

  it('never blocks on a real pipe nobody reads: drops, counts, and the loop stays responsive', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'log-fifo-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const fifo = path.join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    // A reader end exists (so opening for writing does not wait) but nobody reads from it.
    const reader = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const target = await openSinkTarget(fifo);
    const { sink: s, counters: c } = sink(target, 5000);
    const { worst, produced, ticks } = await floodAndMeasure((line) => s.push(line), 30_000, 2000, 5);
    const stuck = s.queuedLines;
    t.diagnostic(
      `unread pipe: ${produced} lines produced, ${c.written} written, ${c.dropped} dropped, ${stuck} queued, ` +
        `${ticks} probe ticks, worst timer lateness ${worst.toFixed(1)} ms`,
    );
    assert.equal(produced, 30_000, 'every push returned although nobody reads the pipe');
    assert.ok(c.dropped > 0, 'lines were dropped');
    assert.ok(stuck > 0 && stuck <= 5000, `queued ${stuck}`);
    // Lines that fit the pipe buffer (64 KiB by default) got out; everything is accounted for.
    assert.ok(c.written < produced / 10, `written ${c.written} of ${produced}`);
    assert.equal(c.written + c.dropped + stuck, produced);
    // Behaviour, not lateness (a busy machine delays timers by hundreds of ms): timers kept firing.
    assert.ok(ticks >= 5, `the probe timer ticked ${ticks} times`);

    // Now a reader drains the pipe: the stuck write completes and the queue empties.
    const buffer = Buffer.alloc(1 << 16);
    const deadline = Date.now() + 60_000; // generous: draining is the assertion, not its speed
    let idle = false;
    while (!idle && Date.now() < deadline) {
      try {
        while (fs.readSync(reader, buffer) > 0);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      }
      idle = await s.flush(20);
    }
    assert.equal(idle, true, 'the queue drained once someone read');
    assert.equal(c.written + c.dropped, produced);
    await s.close(1000);
    fs.closeSync(reader);
  });

  it('writes the rest of a batch after a partial write, before newer lines', async () => {
    const target = new ScriptedTarget([3, 'all', 'all']);
    const { sink: s, counters: c } = sink(target);
    s.push('hello\n');
    s.push('world\n');
    await new Promise((resolve) => setImmediate(resolve));
    s.push('later\n');
    assert.equal(await s.flush(2000), true);
    assert.deepEqual(target.received, ['hello\nworld\n', 'lo\nworld\n', 'later\n']);
    assert.equal(c.written, 3);
  });

  it('retries the same bytes after EAGAIN (a full non-blocking pipe)', async () => {
    const target = new ScriptedTarget(['EAGAIN', 'EAGAIN', 'all']);
    const { sink: s, counters: c } = sink(target);
    s.push('one\n');
    assert.equal(await s.flush(2000), true);
    assert.deepEqual(target.received, ['one\n', 'one\n', 'one\n']);
    assert.deepEqual(c, { written: 1, dropped: 0, failed: 0 });
  });

  it('counts lines lost to a write error, reports each error code once, and keeps going', async () => {
    const target = new ScriptedTarget(['EPIPE', 'EPIPE', 'ENOSPC', 'all']);
    const reported: string[] = [];
    const { sink: s, counters: c } = sink(target, 1000, (e) => reported.push(e.code ?? '?'));
    for (const text of ['a', 'b', 'c', 'd']) {
      s.push(`${text}\n`);
      s.push(`${text}${text}\n`);
      assert.equal(await s.flush(2000), true);
    }
    assert.deepEqual(reported, ['EPIPE', 'ENOSPC']);
    assert.deepEqual(c, { written: 2, dropped: 0, failed: 6 });
  });

  it('close() flushes within its timeout, drops the rest, refuses new lines, and is safe twice', async () => {
    const target = new StuckTarget();
    const { sink: s, counters: c } = sink(target);
    s.push('first\n');
    await new Promise((resolve) => setImmediate(resolve));
    s.push('second\n');
    const started = performance.now();
    await s.close(100);
    const took = performance.now() - started;
    // The destination never finishes: a close that ignored its timeout would hang forever; 30 s is
    // generous for a busy machine (was < 2000, a speed bound with 1.9 s of margin).
    assert.ok(took >= 90 && took < 30_000, `close took ${took} ms`);
    assert.equal(c.dropped, 1, 'the pending line is counted as dropped');
    assert.equal(s.push('third\n'), false);
    assert.equal(c.dropped, 2);
    await s.close(100);
    target.release();
    assert.equal(await s.flush(1000), true);
    assert.equal(c.written, 1, 'the in-flight write still completes and counts');
  });
});
