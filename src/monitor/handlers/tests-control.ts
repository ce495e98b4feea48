/**
 * `tests-control` (userver's testsuite handler) at `/tests/{action}`: every action pytest_userver
 * sends, answered as userver answers it (see USERVER-TESTSUITE.md §3):
 *
 * | action | answer |
 * |---|---|
 * | `control` | `{}`; `invalidate_caches`, `testpoints` and `mock_now` accepted (tcp-echo has no caches or testpoints) |
 * | `get_dynamic_config_defaults` | `dynamic-config.defaults`, or `{}` |
 * | `reset_metrics` | `{}`; RATE and HIST_RATE metrics of the JSON view start again from zero |
 * | `log_flush` | `{}` once the default logger's lines are written (404 for a logger that is not configured) |
 * | `log_capture` | `{}`; starts or stops duplicating log lines to pytest's capture socket |
 * | `metrics_portability` | warnings by code (`{}` when clean), over the metrics under `prefix` |
 * | `suspend_periodic_tasks`, `write_cache_dumps`, `read_cache_dumps` (with `[]`), `http_allowed_urls_extra` | `{}` |
 * | `tasks_list` | `{"tasks": []}` |
 * | `run_periodic_task`, `task_run`, `task_spawn`, `task_stop` | 404: tcp-echo has no such task |
 *
 * As in userver, `control` (or an empty action) may name the action in its body (`"action"`).
 * Every action that changes state takes `Content-Type: application/json` and refuses browser
 * cross-site requests (cross-site-guard.ts); `tasks_list`, which changes and reveals nothing, is
 * answered as pytest_userver sends it: an empty POST without a Content-Type.
 * Turn the component off in production with `load-enabled: false`.
 */
import { defineComponent, type Component } from '../../components/component.js';
import type { DynamicConfig } from '../../components/userver-compat/dynamic-config.js';
import { boolean, duration, optional, string } from '../../config/schema.js';
import { nearest } from '../../config/nearest.js';
import { HttpBadRequestError, HttpNotFoundError } from '../../errors.js';
import { getLogger, LOG_LEVELS, type LogLevel } from '../../log/index.js';
import type { LoggingControl } from '../../log/logging-component.js';
import { checkPortability } from '../../telemetry/metrics/portability.js';
import type { StatisticsStorage } from '../../telemetry/statistics-storage.js';
import { crossSiteGuard } from '../cross-site-guard.js';
import { parseJsonObjectBody } from '../request.js';
import { handlerSchema, mountHandler } from '../handler-config.js';
import { jsonResponse, type HttpHandler, type HttpResponse } from '../http.js';

const NAME = 'tests-control';
const log = getLogger(NAME);

/** How long `log_flush` waits for the log destination; it answers `{}` either way. */
export const LOG_FLUSH_TIMEOUT_MS = 5000;

/** What the actions act on; each is optional (an action on a component that is not loaded is a no-op). */
export interface TestsControlDeps {
  readonly storage?: Pick<StatisticsStorage, 'resetMetrics' | 'snapshot'> | undefined;
  readonly logging?: LoggingControl | undefined;
  readonly dynamicConfig?: Pick<DynamicConfig, 'defaults'> | undefined;
}

type Body = Readonly<Record<string, unknown>>;
type Action = (body: Body, deps: TestsControlDeps) => Promise<HttpResponse> | HttpResponse;

const OK = (): HttpResponse => jsonResponse(200, {});

const ACTIONS: Readonly<Record<string, Action>> = {
  control: (body) => {
    optionalObject(body, 'invalidate_caches');
    stringList(body, 'testpoints');
    const mockNow = body.mock_now;
    // tcp-echo reads no clock the tests could mock, so the time is accepted and not used.
    if (mockNow !== undefined && mockNow !== null && typeof mockNow !== 'string') {
      throw new HttpBadRequestError("'mock_now' must be null or an ISO-8601 time like 2024-10-25T09:12:33.123456+0000");
    }
    return OK();
  },
  get_dynamic_config_defaults: (_body, deps) => jsonResponse(200, deps.dynamicConfig?.defaults ?? {}),
  reset_metrics: async (_body, deps) => {
    await deps.storage?.resetMetrics();
    return OK();
  },
  log_flush: async (body, deps) => {
    const name = body.logger_name ?? 'default';
    if (typeof name !== 'string') throw new HttpBadRequestError("'logger_name' must be null or a string");
    // Only 'default' is written; other configured loggers have nothing to flush.
    if (name !== 'default' && !(deps.logging?.loggerNames.includes(name) ?? false)) {
      throw new HttpNotFoundError(`no logger '${name}' is configured`);
    }
    if (deps.logging && !(await deps.logging.flush(LOG_FLUSH_TIMEOUT_MS))) {
      log.warning(`log_flush: lines still queued after ${LOG_FLUSH_TIMEOUT_MS} ms`);
    }
    return OK();
  },
  log_capture: async (body, deps) => {
    const enable = body.socket_logging_duplication;
    if (typeof enable !== 'boolean') throw new HttpBadRequestError("'socket_logging_duplication' must be true or false");
    const level = logLevel(body.log_level);
    const logging = deps.logging;
    if (enable) {
      const capture = logging?.capture;
      if (capture === undefined) {
        throw new HttpBadRequestError(
          'log capture is not configured: set components_manager.components.logging.loggers.default.testsuite-capture {host, port}',
        );
      }
      // userver flushes first, so lines queued before the capture do not leak into it.
      await logging?.flush(LOG_FLUSH_TIMEOUT_MS);
      // A capture socket that cannot be reached is a LogCaptureError: a 500 that names the address.
      await capture.start(level ?? 'debug');
      log.info(`log capture started at level ${level ?? 'debug'}`);
      return OK();
    }
    const capture = logging?.capture;
    if (capture?.active) {
      log.info('log capture stopping');
      const stats = await capture.stop(level ?? logging?.configuredLevel);
      log.debug(`log capture stopped: ${stats.sent} line(s) sent, ${stats.dropped} left out`);
    } else if (level !== undefined) {
      logging?.setLevel(level);
    }
    return OK();
  },
  metrics_portability: async (body, deps) => {
    const prefix = body.prefix ?? undefined;
    if (prefix !== undefined && typeof prefix !== 'string') throw new HttpBadRequestError("'prefix' must be null or a string");
    if (deps.storage === undefined) return OK();
    return jsonResponse(200, checkPortability(await deps.storage.snapshot(), prefix));
  },
  suspend_periodic_tasks: (body) => {
    stringList(body, 'names');
    return OK();
  },
  run_periodic_task: (body) => noSuchTask('periodic task', requiredString(body, 'name')),
  tasks_list: () => jsonResponse(200, { tasks: [] }),
  task_run: (body) => noSuchTask('testsuite task', requiredString(body, 'name')),
  task_spawn: (body) => noSuchTask('testsuite task', requiredString(body, 'name')),
  task_stop: (body) => {
    throw new HttpNotFoundError(`no testsuite task with id '${requiredString(body, 'task_id')}' is running`);
  },
  write_cache_dumps: (body) => noDumps(body),
  read_cache_dumps: (body) => noDumps(body),
  http_allowed_urls_extra: (body) => {
    stringList(body, 'allowed_urls_extra');
    return OK();
  },
};

