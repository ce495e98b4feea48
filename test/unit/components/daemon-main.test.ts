/**
 * Process-level behaviour of daemonMain with fake components (a child process per case): fatal
 * errors exit non-zero after stopping the components, signals stop them and exit 0.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ROOT } from '../../helpers/service.js';

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'daemon.ts');
const dir = mkdtempSync(path.join(tmpdir(), 'tcp-echo-daemon-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const CONFIG = path.join(dir, 'static_config.yaml');
writeFileSync(CONFIG, 'components_manager:\n  components:\n    worker: {}\n');

/** Starts the fixture; `signal` is sent once it printed "worker started". */
async function runFixture(mode: string, signal?: NodeJS.Signals) {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, '-c', CONFIG], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dir, FIXTURE_MODE: mode },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let signalled = false;
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    if (signal && !signalled && stdout.includes('worker started')) {
      signalled = true;
      child.kill(signal);
    }
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code, signalCode] = (await once(child, 'exit')) as [number | null, string | null];
  clearTimeout(killer);
  return { code: code ?? signalCode, stdout, stderr };
}

describe('daemonMain', () => {
  test('SIGTERM stops the components and exits 0', async () => {
    const result = await runFixture('', 'SIGTERM');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'worker started\nworker stopped\n');
  });

  test('an uncaught exception is reported on one stderr line, components stop, exit 1', async () => {
    const result = await runFixture('throw-later');
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /^tcp-echo: fatal: uncaught exception: boom from a timer$/m);
    assert.match(result.stderr, /level=CRITICAL.*uncaught exception: boom from a timer/);
    assert.equal(result.stdout, 'worker started\nworker stopped\n');
  });

  test('an unhandled rejection is fatal too', async () => {
    const result = await runFixture('reject-later');
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /^tcp-echo: fatal: unhandled rejection: rejected in a timer$/m);
  });

  test('a component whose stop() never resolves cannot keep a fatal error from exiting', async () => {
    const started = Date.now();
    const result = await runFixture('throw-later,hang-stop');
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.stdout, 'worker started\nworker stopped\n');
    // The fatal path allows components 3 s; the rest is process start-up on a busy machine.
    assert.ok(Date.now() - started < 15_000, `exited after ${Date.now() - started} ms`);
  });
});
