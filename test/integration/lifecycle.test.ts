/**
 * The lifecycle of the real built service: start, signals, shutdown with open connections,
 * `load-enabled: false`, config vars end to end, and a port that cannot be bound.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { baseComponents, freePort, runCli, startService } from '../helpers/service.js';

const dir = mkdtempSync(path.join(tmpdir(), 'tcp-echo-lifecycle-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Connects, sends `text`, and resolves once it came back (the connection stays open). */
async function echoingClient(port: number, text: string): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {}); // the service closing us at shutdown is expected
  await once(socket, 'connect');
  socket.write(text);
  let received = '';
  socket.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no echo of ${text} after 5 s (got ${received})`)), 5000);
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (received === text) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return socket;
}

/** Resolves with the time (ms) until `promise` settles, failing past `limitMs`. */
async function within<T>(promise: Promise<T>, limitMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${limitMs} ms`)), limitMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('lifecycle', () => {
  test('SIGTERM with open connections: every connection is closed and the exit code is 0', async (t) => {
    const service = await startService();
    t.after(() => service.stop('SIGKILL'));
    const clients = await Promise.all(Array.from({ length: 20 }, (_, i) => echoingClient(service.echoPort, `hello ${i}\n`)));
    const closed = clients.map((socket) => once(socket, 'close'));
    const code = await within(service.stop('SIGTERM'), 15_000, 'exit after SIGTERM');
    assert.equal(code, 0, service.stderr());
    await within(Promise.all(closed), 5000, 'client sockets closed');
    assert.match(service.stderr(), /SIGTERM received/);
  });

  test('SIGINT also stops cleanly with exit code 0', async (t) => {
    const service = await startService();
    t.after(() => service.stop('SIGKILL'));
    assert.equal(await within(service.stop('SIGINT'), 15_000, 'exit after SIGINT'), 0, service.stderr());
  });

  test('during graceful_shutdown_interval /ping answers 500; a second SIGTERM exits at once with 143', async (t) => {
    const service = await startService({ manager: { graceful_shutdown_interval: '30s' } });
    t.after(() => service.stop('SIGKILL'));
    assert.equal((await fetch(`${service.monitorUrl}/ping`)).status, 200);
    service.child.kill('SIGTERM');
    // Wait (bounded) for the service to notice the signal: /ping turns 500 while it still listens.
    let status = 200;
    for (let i = 0; i < 100 && status === 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      status = (await fetch(`${service.monitorUrl}/ping`)).status;
    }
    assert.equal(status, 500, 'ping while stopping');
    const started = Date.now();
    service.child.kill('SIGTERM');
    const code = await within(service.exited, 10_000, 'exit after the second SIGTERM');
    assert.equal(code, 143, service.stderr());
    assert.ok(Date.now() - started < 10_000);
    assert.match(service.stderr(), /SIGTERM again during shutdown: exiting at once/);
  });

  test("load-enabled: false on tests-control: /tests/control answers 404, the rest runs", async (t) => {
    const service = await startService({
      components: (c) => {
        c['tests-control']!['load-enabled'] = false;
      },
    });
    t.after(() => service.stop());
    const response = await fetch(`${service.monitorUrl}/tests/control`, { method: 'POST', body: '{}' });
    await response.arrayBuffer();
    assert.equal(response.status, 404);
    assert.equal((await fetch(`${service.monitorUrl}/ping`)).status, 200);
  });

  test('ports from --config_vars and #file reach the listeners', async (t) => {
    const varsFile = path.join(dir, 'vars.yaml');
    const portFile = path.join(dir, 'monitor-port');
    const service = await startService({
      components: (c) => {
        writeFileSync(varsFile, stringify({ echo_port: c['tcp-echo']!.port }));
        c['tcp-echo']!.port = '$echo_port';
        c['tcp-echo']!['port#fallback'] = 1; // the var wins over the fallback
        const listener = c.server!.listener as Record<string, unknown>;
        writeFileSync(portFile, `${String(listener.port)}\n`);
        delete listener.port;
        listener['port#file'] = portFile;
      },
      args: ['--config_vars', varsFile],
    });
    t.after(() => service.stop());
    const socket = await echoingClient(service.echoPort, 'via vars\n');
    socket.destroy();
    assert.equal((await fetch(`${service.monitorUrl}/ping`)).status, 200);
  });

  test('a port in use: one clear line naming the component, address and port; exit 1', async (t) => {
    const blocker = net.createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    t.after(() => blocker.close());
    const taken = (blocker.address() as net.AddressInfo).port;
    const monitorPort = await freePort();
    const components = baseComponents(taken, monitorPort);
    const file = path.join(dir, 'port-in-use.yaml');
    writeFileSync(file, stringify({ components_manager: { components } }));
    const result = await runCli(['-c', file], { timeoutMs: 60_000 });
    assert.equal(result.code, 1, result.stderr);
    const last = result.stderr.trim().split('\n').at(-1) ?? '';
    assert.match(last, /^tcp-echo: /);
    assert.match(last, /tcp-echo/);
    assert.match(last, /127\.0\.0\.1/);
    assert.match(last, new RegExp(`\\b${taken}\\b`));
    assert.match(last, /EADDRINUSE|in use/);
    assert.equal(
      last,
      `tcp-echo: cannot listen on 127.0.0.1:${taken}: address already in use (EADDRINUSE); set components_manager.components.tcp-echo.port`,
      'one program prefix, not two, and the key to change',
    );
    // The monitor (started before tcp-echo) was stopped again: its port is free.
    const probe = net.createServer();
    probe.listen(monitorPort, '127.0.0.1');
    await once(probe, 'listening');
    probe.close();
    await once(probe, 'close');
  });
});
