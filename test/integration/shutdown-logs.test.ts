/**
 * What shutdown logs, and where: "Echo listener stopped" when accepting stops (at SIGTERM, while
 * open connections still drain, not after), and every line of the shutdown, the last included, in
 * the configured log file (none on stderr).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { connect, ping, randomData, sleep } from '../helpers/echo-client.js';
import { startService } from '../helpers/service.js';

test('SIGTERM: "Echo listener stopped" while connections drain; the last lines go to the log file', { timeout: 180_000 }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tcp-echo-shutdown-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const logFile = path.join(dir, 'tcp-echo.log');
  const service = await startService({
    components: (c) => {
      c.logging = { loggers: { default: { file_path: logFile, level: 'info', format: 'tskv' } } };
      // A long drain window: the connection below holds the drain open until the test ends it.
      c['tcp-echo']!.graceful_shutdown_interval = '120s';
    },
  });
  t.after(() => service.stop('SIGKILL'));
  const log = (): string => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');

  const socket = await connect(service.echoPort);
  t.after(() => socket.destroy());
  await ping(socket, randomData(100));
  const stderrAtSignal = service.stderr().length;
  service.child.kill('SIGTERM');

  const deadline = Date.now() + 60_000;
  while (!log().includes('\ttext=Echo listener stopped\t') && Date.now() < deadline) await sleep(50);
  assert.match(log(), /\ttext=Echo listener stopped\topen_connections=1\n/, 'logged when accepting stopped');
  // The drain is still going on: the open connection echoes, a new one is refused.
  await ping(socket, randomData(100));
  await assert.rejects(connect(service.echoPort, { timeoutMs: 10_000 }), /ECONNREFUSED/);
  assert.doesNotMatch(log(), /text=all components stopped/, 'the listener line came before the end of the drain');

  socket.end();
  assert.equal(await service.exited, 0);
  assert.equal(service.stderr().slice(stderrAtSignal), '', 'nothing of the shutdown on stderr');
  const lines = log().trimEnd().split('\n');
  assert.match(lines.at(-1)!, /\ttext=all components stopped but 'logging', which stops last$/, 'the closing report is the last line, in the file');
});
