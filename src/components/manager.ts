/**
 * The component manager (userver's `components::Manager`): validates every section before
 * anything is built, constructs the components in list order, starts them in list order, and
 * stops them in reverse. It is also the service's Lifecycle (`stopping`, `onStopping`).
 */
import { ComponentMissingError, ComponentStartError, ConfigMissingKeyError, ConfigValueError, EchoError, errorMessage } from '../errors.js';
import { getLogger } from '../log/index.js';
import { nearest } from '../config/nearest.js';
import { validateStaticConfig, type SectionPlan } from '../config/static-config.js';
import type { Component, ComponentContext, ComponentDefinition, Lifecycle, ManagerSettings } from './component.js';
import { Readiness } from './readiness.js';

const log = getLogger('components-manager');

/** One component section after validation. */
type Plan = SectionPlan<ComponentDefinition>;

/** Options of a ComponentManager. */
export interface ManagerOptions {
  /** Whether this process constructs the (loaded) component `name`; default: every loaded one. */
  readonly construct?: (name: string) => boolean;
}

interface Entry {
  readonly name: string;
  readonly component: Component;
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
    const { root: settings, plans } = validateStaticConfig(definitions, file, root);
    const construct = options.construct;
    const cm = settings.components_manager;
    this.settings = {
      gracefulShutdownIntervalMs: cm.graceful_shutdown_interval,
      mainWorkerThreads: cm.task_processors['main-task-processor']?.worker_threads,
    };
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
        `component '${current}' failed to ${phase}: ${errorMessage(error)}`,
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
    const reversed = [...this.#entries].reverse();
    for (const [i, entry] of reversed.entries()) {
      // The first component (logging, by convention) stops last and may take the log destination
      // with it: the closing report is written before, so it lands where every other line did.
      if (!quiet && i === reversed.length - 1) log.info(`all components stopped but '${entry.name}', which stops last`);
      try {
        log.debug(`stopping component '${entry.name}'`);
        await entry.component.stop();
      } catch (error) {
        log.error(`component '${entry.name}' failed to stop: ${errorMessage(error)}`);
      }
    }
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

function callListener(listener: () => void): void {
  try {
    listener();
  } catch (error) {
    log.error(`an onStopping listener threw: ${errorMessage(error)}`);
  }
}
