import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defineComponent, type Component, type ComponentContext } from '../../../src/components/component.js';
import { ComponentManager } from '../../../src/components/manager.js';
import { duration, integer, object, optional, string } from '../../../src/config/schema.js';
import {
  ComponentStartError,
  ConfigMissingKeyError,
  ConfigUnknownKeyError,
  ConfigValueError,
  ListenError,
} from '../../../src/errors.js';

const FILE = 'static.yaml';

/** A component list whose components record what happens to them in `events`. */
function fixture(options: { failStart?: string; failStop?: string; failCreate?: string; needs?: Record<string, string[]> } = {}) {
  const events: string[] = [];
  const contexts = new Map<string, ComponentContext>();
  const make = (name: string, loadByDefault = false) =>
    defineComponent({
      name,
      loadByDefault,
      schema: object({
        description: name,
        properties: {
          port: integer({ description: 'port', minimum: 0, maximum: 65535, default: 1 }),
          mode: string({ description: 'mode', enum: ['a', 'b'], default: 'a' }),
          delay: duration({ description: 'delay', default: '1s' }),
          listener: object({ description: 'nested', properties: { task_processor: optional(string({ description: 'tp' })) } }),
        },
      }),
      create(config, context): Component {
        if (options.failCreate === name) throw new Error(`cannot create ${name}`);
        events.push(`create ${name} port=${config.port} delay=${config.delay}`);
        contexts.set(name, context);
        for (const need of options.needs?.[name] ?? []) context.find(need);
        return {
          start() {
            if (options.failStart === name) {
              throw new ListenError(`${name}: cannot listen on 127.0.0.1:${config.port}: address already in use`);
            }
            events.push(`start ${name}`);
          },
          async stop() {
            events.push(`stop ${name}`);
            if (options.failStop === name) throw new Error('stop failed');
          },
        };
      },
    });
  const list = [make('storage', true), make('alpha'), make('beta'), make('gamma')];
  return { events, contexts, list };
}

function root(components: unknown, extra: Record<string, unknown> = {}) {
  return { components_manager: { ...extra, components } };
}

function configError(fn: () => unknown, type: Function, keyPath: string, text: RegExp) {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
    assert.equal((error as ConfigValueError).keyPath, keyPath);
    assert.ok((error as Error).message.startsWith(`${FILE}: ${keyPath}: `), (error as Error).message);
    assert.match((error as Error).message, text);
    return true;
  });
}

describe('ComponentManager: validation before anything is built', () => {
  test('an unknown component is rejected with the nearest name', () => {
    const { list, events } = fixture();
    configError(
      () => new ComponentManager(list, FILE, root({ alpha: {}, btea: {} })),
      ConfigUnknownKeyError,
      'components_manager.components.btea',
      /unknown component; did you mean 'beta'\?/,
    );
    assert.deepEqual(events, []);
  });

  test('every section is validated (also after a valid one), with the dotted path', () => {
    const { list, events } = fixture();
    configError(
      () => new ComponentManager(list, FILE, root({ alpha: { port: 1 }, gamma: { port: 70000 } })),
      ConfigValueError,
      'components_manager.components.gamma.port',
      /70000 is out of range/,
    );
    assert.deepEqual(events, []);
  });

  test('load-enabled must be a boolean; disabled sections are still validated', () => {
    const { list } = fixture();
    configError(
      () => new ComponentManager(list, FILE, root({ alpha: { 'load-enabled': 'no' } })),
      ConfigValueError,
      'components_manager.components.alpha.load-enabled',
      /expected true or false/,
    );
    configError(
      () => new ComponentManager(list, FILE, root({ alpha: { 'load-enabled': false, mode: 'c' } })),
      ConfigValueError,
      'components_manager.components.alpha.mode',
      /one of a, b/,
    );
  });

  test('components_manager keys: unknown rejected with a suggestion, components required', () => {
    const { list } = fixture();
    configError(
      () => new ComponentManager(list, FILE, root({}, { graceful_shutdown_intervl: '1s' })),
      ConfigUnknownKeyError,
      'components_manager.graceful_shutdown_intervl',
      /did you mean 'graceful_shutdown_interval'\?/,
    );
    configError(
      () => new ComponentManager(list, FILE, { components_manager: {} }),
      ConfigMissingKeyError,
      'components_manager.components',
      /required key is missing/,
    );
    configError(() => new ComponentManager(list, FILE, {}), ConfigMissingKeyError, 'components_manager.components', /missing/);
    configError(
      () => new ComponentManager(list, FILE, { components_manager: { components: {} }, component_manager: {} }),
      ConfigUnknownKeyError,
      'component_manager',
      /did you mean 'components_manager'\?/,
    );
  });

  test('default_task_processor must name a task processor', () => {
    const { list } = fixture();
    configError(
      () =>
        new ComponentManager(list, FILE, root({}, { task_processors: { 'main-task-processor': { worker_threads: 2 } }, default_task_processor: 'main-task-procesor' })),
      ConfigValueError,
      'components_manager.default_task_processor',
      /did you mean 'main-task-processor'\?/,
    );
  });

  test("a component's task_processor (at any depth) must name a task processor", () => {
    const { list } = fixture();
    const processors = { task_processors: { 'main-task-processor': {}, 'monitor-task-processor': {} } };
    configError(
      () => new ComponentManager(list, FILE, root({ alpha: { listener: { task_processor: 'monitor-task-procesor' } } }, processors)),
      ConfigValueError,
      'components_manager.components.alpha.listener.task_processor',
      /"monitor-task-procesor" is not a task processor; did you mean 'monitor-task-processor'\?/,
    );
    assert.doesNotThrow(() => new ComponentManager(list, FILE, root({ alpha: { listener: { task_processor: 'monitor-task-processor' } } }, processors)));
    // Without task_processors nothing can be checked (userver's defaults are implied).
    assert.doesNotThrow(() => new ComponentManager(list, FILE, root({ alpha: { listener: { task_processor: 'anything' } } })));
  });

  test('settings: graceful_shutdown_interval in ms, main-task-processor worker_threads', () => {
    const { list } = fixture();
    const manager = new ComponentManager(
      list,
      FILE,
      root({}, { graceful_shutdown_interval: '2s', task_processors: { 'main-task-processor': { worker_threads: 3, thread_name: 'main' } } }),
    );
    assert.deepEqual(manager.settings, { gracefulShutdownIntervalMs: 2000, mainWorkerThreads: 3 });
    const bare = new ComponentManager(list, FILE, root({}));
    assert.deepEqual(bare.settings, { gracefulShutdownIntervalMs: 0, mainWorkerThreads: undefined });
  });

  test('absent sections are not loaded unless loadByDefault; load-enabled: false skips; null section = defaults', () => {
    const { list } = fixture();
    const manager = new ComponentManager(list, FILE, root({ alpha: null, gamma: { 'load-enabled': false } }));
    assert.deepEqual(manager.loaded, ['storage', 'alpha']);
    const off = new ComponentManager(list, FILE, root({ storage: { 'load-enabled': false } }));
    assert.deepEqual(off.loaded, []);
  });
});

