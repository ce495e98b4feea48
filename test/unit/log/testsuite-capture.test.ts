/**
 * The testsuite log capture against a real listening socket: it connects on start, duplicates the
 * lines logged while on (at the capture level, in tskv whatever the file's format), and on stop
 * flushes every line it took and closes; one connection per capture; bounded line size.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { LogCaptureError } from '../../../src/errors.js';
import { LoggerRegistry } from '../../../src/log/logger-registry.js';
import { QueuedSink } from '../../../src/log/queued-sink.js';
import { MAX_CAPTURE_LINE_BYTES, TestsuiteCapture } from '../../../src/log/testsuite-capture.js';
import { MemoryTarget } from './memory-target.js';

/** A capture listener: each accepted connection's text, resolved at EOF. */
async function listener() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const connections: Promise<string>[] = [];
  server.on('connection', (socket) => {
    socket.setEncoding('utf8');
    let text = '';
    socket.on('data', (d: string) => (text += d));
    connections.push(new Promise((resolve) => socket.on('end', () => (socket.end(), resolve(text)))));
  });
  return { server, port: (server.address() as net.AddressInfo).port, connections };
}

function setup() {
  const target = new MemoryTarget();
  const registry: LoggerRegistry = new LoggerRegistry({
    defaultSink: () => new QueuedSink(target, { maxLines: 1000, maxChars: 1 << 22, counters: registry.counters }),
  });
  return { registry, target };
}

test('lines logged while on arrive at the capture level; none from before or after; closed and flushed on stop', async (t) => {
  const { server, port, connections } = await listener();
  t.after(() => server.close());
  const { registry, target } = setup();
  const log = registry.getLogger('mod');
  const capture = new TestsuiteCapture({ host: '127.0.0.1', port }, registry);
  log.info('before');
  await capture.start('debug');
  assert.equal(capture.active, true);
  log.debug('dbg');
  log.trace('too low');
  for (let i = 0; i < 500; i++) log.info(`line ${i}`, { tab: 'a\tb' });
  const stats = await capture.stop('warning');
  assert.deepEqual(stats, { sent: 501, dropped: 0 });
  log.error('after');
  log.info('below the level set on stop');
  const lines = (await connections[0]!).split('\n');
  assert.equal(lines.pop(), '', 'every line ends in \\n');
  assert.equal(lines.length, 501, 'every line taken before stop was flushed before the close');
  assert.match(lines[0]!, /^tskv\ttimestamp=\S+\tlevel=DEBUG\tmodule=mod\ttext=dbg$/);
  assert.match(lines[500]!, /\tlevel=INFO\tmodule=mod\ttext=line 499\ttab=a\\tb$/);
  await registry.current().sink.flush(2000);
  const file = target.lines();
  assert.ok(file.some((l) => l.endsWith('text=before')) && file.some((l) => l.endsWith('text=after')));
  assert.ok(!file.some((l) => l.endsWith('text=below the level set on stop')), 'the level given on stop applies');
  assert.ok(file.some((l) => l.endsWith('text=dbg')), 'the file also gets the capture-level lines');
});

test('json file format: the capture still gets tskv; a second capture makes a new connection; long lines are left out', async (t) => {
  const { server, port, connections } = await listener();
  t.after(() => server.close());
  const { registry } = setup();
  registry.configure({ level: 'info', format: 'json', sink: registry.defaultSink() });
  const log = registry.getLogger('mod').child({ trace_id: 'abc' });
  const capture = new TestsuiteCapture({ host: '127.0.0.1', port }, registry);
  await capture.start('info');
  log.info('one');
  log.info('x'.repeat(MAX_CAPTURE_LINE_BYTES));
  assert.deepEqual(await capture.stop(undefined), { sent: 1, dropped: 1 });
  await capture.start('info');
  log.info('two');
  await capture.stop(undefined);
  assert.equal(connections.length, 2);
  assert.match(await connections[0]!, /^tskv\t.*\ttext=one\ttrace_id=abc\n$/);
  assert.match(await connections[1]!, /^tskv\t.*\ttext=two\ttrace_id=abc\n$/);
});

test('start rejects when nobody listens; stop without a capture is harmless', async () => {
  const { registry } = setup();
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  const capture = new TestsuiteCapture({ host: '127.0.0.1', port }, registry);
  await assert.rejects(
    capture.start('debug'),
    (e: unknown) => e instanceof LogCaptureError && /cannot connect to 127\.0\.0\.1:\d+: ECONNREFUSED/.test(e.message),
  );
  assert.equal(capture.active, false);
  assert.deepEqual(await capture.stop('info'), { sent: 0, dropped: 0 });
});
