/**
 * The component contract, after userver's `components::ComponentBase`: a component owns one
 * config section (by name), declares its schema, is constructed once every section is valid,
 * starts after every component exists, and stops in reverse order.
 */
import type { AnySchema, Infer } from '../config/schema.js';
import type { Readiness } from './readiness.js';

/** A running part of the service. `stop()` must be safe to call twice. */
export interface Component {
  /** Begin work (listen, open files). Called in list order after every component is constructed. */
  start(): Promise<void> | void;
  /** Release everything. Called in reverse list order; bounded in time. */
  stop(): Promise<void> | void;
}

/** How the service as a whole is doing; components read it (e.g. `/ping` answers 500 once stopping). */
export interface Lifecycle {
  /** True from the moment shutdown begins (first SIGTERM/SIGINT, or a fatal start error). */
  readonly stopping: boolean;
  /** Called once when shutdown begins, before any component's `stop()`. */
  onStopping(listener: () => void): void;
}

/** What a component gets besides its own config. */
export interface ComponentContext {
  /** The static config file, for messages. */
  readonly configFile: string;
  /** The whole static config as loaded and substituted (not yet validated), e.g. to hand to worker processes. */
  readonly staticConfig?: Readonly<Record<string, unknown>>;
  /** Settings of `components_manager` itself that components may honour. */
  readonly manager: ManagerSettings;
  readonly lifecycle: Lifecycle;
  /**
   * Whether the service serves (`/ping`, readiness probes). A component whose work is the service
   * takes a gate at construction and opens it once it serves. Absent outside a ComponentManager.
   */
  readonly readiness?: Readiness;
  /** A component constructed earlier in the list; throws ComponentMissingError if it is not loaded. */
  find<T extends Component>(name: string): T;
  /** Like `find`, but `undefined` when the component is not loaded. */
  findOptional<T extends Component>(name: string): T | undefined;
}

/** `components_manager` options other than the component sections. */
export interface ManagerSettings {
  /** userver's `graceful_shutdown_interval`, in milliseconds. */
  readonly gracefulShutdownIntervalMs: number;
  /** `task_processors.main-task-processor.worker_threads` when the config sets it. */
  readonly mainWorkerThreads: number | undefined;
}

/** A component type: its section name, the schema of that section, and how to build it. */
export interface ComponentDefinition<S extends AnySchema = AnySchema> {
  /** The key under `components_manager.components`. */
  readonly name: string;
  /** Schema of the section (an object schema). `load-enabled` is added by the manager. */
  readonly schema: S;
  /** Construct with defaults when the config has no section for it (statistics-storage, tracer). */
  readonly loadByDefault?: boolean;
  create(config: Infer<S>, context: ComponentContext): Component;
}

/** Declares a component with its config type inferred from its schema. */
export function defineComponent<S extends AnySchema>(definition: ComponentDefinition<S>): ComponentDefinition<S> {
  return definition;
}
