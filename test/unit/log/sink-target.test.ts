import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { LogSinkError } from '../../../src/errors.js';
import { QueuedSink } from '../../../src/log/queued-sink.js';
import { FILE_PATH_KEY, isSpecialSink, openSinkTarget } from '../../../src/log/sink-target.js';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'log-sink-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function fileSink(target: Awaited<ReturnType<typeof openSinkTarget>>) {
  const counters = { written: 0, dropped: 0, failed: 0 };
  return { sink: new QueuedSink(target, { maxLines: 1000, maxChars: 1 << 20, counters }), counters };
}

describe('sink targets', () => {
  it('appends to a file, creating it when absent', async (t) => {
    const file = path.join(tempDir(t), 'service.log');
    fs.writeFileSync(file, 'existing\n');
    const { sink, counters } = fileSink(await openSinkTarget(file));
    sink.push('one\n');
    sink.push('two\n');
    await sink.close(2000);
    assert.equal(fs.readFileSync(file, 'utf8'), 'existing\none\ntwo\n');
    assert.equal(counters.written, 2);

    const fresh = path.join(path.dirname(file), 'fresh.log');
    const second = fileSink(await openSinkTarget(fresh));
    second.sink.push('new\n');
    await second.sink.close(2000);
    assert.equal(fs.readFileSync(fresh, 'utf8'), 'new\n');
  });

  it('reopens the path after logrotate renamed the file', async (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'service.log');
    const { sink } = fileSink(await openSinkTarget(file));
    sink.push('before rotation\n');
    assert.equal(await sink.flush(2000), true);
    fs.renameSync(file, `${file}.1`);
    sink.push('after rename, before reopen\n');
    assert.equal(await sink.flush(2000), true);
    await sink.reopen();
    sink.push('after reopen\n');
    await sink.close(2000);
    assert.equal(fs.readFileSync(`${file}.1`, 'utf8'), 'before rotation\nafter rename, before reopen\n');
    assert.equal(fs.readFileSync(file, 'utf8'), 'after reopen\n');
  });

  it('reopens while a write is in flight without losing or misplacing lines', async (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'service.log');
    const { sink, counters } = fileSink(await openSinkTarget(file));
    for (let i = 0; i < 200; i++) sink.push(`old ${i}\n`);
    await new Promise((resolve) => setImmediate(resolve)); // the batch is being written now
    fs.renameSync(file, `${file}.1`);
    const reopened = sink.reopen();
    for (let i = 0; i < 200; i++) sink.push(`new ${i}\n`);
    await reopened;
    await sink.close(2000);
    const rotated = fs.readFileSync(`${file}.1`, 'utf8');
    const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    const all = (rotated + current).trim().split('\n');
    assert.equal(all.length, 400);
    assert.equal(counters.written, 400);
    assert.ok(rotated.startsWith('old 0\n'));
    assert.ok(current === '' || current.endsWith('new 199\n'));
  });

  it('names the config key and the path when the directory does not exist', async (t) => {
    const file = path.join(tempDir(t), 'no-such-dir', 'service.log');
    await assert.rejects(openSinkTarget(file, '/etc/tcp-echo/static_config.yaml'), (error: unknown) => {
      assert.ok(error instanceof LogSinkError);
      assert.equal(error.code, 'ECHO_ERR_LOG_SINK');
      assert.equal(
        error.message,
        `/etc/tcp-echo/static_config.yaml: ${FILE_PATH_KEY}: cannot open log file ${JSON.stringify(file)} ` +
          'for appending: its directory does not exist',
      );
      return true;
    });
  });

  it('says so when the path is a directory', async (t) => {
    const dir = tempDir(t);
    await assert.rejects(openSinkTarget(dir), /components_manager\.components\.logging\.loggers\.default\.file_path: .* it is a directory/);
  });

  it('reports a failed reopen and keeps writing to the old file', async (t) => {
    const dir = tempDir(t);
    const sub = path.join(dir, 'sub');
    fs.mkdirSync(sub);
    const file = path.join(sub, 'service.log');
    const { sink } = fileSink(await openSinkTarget(file));
    fs.renameSync(sub, path.join(dir, 'moved'));
    await assert.rejects(sink.reopen(), LogSinkError);
    sink.push('still here\n');
    await sink.close(2000);
    assert.equal(fs.readFileSync(path.join(dir, 'moved', 'service.log'), 'utf8'), 'still here\n');
  });

  it('accepts @null (lines counted as written) and knows the special names', async () => {
    const { sink, counters } = fileSink(await openSinkTarget('@null'));
    sink.push('gone\n');
    await sink.close(2000);
    assert.equal(counters.written, 1);
    assert.deepEqual(['@stderr', '@stdout', '@null', '/var/log/x', '@other'].map(isSpecialSink), [true, true, true, false, false]);
  });
});