describe('ComponentManager: lifecycle', () => {
  test('constructs all, then starts in list order with validated config, stops in reverse', async () => {
    const { list, events } = fixture();
    const manager = new ComponentManager(list, FILE, root({ alpha: { port: 5, delay: '250ms' }, gamma: {} }));
    await manager.start();
    assert.deepEqual(events, [
      'create storage port=1 delay=1000',
      'create alpha port=5 delay=250',
      'create gamma port=1 delay=1000',
      'start storage',
      'start alpha',
      'start gamma',
    ]);
    events.length = 0;
    await manager.stop();
    assert.deepEqual(events, ['stop gamma', 'stop alpha', 'stop storage']);
  });

  test('stop() twice stops each component once; stopping and onStopping fire before any stop()', async () => {
    const { list, events } = fixture();
    const manager = new ComponentManager(list, FILE, root({ alpha: {} }));
    manager.onStopping(() => events.push(`onStopping stopping=${manager.stopping}`));
    await manager.start();
    assert.equal(manager.stopping, false);
    events.length = 0;
    await Promise.all([manager.stop(), manager.stop()]);
    await manager.stop();
    assert.deepEqual(events, ['onStopping stopping=true', 'stop alpha', 'stop storage']);
    let late = false;
    manager.onStopping(() => (late = true));
    assert.equal(late, true, 'a listener added after stopping began is called at once');
  });

  test('a failing stop() is logged, not thrown, and the others still stop', async () => {
    const { list, events } = fixture({ failStop: 'beta' });
    const manager = new ComponentManager(list, FILE, root({ alpha: {}, beta: {}, gamma: {} }));
    await manager.start();
    events.length = 0;
    await manager.stop();
    assert.deepEqual(events, ['stop gamma', 'stop beta', 'stop alpha', 'stop storage']);
  });

  test('a failing start stops what was constructed, in reverse, and rethrows the EchoError as it is', async () => {
    const { list, events } = fixture({ failStart: 'beta' });
    const manager = new ComponentManager(list, FILE, root({ alpha: {}, beta: { port: 8 }, gamma: {} }));
    await assert.rejects(manager.start(), (error: unknown) => {
      assert.ok(error instanceof ListenError);
      assert.match(error.message, /beta: cannot listen on 127\.0\.0\.1:8/);
      return true;
    });
    assert.deepEqual(events.filter((e) => !e.startsWith('create')), [
      'start storage',
      'start alpha',
      'stop gamma',
      'stop beta',
      'stop alpha',
      'stop storage',
    ]);
    assert.equal(manager.stopping, true);
  });

  test('a plain Error from create() becomes ComponentStartError naming the component', async () => {
    const { list, events } = fixture({ failCreate: 'beta' });
    const manager = new ComponentManager(list, FILE, root({ alpha: {}, beta: {} }));
    await assert.rejects(manager.start(), (error: unknown) => {
      assert.ok(error instanceof ComponentStartError);
      assert.equal(error.code, 'ECHO_ERR_COMPONENT_START');
      assert.match(error.message, /component 'beta' failed to construct: cannot create beta/);
      return true;
    });
    assert.deepEqual(events.filter((e) => e.startsWith('stop')), ['stop alpha', 'stop storage']);
  });

  test('graceful_shutdown_interval delays stop() after onStopping', async () => {
    const { list, events } = fixture();
    const manager = new ComponentManager(list, FILE, root({ alpha: {} }, { graceful_shutdown_interval: '300ms' }));
    let stoppingAt = 0;
    manager.onStopping(() => (stoppingAt = performance.now()));
    await manager.start();
    const begin = performance.now();
    await manager.stop();
    const elapsed = performance.now() - begin;
    // Ordering, not speed (was < 100 ms after stop()): onStopping fired before the interval was waited out.
    assert.ok(stoppingAt >= begin && begin + elapsed - stoppingAt >= 290, `onStopping at +${stoppingAt - begin} ms of ${elapsed} ms`);
    // The lower bound is the behaviour (the interval was waited); the upper one only a hang guard (was < 5000 ms).
    assert.ok(elapsed >= 290 && elapsed < 30_000, `stop took ${elapsed} ms`);
    assert.ok(events.includes('stop alpha'));
  });
});

