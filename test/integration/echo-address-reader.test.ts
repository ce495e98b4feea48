/**
 * The real service with and without the native socket-address reader: a machine without a
 * compiler (no addon built) and a broken addon (one that will not load) both serve exactly as the
 * built one does, say which reader they use, and log the same peer address and port.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { connect, roundTrip, until } from '../helpers/echo-client.js';
import { ROOT, startServiceFor, type RunningService } from '../helpers/service.js';

/**
 * A copy of the build without its addon, inside the checkout so that its imports still find
 * node_modules; `addon` is written where the build puts the real one.
 */
function buildCopy(t: TestContext, addon?: string): string {
  const dir = path.join(ROOT, '.tmp', `address-reader-${process.pid}-${Math.random().toString(36).slice(2)}`);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const addonDir = path.join(ROOT, 'dist', 'native');
  cpSync(path.join(ROOT, 'dist'), path.join(dir, 'dist'), { recursive: true, filter: (source) => source !== addonDir });
  cpSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  if (addon !== undefined) {
    mkdirSync(path.join(dir, 'dist', 'native'));
    writeFileSync(path.join(dir, 'dist', 'native', 'socket-addresses.node'), addon);
  }
  return path.join(dir, 'dist', 'main.js');
}

/** Waits (generously) for a line matching `pattern` on stderr; the failure shows what was there. */
async function waitForLine(service: RunningService, pattern: RegExp, what: string): Promise<string> {
  try {
    await until(() => pattern.test(service.stderr()), what, 60_000);
  } catch (error) {
    throw new Error(`${(error as Error).message}\nstderr:\n${service.stderr()}`);
  }
  return pattern.exec(service.stderr())![0];
}

/** One connection from 127.0.0.1 with an echo, then the fields of its `Accepted connection` line. */
async function acceptedLine(service: RunningService): Promise<{ line: string; localPort: number }> {
  const socket = await connect(service.echoPort);
  const localPort = socket.localPort as number;
  socket.destroy();
  await roundTrip(service.echoPort, Buffer.from('echo me\n'), [8], 30_000);
  const pattern = new RegExp(`text=Accepted connection[^\\n]*peer_port=${localPort}(\\t|$)`, 'm');
  return { line: await waitForLine(service, pattern, `the Accepted line of port ${localPort}`), localPort };
}

/** The listener's start line. */
function listeningLine(service: RunningService): Promise<string> {
  return waitForLine(service, /text=Listening on [^\n]*/, 'the Listening line');
}

describe('the socket-address reader (real service)', () => {
  it('the built service reads addresses natively', async (t) => {
    const service = await startServiceFor(t, { components: (c) => ((c['tcp-echo'] as Record<string, unknown>).address = '::') });
    assert.match(await listeningLine(service), /\taddress_reader=native(\t|$)/);
    const { line } = await acceptedLine(service);
    assert.match(line, /\tpeer_address=127\.0\.0\.1\t/);
  });

  it('without the addon (no compiler at build time) it serves the same, through Node', async (t) => {
    const service = await startServiceFor(t, { main: buildCopy(t), components: (c) => ((c['tcp-echo'] as Record<string, unknown>).address = '::') });
    assert.match(await listeningLine(service), /\taddress_reader=node(\t|$)/);
    assert.doesNotMatch(service.stderr(), /level=WARNING/);
    const { line } = await acceptedLine(service);
    assert.match(line, /\tpeer_address=127\.0\.0\.1\t/);
  });

  it('an addon that will not load is a warning, and the service still serves through Node', async (t) => {
    const service = await startServiceFor(t, { main: buildCopy(t, 'not a shared object') });
    assert.match(await listeningLine(service), /\taddress_reader=node(\t|$)/);
    assert.match(service.stderr(), /level=WARNING[^\n]*native socket-address reader not loaded: [^\n]*socket-addresses\.node/);
    const { line } = await acceptedLine(service);
    assert.match(line, /\tpeer_address=127\.0\.0\.1\t/);
  });
});
