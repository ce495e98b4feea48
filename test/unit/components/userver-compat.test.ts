/**
 * The userver names pytest_userver and userver's sample config bring: accepted with userver's
 * schemas, while unknown components, keys and middleware names stay errors with the nearest
 * name suggested (as in userver).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ComponentManager } from '../../../src/components/manager.js';
import { ACCEPTED_USERVER_COMPONENTS } from '../../../src/components/userver-compat/accepted-components.js';
import { dynamicConfigComponent, type DynamicConfig } from '../../../src/components/userver-compat/dynamic-config.js';
import { middlewarePipelineComponent } from '../../../src/monitor/middleware-pipeline.js';
import { ConfigFileError, ConfigUnknownKeyError, ConfigValueError } from '../../../src/errors.js';
import { loggingComponent } from '../../../src/log/logging-component.js';
import { testsControlComponent } from '../../../src/monitor/handlers/tests-control.js';
import { serverComponent, type HttpServer } from '../../../src/monitor/server-component.js';

const FILE = 'config.yaml';
const LIST = [loggingComponent, dynamicConfigComponent, serverComponent, middlewarePipelineComponent, testsControlComponent, ...ACCEPTED_USERVER_COMPONENTS];
const root = (components: Record<string, unknown>) => ({ components_manager: { components } });
const manager = (components: Record<string, unknown>) => new ComponentManager(LIST, FILE, root(components));

test("the sample's sections and pytest_userver's additions validate", () => {
  const m = manager({
    'testsuite-support': null,
    'http-client': {
      'fs-task-processor': 'fs-task-processor',
      'testsuite-enabled': true,
      'testsuite-timeout': '10s',
      'testsuite-allowed-url-prefixes': ['http://127.0.0.1:1/'],
    },
    'dns-client': { 'fs-task-processor': 'fs-task-processor' },
    'dynamic-config': { defaults: { ANY_KEY: { nested: [1, null] }, OTHER: null }, 'updates-enabled': false },
    'default-server-middleware-pipeline-builder': { append: ['testsuite-exceptions-handling-middleware'] },
    logging: { loggers: { default: { file_path: '@null', 'testsuite-capture': { host: '127.0.0.1', port: 4 }, flush_level: 'warning' } } },
    server: { listener: { port: 0 } },
    'tests-control': { 'skip-unregistered-testpoints': true, 'testpoint-url': 'http://x/testpoint', 'testpoint-timeout': '1s', 'monitor-handler': false },
  });
  assert.ok(m.loaded.includes('testsuite-support') && m.loaded.includes('dns-client'));
});

test('unknown components and keys stay errors, with the nearest name', () => {
  assert.throws(
    () => manager({ 'dns-clinet': {} }),
    (e: unknown) => e instanceof ConfigUnknownKeyError && /components\.dns-clinet: unknown component; did you mean 'dns-client'\?/.test(e.message),
  );
  assert.throws(
    () => manager({ 'testsuite-support': { 'testsuite-periodic-update-enable': false } }),
    (e: unknown) =>
      e instanceof ConfigUnknownKeyError &&
      e.keyPath === 'components_manager.components.testsuite-support.testsuite-periodic-update-enable' &&
      e.message.includes("did you mean 'testsuite-periodic-update-enabled'?"),
  );
  assert.throws(
    () => manager({ 'http-client': { 'testsuite-enable': true } }),
    (e: unknown) => e instanceof ConfigUnknownKeyError && e.message.includes("did you mean 'testsuite-enabled'?"),
  );
  assert.throws(
    () => manager({ 'tests-control': { 'skip-unregistered-testpoint': true } }),
    (e: unknown) => e instanceof ConfigUnknownKeyError && e.message.includes("did you mean 'skip-unregistered-testpoints'?"),
  );
  assert.throws(
    () => manager({ logging: { loggers: { default: { 'testsuite-captur': {} } } } }),
    (e: unknown) => e instanceof ConfigUnknownKeyError && e.message.includes("did you mean 'testsuite-capture'?"),
  );
});

test('create-time checks: unknown middleware, capture off the default logger, defaults and defaults-path', async () => {
  await assert.rejects(
    manager({ 'default-server-middleware-pipeline-builder': { append: ['testsuite-exception-handling-middleware'] } }).start(),
    (e: unknown) =>
      e instanceof ConfigValueError &&
      e.keyPath === 'components_manager.components.default-server-middleware-pipeline-builder.append.0' &&
      e.message.includes("did you mean 'testsuite-exceptions-handling-middleware'?"),
  );
  await assert.rejects(
    manager({ logging: { loggers: { default: {}, access: { 'testsuite-capture': { host: 'h', port: 1 } } } } }).start(),
    (e: unknown) => e instanceof ConfigValueError && e.keyPath.endsWith('loggers.access.testsuite-capture'),
  );
  const dir = mkdtempSync(path.join(tmpdir(), 'tcp-echo-dynconf-'));
  const file = path.join(dir, 'defaults.json');
  writeFileSync(file, '{"USERVER_LOG_REQUEST": true}');
  await assert.rejects(
    manager({ 'dynamic-config': { defaults: {}, 'defaults-path': file } }).start(),
    (e: unknown) => e instanceof ConfigValueError && e.message.includes("either 'defaults' or 'defaults-path'"),
  );
  await assert.rejects(
    manager({ 'dynamic-config': { 'defaults-path': path.join(dir, 'absent.json') } }).start(),
    (e: unknown) => e instanceof ConfigFileError && e.message.includes('no such file'),
  );
  const m = manager({ 'dynamic-config': { 'defaults-path': file } });
  await m.start();
  assert.deepEqual(m.component<DynamicConfig>('dynamic-config')?.defaults, { USERVER_LOG_REQUEST: true });
  await m.stop({ graceful: false });
});

test('testsuite-exceptions-handling-middleware: an unexpected handler error answers 500 JSON with its details', async (t) => {
  for (const withMiddleware of [true, false]) {
    const m = new ComponentManager([serverComponent, middlewarePipelineComponent], FILE, root({
      server: { listener: { port: 0 } },
      ...(withMiddleware ? { 'default-server-middleware-pipeline-builder': { append: ['testsuite-exceptions-handling-middleware'] } } : {}),
    }));
    await m.start();
    t.after(() => m.stop({ graceful: false }));
    const server = m.component<HttpServer>('server')!;
    server.addHandler({ method: 'GET', path: '/boom' }, () => {
      throw new TypeError('cannot read properties of undefined');
    });
    const response = await fetch(`http://127.0.0.1:${server.port}/boom`);
    assert.equal(response.status, 500);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(
      await response.json(),
      withMiddleware
        ? { code: '500', message: 'Internal Server Error', details: 'cannot read properties of undefined' }
        : { code: 'ECHO_ERR_HTTP_INTERNAL', message: 'internal error (see the service log)' },
    );
    await m.stop({ graceful: false });
  }
});
