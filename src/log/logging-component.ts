/**
 * The `logging` component (userver's `components::Logging`): where lines go, in which format, at
 * which level. Section shape as in userver:
 *
 * ```yaml
 * logging:
 *   loggers:
 *     default: { file_path: '@stderr', level: info, format: tskv, overflow_behavior: discard, message_queue_size: 65536 }
 * ```
 *
 * Only the `default` logger is written. Other named loggers (userver services often configure
 * `access`, `opentracing`, ...) are validated with the same schema and reported as unused at start,
 * so a userver config loads unchanged and nobody waits for a file that never appears.
 *
 * The component is first in the list: it configures every logger (those created at module load
 * included) before any other component starts, and on stop it flushes (bounded) and switches
 * back to the start-up configuration (stderr, tskv, info), so the last lines still appear.
 */
import { defineComponent, type Component, type ComponentContext } from '../components/component.js';
import { integer, object, optional, string, type Infer } from '../config/schema.js';
import { ConfigValueError, errorMessage } from '../errors.js';
import { getLogger, registry } from './index.js';
import { LOG_FORMATS } from './line-encoder.js';
import { LOG_LEVELS } from './logger.js';
import { DEFAULT_QUEUE_CHARS, DEFAULT_QUEUE_LINES } from './logger-registry.js';
import type { LogLevel } from './logger.js';
import { QueuedSink } from './queued-sink.js';
import { isSpecialSink, openSinkTarget } from './sink-target.js';
import { TestsuiteCapture } from './testsuite-capture.js';

const SECTION_PATH = 'components_manager.components.logging';

/** How long stop() waits for queued lines to be written before dropping (and counting) the rest. */
export const STOP_FLUSH_TIMEOUT_MS = 2000;

const loggerSchema = object({
  description: 'one logger (userver shape)',
  properties: {
    file_path: string({
      description:
        "where lines go: '@stderr', '@stdout', '@null' (discard), or a file path (appended to, created if " +
        'absent; its directory must exist; reopened on SIGUSR1 or SIGHUP for logrotate)',
      default: '@stderr',
    }),
    level: string({
      description: "lowest level written: trace, debug, info, warning, error, critical, or none (nothing)",
      default: 'info',
      enum: LOG_LEVELS,
    }),
    format: string({
      description: "line format: 'tskv' (userver's tab-separated key=value) or 'json' (one object per line)",
      default: 'tskv',
      enum: LOG_FORMATS,
    }),
    overflow_behavior: string({
      description:
        "what happens when message_queue_size lines are waiting: 'discard' drops new lines and counts them; " +
        "userver's 'block' is rejected because it would stall the event loop",
      default: 'discard',
      enum: ['discard', 'block'],
    }),
    flush_level: optional(
      string({
        description: "userver's level from which every line is flushed at once; accepted, lines are always written within milliseconds",
        enum: LOG_LEVELS,
      }),
    ),
    'fs-task-processor': optional(
      string({ description: "userver's task processor for this logger's file I/O; accepted for compatibility and ignored" }),
    ),
    'testsuite-capture': optional(
      object({
        description:
          "where pytest_userver's log capture listens (its hook writes it; only on the 'default' logger): " +
          'on tests-control log_capture the service connects there and duplicates its tskv lines',
        properties: {
          host: string({ description: 'host of the capture socket', default: 'localhost' }),
          port: integer({ description: 'port of the capture socket', minimum: 1, maximum: 65535 }),
        },
      }),
    ),
    message_queue_size: integer({
      description:
        'lines that may wait to be written (queued or being written); past it new lines are dropped. ' +
        `Independently at most ${DEFAULT_QUEUE_CHARS / 1024 / 1024} Mi characters wait.`,
      default: DEFAULT_QUEUE_LINES,
      minimum: 1,
      maximum: 16_777_216,
    }),
  },
});

/** The `logging` section's schema. */
export const loggingSchema = object({
  description: "logging: the 'default' logger's destination, level, format and queue",
  properties: {
    'fs-task-processor': optional(
      string({ description: "userver's task processor for file I/O; accepted for compatibility and ignored" }),
    ),
    loggers: object({
      description:
        "loggers by name; only 'default' is written, others are validated and reported as unused at start",
      properties: {
        default: { ...loggerSchema, description: 'the logger every module of tcp-echo writes to' } as typeof loggerSchema,
      },
      additionalProperties: loggerSchema,
    }),
  },
});

/** The validated `logging` section. */
export type LoggingConfig = Infer<typeof loggingSchema>;
/** One validated logger. */
export type LoggerConfig = Infer<typeof loggerSchema>;

const log = getLogger('logging');

/**
 * The running component's reopen action, for SIGUSR1 (logrotate) and SIGHUP. The listeners are
 * installed once and never removed: with no listener, Node leaves SIGUSR1 at its default action
 * (the inspector) and SIGHUP at its default (terminate, with no drain and no span flush), so a
 * signal arriving after stop() (or between two runs in one process) would kill the process.
 * SIGHUP reopens the logs, as a daemon's hangup conventionally does (nginx and HAProxy take it as
 * a reload; tcp-echo's config is static, so reopening is the one reload it has).
 */
let onReopen: ((signal: 'SIGUSR1' | 'SIGHUP') => void) | undefined;
let reopenListenerInstalled = false;

