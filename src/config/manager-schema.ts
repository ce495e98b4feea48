/**
 * The schema of the static config outside the component sections: the top level and
 * `components_manager` (userver's `ManagerConfig`), and the whole-file schema that
 * `--print-config-schema` prints and docs/configuration.md is generated from.
 */
import type { AnySchema } from './schema.js';
import { boolean, duration, integer, object, optional, size, string } from './schema.js';

const IGNORED = 'accepted for userver compatibility; no effect (Node.js runs JavaScript on one thread)';

/** One entry of `task_processors`, in userver's shape. */
export const taskProcessorSchema = object({
  description: `a task processor (${IGNORED}, except main-task-processor.worker_threads, which components may read)`,
  properties: {
    worker_threads: optional(integer({ description: 'number of worker threads', minimum: 1, maximum: 1024 })),
    thread_name: optional(string({ description: 'OS thread name prefix' })),
    'guess-cpu-limit': optional(boolean({ description: 'guess the thread count from the container CPU limit' })),
    'os-scheduling': optional(
      string({ description: 'OS scheduling priority of the threads', enum: ['normal', 'low-cpu', 'idle'] }),
    ),
    'spinning-iterations': optional(integer({ description: 'spin iterations before a worker sleeps', minimum: 0 })),
    'task-trace': optional(
      object({
        description: 'task tracing of the processor',
        properties: {
          every: optional(integer({ description: 'trace every N-th task', minimum: 0 })),
          'max-context-switch-count': optional(integer({ description: 'stop tracing after N switches', minimum: 0 })),
          logger: optional(string({ description: 'logger for the traces' })),
        },
      }),
    ),
  },
});

/**
 * `components_manager` without `components` (each component section is validated against its
 * own component's schema by the manager).
 */
export const managerSettingsSchema = object({
  description: 'the component manager: task processors, shutdown, and the component sections',
  properties: {
    task_processors: object({
      description: `task processors by name (${IGNORED})`,
      properties: {},
      additionalProperties: taskProcessorSchema,
    }),
    default_task_processor: string({
      description: 'task processor that components use when they name none; must be a key of task_processors when that is given',
      default: 'main-task-processor',
    }),
    fs_task_processor: optional(
      string({ description: `task processor for blocking file operations (${IGNORED}); must be a key of task_processors when that is given` }),
    ),
    graceful_shutdown_interval: duration({
      description:
        'on SIGTERM/SIGINT: time between "stopping" (/ping answers 500, so balancers drain) and stopping the components',
      default: 0,
      minimum: 0,
      maximum: 3_600_000,
    }),
    coro_pool: optional(
      object({
        description: `coroutine pool (${IGNORED})`,
        properties: {
          initial_size: optional(integer({ description: 'coroutines preallocated at start', minimum: 0 })),
          max_size: optional(integer({ description: 'most idle coroutines kept', minimum: 0 })),
          stack_size: optional(size({ description: 'stack size of a coroutine' })),
        },
      }),
    ),
    event_thread_pool: optional(
      object({
        description: `event loop threads (${IGNORED})`,
        properties: {
          threads: optional(integer({ description: 'number of event loop threads', minimum: 1 })),
          thread_name: optional(string({ description: 'OS thread name prefix' })),
          dedicated_timer_threads: optional(integer({ description: 'threads for timers only', minimum: 0 })),
        },
      }),
    ),
    mlock_debug_info: optional(boolean({ description: `lock debug info in memory (${IGNORED})` })),
    disable_phdr_cache: optional(boolean({ description: `disable the program header cache (${IGNORED})` })),
    preheat_stacktrace_collector: optional(boolean({ description: `warm up the stack trace collector (${IGNORED})` })),
    static_config_validation: optional(
      object({
        description: "userver's static config validation mode (accepted; tcp-echo always validates every component)",
        properties: {
          validate_all_components: optional(boolean({ description: 'validate every component, not only those that opt in' })),
        },
      }),
    ),
  },
});

/** The top level of the static config file, without `components_manager.components`. */
export const rootSettingsSchema = object({
  description: 'tcp-echo static config (userver shape)',
  properties: {
    config_vars: optional(
      string({ description: 'path of a config vars file, used when --config_vars is not given (as in userver)' }),
    ),
    components_manager: managerSettingsSchema,
    userver_experiments: optional(
      object({
        description: "userver's experiments by name (accepted; tcp-echo has none)",
        properties: {},
        additionalProperties: boolean({ description: 'whether the experiment is on' }),
      }),
    ),
    userver_experiments_force_enabled: optional(
      boolean({ description: "userver's switch that turns every experiment on (accepted; tcp-echo has none)" }),
    ),
  },
});

/** Added by the manager to every component section. */
export const loadEnabledSchema = boolean({
  description: 'set to false to turn the component off (the section is still validated)',
  default: true,
});

/** A component's section schema with the manager's `load-enabled` key added. */
export function withLoadEnabled(schema: AnySchema): AnySchema {
  return { ...schema, properties: { ...schema.properties, 'load-enabled': loadEnabledSchema } };
}

/** The whole file's schema: the settings above plus every component's section. */
export function staticConfigSchema(components: readonly { name: string; schema: AnySchema }[]): AnySchema {
  const componentsSchema = object({
    description: 'component sections by name; a section that is absent is not loaded (unless the component loads by default)',
    properties: Object.fromEntries(components.map((c) => [c.name, withLoadEnabled(c.schema)])),
  });
  return object({
    description: rootSettingsSchema.description,
    properties: {
      ...rootSettingsSchema.properties,
      components_manager: object({
        description: managerSettingsSchema.description,
        properties: { ...managerSettingsSchema.properties, components: componentsSchema },
      }),
    },
  });
}
