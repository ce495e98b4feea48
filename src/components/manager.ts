/**
 * The component manager (userver's `components::Manager`): validates every section before
 * anything is built, constructs the components in list order, starts them in list order, and
 * stops them in reverse. It is also the service's Lifecycle (`stopping`, `onStopping`).
 */
import {
  ComponentMissingError,
  ComponentStartError,
  ConfigMissingKeyError,
  ConfigUnknownKeyError,
  ConfigValueError,
  EchoError,
  type ConfigLocation,
} from '../errors.js';
import { getLogger } from '../log/index.js';
import { rootSettingsSchema, withLoadEnabled } from '../config/manager-schema.js';
import { nearest } from '../config/nearest.js';
import { describeValue, validate, type Infer } from '../config/schema.js';
import type { Component, ComponentContext, ComponentDefinition, Lifecycle, ManagerSettings } from './component.js';
import { Readiness } from './readiness.js';

const COMPONENTS_PATH = 'components_manager.components';
const log = getLogger('components-manager');

/** The validated `components_manager` settings (without the component sections). */
export type RootSettings = Infer<typeof rootSettingsSchema>;

/** Options of a ComponentManager. */
export interface ManagerOptions {
  /** Whether this process constructs the (loaded) component `name`; default: every loaded one. */
  readonly construct?: (name: string) => boolean;
}

/** One component section after validation. */
interface Plan {
  readonly definition: ComponentDefinition;
  /** The section's validated config, `load-enabled` removed. */
  readonly config: Record<string, unknown>;
  /** Whether the component is built: the section is present (or loads by default) and not disabled. */
  readonly load: boolean;
  /** Why it is not loaded (and what to do), for the error of a component that needs it. */
  readonly skipReason: string;
  /** The config key that keeps it from loading, if a config choice does: its section is absent, or disabled. */
  readonly skipAt?: ConfigLocation & { readonly why: 'absent' | 'disabled' };
}

interface Entry {
  readonly name: string;
  readonly component: Component;
}

/**
 * Validates the whole substituted config (`root`) against the manager's and every component's
 * schema. Throws the first ConfigError, which names the file and the dotted key path; nothing is
 * constructed until this passed.
 */
export function validateStaticConfig(
  definitions: readonly ComponentDefinition[],
  file: string,
  root: Readonly<Record<string, unknown>>,
): { settings: ManagerSettings; root: RootSettings; plans: readonly Plan[] } {
  const manager = root.components_manager;
  const sections = isMapping(manager) ? manager.components : undefined;
  // `components` is validated section by section below, with each component's own schema.
  const withoutSections = isMapping(manager) ? { ...root, components_manager: omit(manager, 'components') } : root;
  const validated = validate(rootSettingsSchema, withoutSections, { file, keyPath: '' });
  if (sections === undefined) {
    throw new ConfigMissingKeyError(
      { file, keyPath: COMPONENTS_PATH },
      'required key is missing (a mapping of component sections, e.g. tcp-echo: { port: 8181 })',
    );
  }
  if (sections !== null && !isMapping(sections)) {
    throw new ConfigValueError({ file, keyPath: COMPONENTS_PATH }, 'expected a mapping of component sections by name');
  }
  const present: Record<string, unknown> = sections ?? {};
  const cm = validated.components_manager;
  checkTaskProcessorRefs(cm, { file, keyPath: 'components_manager' }, cm.task_processors);

  const names = definitions.map((d) => d.name);
  for (const name of Object.keys(present)) {
    if (names.includes(name)) continue;
    const hint = nearest(name, names);
    throw new ConfigUnknownKeyError(
      { file, keyPath: `${COMPONENTS_PATH}.${name}` },
      `unknown component` + (hint ? `; did you mean '${hint}'?` : '') + ` (components: ${names.join(', ')})`,
    );
  }

  const plans = definitions.map((definition): Plan => {
    const has = Object.hasOwn(present, definition.name);
    const at: ConfigLocation = { file, keyPath: `${COMPONENTS_PATH}.${definition.name}` };
    if (definition.schema.kind !== 'object') {
      throw new TypeError(`component '${definition.name}' must declare an object schema, not ${definition.schema.kind}`);
    }
    if (!has && !definition.loadByDefault) {
      return {
        definition,
        config: {},
        load: false,
        skipReason: `add a '${definition.name}:' section under ${COMPONENTS_PATH}`,
        skipAt: { ...at, why: 'absent' },
      };
    }
    const full = validate(withLoadEnabled(definition.schema), present[definition.name], at) as Record<string, unknown>;
    const { 'load-enabled': enabled, ...config } = full;
    checkTaskProcessorRefs(config, at, cm.task_processors);
    return {
      definition,
      config,
      load: enabled !== false,
      skipReason: `it has 'load-enabled: false'`,
      skipAt: { file, keyPath: `${at.keyPath}.load-enabled`, why: 'disabled' },
    };
  });

  const settings: ManagerSettings = {
    gracefulShutdownIntervalMs: cm.graceful_shutdown_interval,
    mainWorkerThreads: cm.task_processors['main-task-processor']?.worker_threads,
  };
  return { settings, root: validated, plans };
}

