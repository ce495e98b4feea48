/**
 * Stray signals and failing log destinations (issue 15, items 10–11): SIGHUP reopens the log files
 * as SIGUSR1 does and never kills the service; lines lost to a full disk are counted in
 * `logger.lines.dropped`, with a rate-limited note on stderr.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { roundTrip, sleep, until } from '../helpers/echo-client.js';
import { metric, metricUntil } from '../helpers/monitor-client.js';
import { pingOk, startService } from '../helpers/service.js';

/** One echo round trip on a fresh connection: send, half-close, expect the same bytes and EOF. */
const echoOnce = (port: number, payload: Buffer): Promise<void> => roundTrip(port, payload, [payload.length], 10_000);

async function waitFor(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe('SIGHUP (item 10)', () => {
  it('reopens the log file like SIGUSR1, logs it, and keeps serving', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcp-echo-sighup-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'tcp-echo.log');
    const service = await startService({
      components: (c) => {
        c.logging = { loggers: { default: { file_path: file, format: 'json' } } };
      },
    });
    t.after(() => service.stop());
    fs.renameSync(file, `${file}.1`);
    process.kill(service.pid, 'SIGHUP');
    await waitFor('the reopened file', () => fs.existsSync(file));
    await echoOnce(service.echoPort, Buffer.from('after SIGHUP'));
    await waitFor('the reopen line', () => fs.readFileSync(file, 'utf8').includes('SIGHUP: log file reopened'));
    assert.ok(await pingOk(service.monitorUrl));
    assert.equal(await service.stop(), 0, service.stderr());
  });

  it('with stderr logging: one line per SIGHUP, no exit, SIGTERM still drains to exit 0', async () => {
    const service = await startService();
    // One at a time: the kernel merges a signal sent while the same one is still pending.
    for (let i = 1; i <= 3; i++) {
      process.kill(service.pid, 'SIGHUP');
      await waitFor(`SIGHUP line ${i}`, () => (service.stderr().match(/SIGHUP received/g) ?? []).length === i);
    }
    await echoOnce(service.echoPort, Buffer.from('after SIGHUP'));
    assert.ok(await pingOk(service.monitorUrl), 'still answers /ping');
    assert.equal(await service.stop(), 0, service.stderr());
  });
});

describe('SIGHUP in cluster mode (item 10)', () => {
  it('a SIGHUP to the whole process group (a terminal hangup) leaves the primary and both workers running', async (t) => {
    const service = await startService({
      components: (c) => void (c['tcp-echo']!.workers = 2),
      // Its own process group, so the test can signal the group as a terminal would.
      detached: true,
    });
    t.after(() => service.stop());
    await metricUntil(service, 'tcp-echo.workers.alive', {}, 'exact', (v) => v === 2, 30_000);
    process.kill(-service.pid, 'SIGHUP');
    await waitFor('the primary to log the SIGHUP', () => /SIGHUP received/.test(service.stderr()));
    await sleep(500);
    assert.equal(await metricUntil(service, 'tcp-echo.workers.alive', {}, 'exact', (v) => v === 2, 10_000), 2);
    assert.equal(await metric(service, 'tcp-echo.workers.restarts', {}, 'exact'), 0, 'no worker died and was restarted');
    await echoOnce(service.echoPort, Buffer.from('after SIGHUP'));
    assert.equal(await service.stop(), 0, service.stderr());
  });

  it('a SIGHUP to the primary alone makes the workers reopen their log files too', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcp-echo-sighup-cluster-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'tcp-echo.log');
    const service = await startService({
      components: (c) => {
        c.logging = { loggers: { default: { file_path: file, format: 'json' } } };
        c['tcp-echo']!.workers = 2;
      },
    });
    t.after(() => service.stop());
    await metricUntil(service, 'tcp-echo.workers.alive', {}, 'exact', (v) => v === 2, 30_000);
    fs.renameSync(file, `${file}.1`);
    process.kill(service.pid, 'SIGHUP');
    await waitFor('the reopened file', () => fs.existsSync(file));
    // Connections land on the workers; their "Closing socket" lines must reach the new file.
    const workerLine = () =>
      fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .some((l) => l.includes('"Closing socket"') && l.includes('"worker"'));
    for (let i = 0; i < 40 && !workerLine(); i++) {
      await echoOnce(service.echoPort, Buffer.from(`after SIGHUP ${i}`));
      await sleep(100);
    }
    assert.ok(workerLine(), 'a worker wrote to the reopened file');
    assert.equal(await service.stop(), 0, service.stderr());
  });
});

describe('a full disk (item 11)', () => {
  it('lines lost to /dev/full are counted in logger.lines.dropped; the stderr note is not repeated per line', async (t) => {
    const service = await startService({
      components: (c) => {
        c.logging = { loggers: { default: { file_path: '/dev/full', format: 'tskv' } } };
      },
    });
    t.after(() => service.stop());
    // Each connection logs a line ("Closing socket"); every write to /dev/full fails with ENOSPC.
    for (let i = 0; i < 20; i++) await echoOnce(service.echoPort, Buffer.from(`line ${i}`));
    const dropped = await metricUntil(service, 'logger.lines.dropped', {}, 'exact', (v) => v >= 20, 20_000);
    assert.ok(dropped >= 20, `logger.lines.dropped = ${dropped}`);
    // The note goes to stderr on its own pipe: wait for it, then read the whole output after the exit.
    const notes = (): string[] => service.stderr().split('\n').filter((l) => l.includes('cannot write log lines'));
    await until(() => notes().length >= 1, 'the stderr note', 30_000);
    assert.ok((await metric(service, 'logger.lines.dropped', {}, 'exact')) >= dropped);
    assert.equal(await service.stop(), 0, service.stderr());
    assert.equal(notes().length, 1, service.stderr());
    assert.match(notes()[0]!, /ENOSPC/);
  });
});
