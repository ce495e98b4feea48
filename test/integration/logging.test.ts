/**
 * Logging of the real built service: JSON lines to a file, reopening on SIGUSR1 (logrotate),
 * a stderr nobody reads (the service keeps serving and still exits on SIGTERM), and the config
 * errors of the logging section.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { roundTrip, sleep, until } from '../helpers/echo-client.js';
import { MAIN, baseComponents, freePort, runCli, startService } from '../helpers/service.js';

const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/;

type Line = Record<string, unknown>;

/** Every line of a JSON log file, parsed; fails on a line that is not a JSON object. */
function readJsonLines(file: string): Line[] {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  if (text === '') return [];
  assert.ok(text.endsWith('\n'), 'the file ends with a complete line');
  return text
    .slice(0, -1)
    .split('\n')
    .map((raw) => {
      const line = JSON.parse(raw) as Line;
      assert.equal(typeof line, 'object');
      assert.match(line.timestamp as string, TIMESTAMP, raw);
      assert.match(line.level as string, /^(TRACE|DEBUG|INFO|WARNING|ERROR|CRITICAL)$/, raw);
      assert.equal(typeof line.module, 'string', raw);
      assert.equal(typeof line.text, 'string', raw);
      return line;
    });
}

/** One echo round trip on a fresh connection: send, half-close, expect the same bytes and EOF. */
const echoOnce = (port: number, payload: Buffer): Promise<void> => roundTrip(port, payload, [payload.length], 10_000);