/**
 * Runs a validated component list. Use: `new ComponentManager(...)` (validates), `start()`,
 * later `stop()`. Both are safe to call once each in any state; `stop()` is also safe twice.
 */
export class ComponentManager implements Lifecycle {
  readonly settings: ManagerSettings;
  readonly configFile: string;
  /** Whether the service serves: closed until every component started, and until each gate its component holds opens. */
  readonly readiness = new Readiness();
  readonly #allStarted = this.readiness.gate('components-manager');
  readonly #plans: readonly Plan[];
  readonly #root: Readonly<Record<string, unknown>>;
  readonly #entries: Entry[] = [];
  readonly #listeners: (() => void)[] = [];
  #startCalled = false;
  #stopping = false;
  #stopped: Promise<void> | undefined;

  /**
   * Validates everything (throws a ConfigError naming file and key path); constructs nothing.
   * `options.construct` narrows which loaded components this process builds (a cluster worker
   * validates the whole config but runs only part of it).
   */
  constructor(
    definitions: readonly ComponentDefinition[],
    file: string,
    root: Readonly<Record<string, unknown>>,
    options: ManagerOptions = {},
  ) {
    const duplicate = definitions.find((d, i) => definitions.findIndex((e) => e.name === d.name) !== i);
    if (duplicate) throw new TypeError(`component '${duplicate.name}' is listed twice`);
    const { settings, plans } = validateStaticConfig(definitions, file, root);
    const construct = options.construct;
    this.settings = settings;
    this.configFile = file;
    this.#root = root;
    this.#plans = construct
      ? plans.map((p) =>
          p.load && !construct(p.definition.name)
            ? { ...p, load: false, skipReason: 'it is not constructed in this process' }
            : p,
        )
      : plans;
  }

  /** A constructed component by name, or undefined (not loaded, or not constructed yet). */
  component<T extends Component>(name: string): T | undefined {
    return this.#entries.find((e) => e.name === name)?.component as T | undefined;
  }