function installReopenListener(): void {
  if (reopenListenerInstalled) return;
  reopenListenerInstalled = true;
  process.on('SIGUSR1', () => onReopen?.('SIGUSR1'));
  process.on('SIGHUP', () => {
    log.info('SIGHUP received: reopening log files; the service keeps running (SIGTERM stops it)');
    onReopen?.('SIGHUP');
  });
}

/** What tests-control asks of the `logging` component (userver's `log_flush` and `log_capture`). */
export interface LoggingControl {
  /** Waits (at most `timeoutMs`) until every line logged so far is written; true if all were. */
  flush(timeoutMs: number): Promise<boolean>;
  /** The testsuite log capture, when `loggers.default.testsuite-capture` is configured. */
  readonly capture: TestsuiteCapture | undefined;
  /** The names under `loggers` (only `default` is written). */
  readonly loggerNames: readonly string[];
  /** The default logger's level as configured. */
  readonly configuredLevel: LogLevel;
  /** Sets every logger's level (userver's log_capture sets the default logger's level). */
  setLevel(level: LogLevel): void;
}

class LoggingComponent implements Component, LoggingControl {
  readonly capture: TestsuiteCapture | undefined;
  readonly loggerNames: readonly string[];
  private sink: QueuedSink | undefined;
  private stopped = false;
  private reopening: Promise<void> = Promise.resolve();
  private readonly logger: LoggerConfig;
  private readonly unused: readonly string[];

  constructor(
    config: LoggingConfig,
    private readonly context: ComponentContext,
  ) {
    this.logger = config.loggers.default;
    this.loggerNames = Object.keys(config.loggers);
    this.unused = this.loggerNames.filter((name) => name !== 'default');
    for (const name of this.unused) {
      if (config.loggers[name]?.['testsuite-capture'] !== undefined) {
        throw new ConfigValueError(
          { file: context.configFile, keyPath: `${SECTION_PATH}.loggers.${name}.testsuite-capture` },
          "the log capture is only allowed on the 'default' logger (as in userver)",
        );
      }
    }
    const address = this.logger['testsuite-capture'];
    this.capture = address === undefined ? undefined : new TestsuiteCapture(address, registry);
    if (this.logger.overflow_behavior === 'block') {
      throw new ConfigValueError(
        { file: context.configFile, keyPath: `${SECTION_PATH}.loggers.default.overflow_behavior` },
        "'block' is not supported: a Node.js process has one event loop, so waiting for a slow log " +
          "destination would stall every connection; use 'discard' (lines past message_queue_size are " +
          'dropped and counted) and raise message_queue_size if needed',
      );
    }
  }

  async start(): Promise<void> {
    const { file_path: filePath, level, format, message_queue_size: maxLines } = this.logger;
    const target = await openSinkTarget(filePath, this.context.configFile);
    this.sink = new QueuedSink(target, {
      maxLines,
      maxChars: DEFAULT_QUEUE_CHARS,
      counters: registry.counters,
      onError: (error) =>
        // To stderr directly: the failing destination cannot carry news of its own failure.
        registry.emitFallback('error', 'logging', `cannot write log lines to ${target.name}: lines are lost`, {
          error: error.code ?? error.message,
        }),
    });
    // The previous (start-up) sink keeps draining what it already holds.
    registry.configure({ level, format, sink: this.sink });
    installReopenListener();
    onReopen = this.onReopenSignal;
    for (const name of this.unused) {
      log.warning(`logger '${name}' is configured but unused: only 'default' is written`, {
        key: `${SECTION_PATH}.loggers.${name}`,
      });
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (onReopen === this.onReopenSignal) onReopen = undefined;
    await this.capture?.stop(undefined);
    const sink = this.sink;
    if (sink === undefined) return;
    if (registry.current().sink === sink) {
      // Lines logged while flushing still go to this sink, in order; then back to stderr.
      await sink.flush(STOP_FLUSH_TIMEOUT_MS);
      registry.reset();
    }
    await this.reopening;
    await sink.close(0);
  }

  get configuredLevel(): LogLevel {
    return this.logger.level;
  }

  setLevel(level: LogLevel): void {
    registry.setLevel(level);
  }

  flush(timeoutMs: number): Promise<boolean> {
    return registry.current().sink.flush(timeoutMs);
  }

  /** SIGUSR1 or SIGHUP: logrotate moved the file; open the path again (serialised, never throws). */
  private readonly onReopenSignal = (signal: 'SIGUSR1' | 'SIGHUP'): void => {
    const sink = this.sink;
    if (sink === undefined || this.stopped) return;
    this.reopening = this.reopening.then(() =>
      sink.reopen().then(
        () => {
          // The standard streams have nothing to reopen; say so only for files.
          if (!isSpecialSink(sink.target.name)) log.info(`${signal}: log file reopened`, { file_path: sink.target.name });
        },
        (error: unknown) =>
          log.error(`${signal}: ${errorMessage(error)}; still writing to the old file`),
      ),
    );
  };
}

/** The `logging` component: configures every logger of the process from its section. */
export const loggingComponent = defineComponent({
  name: 'logging',
  schema: loggingSchema,
  create: (config, context) => new LoggingComponent(config, context),
});
