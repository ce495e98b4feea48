import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { ComponentContext } from '../../../src/components/component.js';
import { validate } from '../../../src/config/schema.js';
import { ConfigUnknownKeyError, ConfigValueError, LogSinkError } from '../../../src/errors.js';
import { getLogger, getLogStats, registry } from '../../../src/log/index.js';
import { loggingComponent } from '../../../src/log/logging-component.js';

const CONFIG_FILE = '/srv/tcp-echo/static_config.yaml';
const AT = { file: CONFIG_FILE, keyPath: 'components_manager.components.logging' };

const context: ComponentContext = {
  configFile: CONFIG_FILE,
  manager: { gracefulShutdownIntervalMs: 0, mainWorkerThreads: undefined },
  lifecycle: { stopping: false, onStopping() {} },
  find: () => {
    throw new Error('not used');
  },
  findOptional: () => undefined,
};

function create(section: unknown) {
  return loggingComponent.create(validate(loggingComponent.schema, section, AT), context);
}

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logging-component-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function readJsonLines(file: string): Array<Record<string, unknown>> {
  const text = fs.readFileSync(file, 'utf8');
  assert.ok(text.endsWith('\n'));
  return text.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Polls `check` until it holds; the deadline is generous, for a loaded machine. */
async function waitFor(check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('logging component: schema', () => {
  it('fills userver\'s defaults for an empty section', () => {
    assert.deepEqual(validate(loggingComponent.schema, {}, AT), {
      loggers: {
        default: {
          file_path: '@stderr',
          level: 'info',
          format: 'tskv',
          overflow_behavior: 'discard',
          message_queue_size: 65536,
        },
      },
    });
  });

  it('rejects overflow_behavior: block, naming the key and saying why', () => {
    assert.throws(
      () => create({ loggers: { default: { overflow_behavior: 'block' } } }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigValueError);
        assert.match(
          error.message,
          /^\/srv\/tcp-echo\/static_config\.yaml: components_manager\.components\.logging\.loggers\.default\.overflow_behavior: 'block' is not supported: .*event loop.*'discard'/,
        );
        return true;
      },
    );
  });

  it('rejects an unknown level with the allowed values and the nearest one', () => {
    assert.throws(
      () => validate(loggingComponent.schema, { loggers: { default: { level: 'eror' } } }, AT),
      (error: unknown) =>
        error instanceof ConfigValueError &&
        error.keyPath === 'components_manager.components.logging.loggers.default.level' &&
        /expected one of trace, debug, info, warning, error, critical, none; did you mean 'error'\?/.test(error.message),
    );
  });

  it('rejects an unknown logger option with a suggestion', () => {
    assert.throws(
      () => validate(loggingComponent.schema, { loggers: { default: { file_pth: '@null' } } }, AT),
      (error: unknown) =>
        error instanceof ConfigUnknownKeyError &&
        error.keyPath === 'components_manager.components.logging.loggers.default.file_pth' &&
        /did you mean 'file_path'\?/.test(error.message),
    );
  });

  it('validates other named loggers with the same schema', () => {
    assert.throws(
      () => validate(loggingComponent.schema, { loggers: { access: { format: 'ltsv' } } }, AT),
      (error: unknown) =>
        error instanceof ConfigValueError && error.keyPath === 'components_manager.components.logging.loggers.access.format',
    );
    assert.throws(
      () => validate(loggingComponent.schema, { loggers: { default: { message_queue_size: 0 } } }, AT),
      ConfigValueError,
    );
  });
});

describe('logging component: running', () => {
  it('sends every logger (early ones included) to a JSON file at the configured level, then restores stderr', async (t) => {
    const file = path.join(tempDir(t), 'service.log');
    const early = getLogger('unit-early');
    const earlyChild = early.child({ trace_id: 'abc', fd: 5 });
    const component = create({
      loggers: { default: { file_path: file, level: 'debug', format: 'json' }, access: { file_path: '@null' } },
    });
    t.after(() => component.stop());
    const before = getLogStats();
    await component.start();
    early.debug('debug is on');
    earlyChild.info('from a child', { bytes: 42 });
    getLogger('unit-late').trace('trace is off');
    await component.stop();

    const lines = readJsonLines(file);
    for (const line of lines) assert.match(line.timestamp as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    const brief = lines.map(({ timestamp: _t, ...rest }) => rest);
    assert.deepEqual(brief, [
      {
        level: 'WARNING',
        module: 'logging',
        text: "logger 'access' is configured but unused: only 'default' is written",
        key: 'components_manager.components.logging.loggers.access',
      },
      { level: 'DEBUG', module: 'unit-early', text: 'debug is on' },
      { level: 'INFO', module: 'unit-early', text: 'from a child', trace_id: 'abc', fd: 5, bytes: 42 },
    ]);
    const after = getLogStats();
    assert.equal(after.written - before.written, 3);
    assert.equal(after.byLevel.trace, before.byLevel.trace);

    const { level, format, sink } = registry.current();
    assert.deepEqual([level, format, sink], ['info', 'tskv', registry.defaultSink()]);
    assert.equal(early.isEnabled('debug'), false);
  });

  it('reopens its file on SIGUSR1; after stop (twice is fine) SIGUSR1 is harmless', async (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'service.log');
    const component = create({ loggers: { default: { file_path: file, format: 'json' } } });
    t.after(() => component.stop());
    await component.start();
    // One listener for the process, whatever the number of starts (earlier tests started one too).
    const listeners = process.listenerCount('SIGUSR1');
    assert.ok(listeners >= 1);
    const log = getLogger('unit-rotate');
    log.info('before rotation');
    await registry.current().sink.flush(2000);
    fs.renameSync(file, `${file}.1`);
    process.kill(process.pid, 'SIGUSR1');
    // Reopened means the component said so: the line is logged once the new file is open, a
    // moment after the file appears, so waiting for the file alone raced the next line (seen under load).
    await waitFor(() => fs.existsSync(file) && fs.readFileSync(file, 'utf8').includes('SIGUSR1: log file reopened'));
    log.info('after rotation');
    await component.stop();
    await component.stop();
    assert.deepEqual(readJsonLines(`${file}.1`).map((l) => l.text), ['before rotation']);
    assert.deepEqual(readJsonLines(file).map((l) => [l.text, l.file_path]), [
      ['SIGUSR1: log file reopened', file],
      ['after rotation', undefined],
    ]);

    // Stopped: the signal neither kills the process (Node's default action) nor reopens anything.
    fs.renameSync(file, `${file}.2`);
    process.kill(process.pid, 'SIGUSR1');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(fs.existsSync(file), false);
    const again = create({ loggers: { default: { file_path: file } } });
    await again.start();
    await again.stop();
    assert.equal(process.listenerCount('SIGUSR1'), listeners, 'no listener added per start');
  });

  it('fails to start with a LogSinkError naming the key when the directory is missing', async (t) => {
    const file = path.join(tempDir(t), 'missing', 'service.log');
    const component = create({ loggers: { default: { file_path: file } } });
    await assert.rejects(async () => component.start(), (error: unknown) => {
      assert.ok(error instanceof LogSinkError);
      assert.ok(
        error.message.startsWith(
          `${CONFIG_FILE}: components_manager.components.logging.loggers.default.file_path: cannot open log file`,
        ),
        error.message,
      );
      return true;
    });
    await component.stop();
    assert.equal(registry.current().sink, registry.defaultSink());
  });

  it('with @null and level none writes nothing and counts nothing', async (t) => {
    const component = create({ loggers: { default: { file_path: '@null', level: 'none' } } });
    t.after(() => component.stop());
    await component.start();
    const before = getLogStats();
    getLogger('unit-none').critical('not even this');
    assert.deepEqual(getLogStats().byLevel, before.byLevel);
    await component.stop();
  });
});