  /** True once shutdown began. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** Called once when shutdown begins, before any `stop()`; immediately if it already began. */
  onStopping(listener: () => void): void {
    if (this.#stopping) callListener(listener);
    else this.#listeners.push(listener);
  }

  /** Names of the loaded components, in start order. */
  get loaded(): readonly string[] {
    return this.#plans.filter((p) => p.load).map((p) => p.definition.name);
  }

  /**
   * Constructs every loaded component in list order, then starts them in list order. On a failure
   * stops whatever was constructed (in reverse) and throws: an EchoError as it is (e.g. a
   * ListenError naming component, address and port), anything else as a ComponentStartError.
   */
  async start(): Promise<void> {
    if (this.#startCalled || this.#stopped) throw new Error('ComponentManager.start() may be called once, before stop()');
    this.#startCalled = true;
    let phase = 'construct';
    let current = '';
    try {
      for (const plan of this.#plans) {
        if (!plan.load) {
          log.debug(`component '${plan.definition.name}' is not loaded: ${plan.skipReason}`);
          continue;
        }
        current = plan.definition.name;
        const component = plan.definition.create(plan.config, this.#contextFor(plan.definition.name));
        this.#entries.push({ name: current, component });
      }
      phase = 'start';
      for (const entry of this.#entries) {
        current = entry.name;
        log.debug(`starting component '${entry.name}'`);
        await entry.component.start();
      }
      this.#allStarted.open();
      log.info(`started: ${this.#entries.map((e) => e.name).join(', ')}`);
    } catch (error) {
      // Quiet: the error itself is the one line the user needs; a stop report would precede it.
      await this.stop({ graceful: false, quiet: true });
      if (error instanceof EchoError) throw error;
      throw new ComponentStartError(
        `component '${current}' failed to ${phase}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }

  /**
   * Begins shutdown: sets `stopping`, calls `onStopping` listeners, waits
   * `graceful_shutdown_interval` (unless `graceful: false`), then stops every constructed
   * component in reverse order. A component's `stop()` error is logged, never thrown, so the
   * others still stop. Calling it again returns the same promise. `quiet` leaves out the closing
   * report (used when a failed start is about to print its own error line).
   */
  stop(options: { graceful?: boolean; quiet?: boolean } = {}): Promise<void> {
    this.#stopped ??= this.#stopAll(options.graceful ?? true, options.quiet ?? false);
    return this.#stopped;
  }

  async #stopAll(graceful: boolean, quiet: boolean): Promise<void> {
    this.#stopping = true;
    for (const listener of this.#listeners.splice(0)) callListener(listener);
    const interval = this.settings.gracefulShutdownIntervalMs;
    if (graceful && interval > 0 && this.#entries.length > 0) {
      log.info(`stopping: waiting graceful_shutdown_interval (${interval} ms) before stopping components`);
      await new Promise((resolve) => setTimeout(resolve, interval));
    }
    for (const entry of [...this.#entries].reverse()) {
      try {
        log.debug(`stopping component '${entry.name}'`);
        await entry.component.stop();
      } catch (error) {
        log.error(`component '${entry.name}' failed to stop: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    if (!quiet) log.info('all components stopped');
  }

  #contextFor(requester: string): ComponentContext {
    const findOptional = <T extends Component>(name: string): T | undefined => {
      const entry = this.#entries.find((e) => e.name === name);
      if (entry) return entry.component as T;
      const plan = this.#plans.find((p) => p.definition.name === name);
      if (!plan) {
        const hint = nearest(name, this.#plans.map((p) => p.definition.name));
        throw new ComponentMissingError(
          `component '${requester}' asked for unknown component '${name}'` + (hint ? `; did you mean '${hint}'?` : ''),
        );
      }
      if (plan.load) {
        // Loaded but not yet constructed: a list-order bug, never a config problem.
        throw new ComponentMissingError(
          `component '${name}' is required by '${requester}' but comes after it in the component list; list it earlier`,
        );
      }
      return undefined;
    };
    return {
      configFile: this.configFile,
      staticConfig: this.#root,
      manager: this.settings,
      lifecycle: this,
      readiness: this.readiness,
      findOptional,
      find: <T extends Component>(name: string): T => {
        const found = findOptional<T>(name);
        if (found) return found;
        const plan = this.#plans.find((p) => p.definition.name === name);
        const problem = `component '${name}' is required by '${requester}' but is not loaded: ${plan?.skipReason ?? 'unknown component'}`;
        // A config choice (section absent or disabled) is a config error naming its key.
        if (plan?.skipAt?.why === 'absent') throw new ConfigMissingKeyError(plan.skipAt, problem);
        if (plan?.skipAt?.why === 'disabled') throw new ConfigValueError(plan.skipAt, problem);
        throw new ComponentMissingError(problem);
      },
    };
  }
}

/** A task processor name must be a key of `task_processors` (when the config declares any). */
function checkTaskProcessorName(name: string, at: ConfigLocation, processors: Readonly<Record<string, unknown>>): void {
  const known = Object.keys(processors);
  if (known.length === 0 || known.includes(name)) return;
  const hint = nearest(name, known);
  throw new ConfigValueError(
    at,
    `${describeValue(name)} is not a task processor` +
      (hint ? `; did you mean '${hint}'?` : '') +
      ` (task_processors: ${known.join(', ')})`,
  );
}

/**
 * userver resolves a component's `task_processor` (and `sockets_task_processor`,
 * `fs-task-processor`, ...) by name and fails on a typo; so do we, wherever the key is nested.
 */
function checkTaskProcessorRefs(value: unknown, at: ConfigLocation, processors: Readonly<Record<string, unknown>>): void {
  if (!isMapping(value) || Object.keys(processors).length === 0) return;
  for (const [key, member] of Object.entries(value)) {
    if (/task[_-]processor$/.test(key) && typeof member === 'string') {
      checkTaskProcessorName(member, { file: at.file, keyPath: `${at.keyPath}.${key}` }, processors);
    } else {
      checkTaskProcessorRefs(member, { file: at.file, keyPath: `${at.keyPath}.${key}` }, processors);
    }
  }
}

function callListener(listener: () => void): void {
  try {
    listener();
  } catch (error) {
    log.error(`an onStopping listener threw: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function omit(value: Record<string, unknown>, key: string): Record<string, unknown> {
  const { [key]: _omitted, ...rest } = value;
  return rest;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

