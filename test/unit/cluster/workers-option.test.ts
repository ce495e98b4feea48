/** `tcp-echo.workers`: schema and resolution (explicit, auto, userver's worker_threads, default). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveWorkers, workersSchema, MAX_WORKERS } from '../../../src/cluster/workers-option.js';
import { tcpEchoSchema as echoSchema } from '../../../src/cluster/tcp-echo-component.js';
import { validate } from '../../../src/config/schema.js';

const AT = { file: 'static_config.yaml', keyPath: 'components_manager.components.tcp-echo' };

test('workers accepts an integer >= 1 or auto; anything else names the key and what is allowed', () => {
  assert.equal(validate(echoSchema, { port: 1, workers: 2 }, AT).workers, 2);
  assert.equal(validate(echoSchema, { port: 1, workers: 'auto' }, AT).workers, 'auto');
  assert.equal(validate(echoSchema, { port: 1 }, AT).workers, undefined);
  for (const bad of [0, -1, 1.5, 'all', MAX_WORKERS + 1]) {
    assert.throws(
      () => validate(echoSchema, { port: 1, workers: bad }, AT),
      (error: Error & { code?: string }) =>
        error.code === 'ECHO_ERR_CONFIG_VALUE' &&
        error.message.startsWith('static_config.yaml: components_manager.components.tcp-echo.workers: ') &&
        error.message.includes(`expected an integer from 1 to ${MAX_WORKERS}, or one of auto`),
      `workers: ${String(bad)}`,
    );
  }
  assert.match(workersSchema.description, /one per core/);
});

test('resolution: explicit wins, auto = cores, then main-task-processor.worker_threads (at most the cores), then 1', () => {
  assert.equal(resolveWorkers(3, 8, () => 4), 3);
  assert.equal(resolveWorkers(8, undefined, () => 2), 8, 'an explicit count is honoured as it is');
  assert.equal(resolveWorkers('auto', 8, () => 4), 4);
  assert.equal(resolveWorkers('auto', undefined, () => 1), 1);
  assert.equal(resolveWorkers(undefined, 3, () => 4), 3);
  assert.equal(resolveWorkers(undefined, 16, () => 4), 4, "userver's thread count is capped at the cores");
  assert.equal(resolveWorkers(undefined, 1000, () => 512), MAX_WORKERS);
  assert.equal(resolveWorkers(undefined, 1, () => 4), 1);
  assert.equal(resolveWorkers(undefined, undefined, () => 4), 1);
});