function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcp-echo-logging-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('logging (real service)', () => {
  it('writes parseable JSON lines to a file; connection lines carry trace_id and span_id', async (t) => {
    const file = path.join(tempDir(t), 'tcp-echo.log');
    const service = await startService({
      components: (c) => {
        c.logging = { loggers: { default: { file_path: file, format: 'json', level: 'info' } } };
      },
      env: { OTEL_SDK_DISABLED: 'false' },
    });
    t.after(() => service.stop());
    for (let i = 0; i < 3; i++) await echoOnce(service.echoPort, Buffer.from(`hello ${i}\n`));
    assert.equal(await service.stop(), 0);

    const lines = readJsonLines(file);
    assert.ok(lines.length >= 6, `only ${lines.length} lines`);
    assert.ok(lines.some((l) => l.module === 'daemon' && /is running/.test(l.text as string)), 'the start-up line');
    // Our three connections (the readiness probe's connection sent nothing).
    const closes = lines.filter((l) => l.text === 'Closing socket' && (l.bytes_read as number) > 0);
    assert.equal(closes.length, 3, JSON.stringify(closes));
    for (const close of closes) {
      assert.match(close.trace_id as string, /^[0-9a-f]{32}$/);
      assert.match(close.span_id as string, /^[0-9a-f]{16}$/);
      const accepted = lines.filter((l) => l.text === 'Accepted connection' && l.trace_id === close.trace_id);
      assert.equal(accepted.length, 1, 'the accept line carries the same trace');
      assert.equal(accepted[0]?.span_id, close.span_id);
    }
    assert.equal(new Set(closes.map((l) => l.trace_id)).size, 3, 'one trace per connection');
    // Nothing but the last lines (after the logging component stopped) went to stderr.
    assert.doesNotMatch(service.stderr(), /is running/);
  });

  it('reopens the file on SIGUSR1 after logrotate renamed it, losing nothing', async (t) => {
    const file = path.join(tempDir(t), 'tcp-echo.log');
    const service = await startService({
      components: (c) => {
        c.logging = { loggers: { default: { file_path: file, format: 'json' } } };
      },
    });
    t.after(() => service.stop());
    await echoOnce(service.echoPort, Buffer.from('before rotation'));
    await until(() =>
      readJsonLines(file).some((l) => l.text === 'Closing socket' && (l.bytes_read as number) > 0), 'the first connection to be logged', 10_000);
    fs.renameSync(file, `${file}.1`);
    process.kill(service.pid, 'SIGUSR1');
    await until(() => fs.existsSync(file), 'the reopened file', 30_000);
    // The reopen line follows the open: waited for, so the next connection's lines cannot come first.
    await until(() => fs.readFileSync(file, 'utf8').includes('SIGUSR1: log file reopened'), 'the reopen line', 30_000);
    await echoOnce(service.echoPort, Buffer.from('after rotation'));
    await until(() =>
      readJsonLines(file).some((l) => l.text === 'Closing socket' && (l.bytes_read as number) > 0), 'the second connection to be logged in the new file', 10_000);
    assert.equal(await service.stop(), 0);

    const rotated = readJsonLines(`${file}.1`);
    const current = readJsonLines(file);
    const echoed = (lines: Line[]) =>
      lines.filter((l) => l.text === 'Closing socket' && (l.bytes_read as number) > 0).map((l) => l.bytes_read);
    assert.deepEqual(echoed(rotated), ['before rotation'.length]);
    assert.equal(current[0]?.text, 'SIGUSR1: log file reopened');
    assert.equal(current[0]?.file_path, file);
    assert.deepEqual(echoed(current), ['after rotation'.length]);
  });

  it('treats SIGUSR1 as harmless with stderr logging, while running and while shutting down', async () => {
    // A shutdown window long enough to signal into (userver's graceful_shutdown_interval).
    const service = await startService({ manager: { graceful_shutdown_interval: '700ms' } });
    process.kill(service.pid, 'SIGUSR1');
    process.kill(service.pid, 'SIGUSR1');
    await echoOnce(service.echoPort, Buffer.from('after SIGUSR1'));
    const exitCode = service.stop(); // one SIGTERM, then waits for the exit
    await until(() => /SIGTERM received/.test(service.stderr()), 'shutdown to begin', 30_000);
    // A logrotate postrotate at the wrong moment must not kill the service (Node's default action).
    for (let i = 0; i < 10; i++) {
      process.kill(service.pid, 'SIGUSR1');
      await sleep(20);
    }
    assert.equal(await exitCode, 0, service.stderr());
    // Without a listener Node 20 would have opened its inspector on SIGUSR1.
    assert.doesNotMatch(service.stderr(), /Debugger listening/);
  });

  it('keeps serving when nobody reads its stderr, and still exits 0 on SIGTERM', async (t) => {
    const dir = tempDir(t);
    const fifo = path.join(dir, 'stderr.fifo');
    execFileSync('mkfifo', [fifo]);
    // The read end exists, so the service's writes do not fail, but nobody reads it until the end.
    const reader = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const writer = fs.openSync(fifo, fs.constants.O_WRONLY);
    const drain = () => {
      const buffer = Buffer.alloc(1 << 16);
      let total = 0;
      try {
        for (let n; (n = fs.readSync(reader, buffer)) > 0; ) total += n;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      }
      return total;
    };
    const echoPort = await freePort();
    const monitorPort = await freePort();
    const components = baseComponents(echoPort, monitorPort);
    const configFile = path.join(dir, 'static_config.yaml');
    fs.writeFileSync(configFile, stringify({ components_manager: { components } }));
    const child = spawn(process.execPath, [MAIN, '-c', configFile], {
      env: { PATH: process.env.PATH ?? '', HOME: dir, OTEL_SDK_DISABLED: 'false' },
      stdio: ['ignore', 'ignore', writer],
    });
    fs.closeSync(writer);
    const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
    t.after(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      drain();
      await exited;
      fs.closeSync(reader);
    });

    // A service blocked on the full pipe never answers: a ping that times out (30 s, a hang guard)
    // fails the test; how fast the answers come on a busy machine is reported, not asserted.
    const ping = async (timeoutMs = 30_000): Promise<number> => {
      const started = performance.now();
      const response = await fetch(`http://127.0.0.1:${monitorPort}/ping`, { signal: AbortSignal.timeout(timeoutMs) });
      await response.arrayBuffer();
      assert.equal(response.status, 200);
      return performance.now() - started;
    };
    const readyBy = Date.now() + 15_000;
    for (;;) {
      try {
        await ping(5000);
        break;
      } catch (error) {
        if (Date.now() > readyBy || child.exitCode !== null) throw error;
        await sleep(50);
      }
    }

    // ~4 lines of ~300 bytes per connection (accept, close, two span lines): far past the 64 KiB pipe.
    const connections = 400;
    let worstPing = 0;
    let pinging = true;
    const pinger = (async () => {
      while (pinging) {
        worstPing = Math.max(worstPing, await ping());
        await sleep(50);
      }
    })();
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (next < connections) {
          const i = next++;
          await echoOnce(echoPort, Buffer.from(`connection ${i}`));
        }
      }),
    );
    const elapsed = performance.now() - started;
    pinging = false;
    await pinger;
    t.diagnostic(`${connections} connections with stderr unread in ${elapsed.toFixed(0)} ms; worst /ping ${worstPing.toFixed(1)} ms`);
    // Every ping above answered 200 while stderr was unread (the pinger throws otherwise), and
    // the echoes all completed (the test's timeout bounds the wait; their time is only reported).

    // Shutdown must not hang on the full pipe either.
    const stopStarted = performance.now();
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const [code, signal] = await exited;
    clearTimeout(timer);
    const stopTook = performance.now() - stopStarted;
    t.diagnostic(`exit after SIGTERM with stderr unread: ${stopTook.toFixed(0)} ms`);
    assert.deepEqual([code, signal], [0, null]);
    assert.ok(drain() > 0, 'the service did write to stderr');
  });

  it('reports on stderr, once, that its log file cannot be written (ENOSPC on /dev/full), and keeps serving', async (t) => {
    const service = await startService({
      components: (c) => {
        c.logging = { loggers: { default: { file_path: '/dev/full' } } };
      },
    });
    t.after(() => service.stop());
    for (let i = 0; i < 3; i++) await echoOnce(service.echoPort, Buffer.from(`still echoing ${i}`));
    await until(() => /cannot write log lines/.test(service.stderr()), 'the error report', 30_000);
    assert.equal(await service.stop(), 0);
    const reports = service
      .stderr()
      .split('\n')
      .filter((line) => line.includes('cannot write log lines'));
    assert.equal(reports.length, 1, service.stderr());
    assert.match(
      reports[0] as string,
      /^tskv\ttimestamp=\S+\tlevel=ERROR\tmodule=logging\ttext=cannot write log lines to \/dev\/full: lines are lost\terror=ENOSPC$/,
    );
  });

  it('fails to start, naming the key and the path, when the log directory does not exist', async (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'missing', 'tcp-echo.log');
    const components = baseComponents(await freePort(), await freePort());
    components.logging = { loggers: { default: { file_path: file } } };
    const configFile = path.join(dir, 'static_config.yaml');
    fs.writeFileSync(configFile, stringify({ components_manager: { components } }));
    const result = await runCli(['-c', configFile]);
    assert.equal(result.code, 1, result.stderr);
    assert.ok(
      result.stderr.includes(
        `tcp-echo: ${configFile}: components_manager.components.logging.loggers.default.file_path: ` +
          `cannot open log file ${JSON.stringify(file)} for appending: its directory does not exist\n`,
      ),
      result.stderr,
    );
  });

  it('rejects overflow_behavior: block with the reason', async (t) => {
    const dir = tempDir(t);
    const components = baseComponents(await freePort(), await freePort());
    components.logging = { loggers: { default: { overflow_behavior: 'block' } } };
    const configFile = path.join(dir, 'static_config.yaml');
    fs.writeFileSync(configFile, stringify({ components_manager: { components } }));
    const result = await runCli(['-c', configFile]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stderr,
      /tcp-echo: .*static_config\.yaml: components_manager\.components\.logging\.loggers\.default\.overflow_behavior: 'block' is not supported: .*event loop/,
    );
  });
});