/**
 * Actions that change nothing and reveal nothing, answered without the cross-site guard:
 * pytest_userver posts `tasks_list` with an empty body and no Content-Type.
 */
const UNGUARDED_ACTIONS: ReadonlySet<string> = new Set(['tasks_list']);

/** The actions `tests-control` knows. */
export const TESTS_CONTROL_ACTIONS: readonly string[] = Object.keys(ACTIONS);

/** The handler over `deps`. */
export function testsControlHandler(deps: TestsControlDeps): HttpHandler {
  return async (request) => {
    const body = parseJsonObjectBody(request.body);
    let action = request.pathParams.action ?? '';
    // userver: `control` (or no action) may carry the real action in its body.
    if ((action === 'control' || action === '') && typeof body.action === 'string') action = body.action;
    const perform = Object.hasOwn(ACTIONS, action) ? ACTIONS[action] : undefined;
    if (perform === undefined) {
      const hint = nearest(action, TESTS_CONTROL_ACTIONS);
      throw new HttpNotFoundError(
        `unknown tests-control action '${action}'` +
          (hint ? `; did you mean '${hint}'?` : '') +
          `: expected one of ${TESTS_CONTROL_ACTIONS.join(', ')}`,
      );
    }
    return perform(body, deps);
  };
}

function noSuchTask(kind: string, name: string): never {
  throw new HttpNotFoundError(`no ${kind} named '${name}': tcp-echo has none`);
}

function noDumps(body: Body): HttpResponse {
  const names = stringList(body, 'names') ?? [];
  if (names.length > 0) throw new HttpNotFoundError(`no dumpable component named '${names[0]}': tcp-echo has none`);
  return OK();
}

function logLevel(value: unknown): LogLevel | undefined {
  if (value === undefined || value === null) return undefined;
  const level = typeof value === 'string' ? value.toLowerCase() : undefined;
  if (level !== undefined && (LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel;
  throw new HttpBadRequestError(`'log_level' must be one of ${LOG_LEVELS.join(', ')} (any case)`);
}

function requiredString(body: Body, key: string): string {
  const value = body[key];
  if (typeof value !== 'string') throw new HttpBadRequestError(`'${key}' must be a string`);
  return value;
}

function stringList(body: Body, key: string): readonly string[] | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new HttpBadRequestError(`'${key}' must be a list of strings`);
  }
  return value as string[];
}

function optionalObject(body: Body, key: string): void {
  const value = body[key];
  if (value === undefined || value === null) return;
  if (typeof value !== 'object' || Array.isArray(value)) throw new HttpBadRequestError(`'${key}' must be an object`);
}

export const testsControlComponent = defineComponent({
  name: NAME,
  schema: handlerSchema(
    'Testsuite control (userver): POST /tests/{action} with a JSON body.',
    { path: '/tests/{action}', method: 'POST' },
    {
      'skip-unregistered-testpoints': optional(
        boolean({ description: 'fire only the testpoints the test registered (pytest_userver sets it; tcp-echo has no testpoints)' }),
      ),
      'testpoint-url': optional(
        string({ description: "where testpoints are posted (pytest_userver's mockserver; tcp-echo has no testpoints)" }),
      ),
      'testpoint-timeout': optional(duration({ description: 'timeout of a testpoint request (accepted; no testpoints)', minimum: 0 })),
    },
  ),
  create: (config, context) => {
    const handler = testsControlHandler({
      storage: context.findOptional<StatisticsStorage>('statistics-storage'),
      logging: context.findOptional<LoggingControl & Component>('logging'),
      dynamicConfig: context.findOptional<DynamicConfig>('dynamic-config'),
    });
    // Every action that changes state: the guard refuses what a browser on another site could send.
    const guarded = crossSiteGuard(handler);
    mountHandler(context, NAME, config, (request) => (UNGUARDED_ACTIONS.has(request.pathParams.action ?? '') ? handler(request) : guarded(request)));
    return { start() {}, stop() {} };
  },
});