describe('ComponentManager: find / findOptional', () => {
  test('find returns an earlier component; findOptional gives undefined when not loaded', async () => {
    const { list, contexts } = fixture({ needs: { beta: ['alpha'] } });
    const manager = new ComponentManager(list, FILE, root({ alpha: {}, beta: {} }));
    await manager.start();
    const context = contexts.get('beta')!;
    assert.ok(context.find('storage'));
    assert.equal(context.findOptional('gamma'), undefined);
    assert.equal(context.configFile, FILE);
    assert.equal(context.lifecycle.stopping, false);
    await manager.stop();
  });

  test('find of a component without a section: a config error at its key telling what to add', async () => {
    const { list } = fixture({ needs: { beta: ['alpha'] } });
    const manager = new ComponentManager(list, FILE, root({ beta: {} }));
    await assert.rejects(manager.start(), (error: unknown) => {
      assert.ok(error instanceof ConfigMissingKeyError);
      assert.equal(error.keyPath, 'components_manager.components.alpha');
      assert.match(error.message, /^static\.yaml: components_manager\.components\.alpha: /);
      assert.match(error.message, /component 'alpha' is required by 'beta' but is not loaded/);
      assert.match(error.message, /add a 'alpha:' section under components_manager\.components/);
      return true;
    });
  });

  test('find of a disabled component: a config error at its load-enabled key', async () => {
    const { list } = fixture({ needs: { beta: ['alpha'] } });
    const manager = new ComponentManager(list, FILE, root({ alpha: { 'load-enabled': false }, beta: {} }));
    await assert.rejects(manager.start(), (error: unknown) => {
      assert.ok(error instanceof ConfigValueError);
      assert.equal(error.keyPath, 'components_manager.components.alpha.load-enabled');
      assert.match(error.message, /load-enabled: false/);
      return true;
    });
  });

  test('find of a component later in the list, or of an unknown one, is a clear error', async () => {
    const later = fixture({ needs: { alpha: ['gamma'] } });
    await assert.rejects(
      new ComponentManager(later.list, FILE, root({ alpha: {}, gamma: {} })).start(),
      /'gamma' is required by 'alpha' but comes after it in the component list/,
    );
    const unknown = fixture({ needs: { alpha: ['gama'] } });
    await assert.rejects(
      new ComponentManager(unknown.list, FILE, root({ alpha: {} })).start(),
      /asked for unknown component 'gama'; did you mean 'gamma'\?/,
    );
  });

  test('options.construct narrows what this process builds; the whole config is still validated', async () => {
    const { list, events, contexts } = fixture({ needs: { beta: ['alpha'] } });
    configError(
      () => new ComponentManager(list, FILE, root({ alpha: {}, gamma: { port: -1 } }), { construct: (n) => n !== 'gamma' }),
      ConfigValueError,
      'components_manager.components.gamma.port',
      /out of range/,
    );
    const config = root({ alpha: {}, gamma: {} });
    const manager = new ComponentManager(list, FILE, config, { construct: (n) => n !== 'alpha' });
    assert.deepEqual(manager.loaded, ['storage', 'gamma']);
    await manager.start();
    assert.deepEqual(events.filter((e) => e.startsWith('start')), ['start storage', 'start gamma']);
    assert.ok(manager.component('gamma'));
    assert.equal(manager.component('alpha'), undefined);
    assert.equal(contexts.get('gamma')!.staticConfig, config, 'components see the loaded config');
    await manager.stop();
    const needy = fixture({ needs: { beta: ['alpha'] } });
    await assert.rejects(
      new ComponentManager(needy.list, FILE, root({ alpha: {}, beta: {} }), { construct: (n) => n !== 'alpha' }).start(),
      /'alpha' is required by 'beta' but is not loaded: it is not constructed in this process/,
    );
  });

  test('a component listed twice is a programming error', () => {
    const { list } = fixture();
    assert.throws(() => new ComponentManager([...list, list[1]!], FILE, root({})), /listed twice/);
  });
});
