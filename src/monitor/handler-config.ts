/**
 * What every handler section shares, after userver's `HttpHandlerBase` options: `path`, `method`
 * (one, or a comma-separated list) and `task_processor` (accepted for compatibility, ignored).
 */
import type { ComponentContext } from '../components/component.js';
import { boolean, describeValue, integer, object, optional, size, string, type AnySchema, type Schema } from '../config/schema.js';
import { ConfigValueError, errorMessage, HttpRouteConflictError } from '../errors.js';
import type { HttpHandler } from './http.js';
import { parseMethods, pathTemplateProblem } from './router.js';
import type { HttpServer } from './server-component.js';

/** The validated keys every handler section has. */
export interface HandlerConfig {
  readonly path: string;
  readonly method: string;
  readonly task_processor?: string | undefined;
}

const IGNORED = "userver's handler option, accepted for compatibility and ignored";

/**
 * The other options of userver's `HttpHandlerBase` (its sample configs set e.g. `monitor-handler`):
 * accepted so that userver configs start unchanged; tcp-echo's listener has its own limits.
 */
const USERVER_HANDLER_OPTIONS = {
  'monitor-handler': optional(boolean({ description: `serve on the monitor listener (${IGNORED}: tcp-echo has one listener)` })),
  max_request_size: optional(size({ description: `largest request (${IGNORED}; see server.listener.max_body_size)` })),
  max_headers_size: optional(size({ description: `largest headers (${IGNORED}; see server.listener.max_header_size)` })),
  parse_args_from_body: optional(boolean({ description: `parse form bodies into arguments (${IGNORED})` })),
  'log-level': optional(string({ description: `level of the handler's own log lines (${IGNORED})` })),
  throttling_enabled: optional(boolean({ description: `throttle this handler (${IGNORED})` })),
  url_trailing_slash: optional(string({ description: `trailing slash matching (${IGNORED})`, enum: ['both', 'strict-match'] })),
  max_requests_in_flight: optional(integer({ description: `concurrent requests (${IGNORED})`, minimum: 0 })),
  max_requests_per_second: optional(integer({ description: `request rate limit (${IGNORED})`, minimum: 0 })),
  request_body_size_log_limit: optional(integer({ description: `request body bytes logged (${IGNORED})`, minimum: 0 })),
  response_data_size_log_limit: optional(integer({ description: `response bytes logged (${IGNORED})`, minimum: 0 })),
  'set-response-server-hostname': optional(boolean({ description: `send the host name in a header (${IGNORED})` })),
  set_tracing_headers: optional(boolean({ description: `send tracing headers (${IGNORED})` })),
  deadline_propagation_enabled: optional(boolean({ description: `honour deadline propagation (${IGNORED})` })),
  decompress_request: optional(boolean({ description: `decompress request bodies (${IGNORED})` })),
  'response-body-stream': optional(boolean({ description: `stream the response body (${IGNORED})` })),
};

/** The schema of a handler section: the common keys with the handler's defaults, plus `extra`. */
export function handlerSchema<E extends Record<string, AnySchema> = Record<never, never>>(
  description: string,
  defaults: { path: string; method: string },
  extra?: E,
) {
  return object({
    description,
    properties: {
      path: string({ description: 'URL path; a {name} segment matches any one segment', default: defaults.path }),
      method: string({ description: 'HTTP method, or a comma-separated list (e.g. GET,POST)', default: defaults.method }),
      task_processor: optional(string({ description: 'Accepted for userver compatibility; ignored' })),
      ...USERVER_HANDLER_OPTIONS,
      ...(extra ?? ({} as E)),
    },
  }) as Schema<HandlerConfig & { [K in keyof E]: E[K] extends Schema<infer T> ? T : never }>;
}

/**
 * Mounts `handler` on the `server` component at the section's path and methods. A malformed path
 * or method is a ConfigValueError naming the key; a taken route is an HttpRouteConflictError.
 */
export function mountHandler(
  context: ComponentContext,
  section: string,
  route: { path: string; method: string },
  handler: HttpHandler,
  key: { path: string; method: string } = { path: 'path', method: 'method' },
): HttpServer {
  const server = context.find<HttpServer>('server');
  const at = (name: string) => ({ file: context.configFile, keyPath: `components_manager.components.${section}.${name}` });
  const problem = pathTemplateProblem(route.path);
  if (problem) throw new ConfigValueError(at(key.path), `${describeValue(route.path)} is not a valid path: it ${problem}`);
  let methods: string[];
  try {
    methods = parseMethods(route.method);
  } catch (error) {
    throw new ConfigValueError(at(key.method), errorMessage(error));
  }
  try {
    server.addHandler({ method: methods, path: route.path, owner: section }, handler);
  } catch (error) {
    if (!(error instanceof HttpRouteConflictError)) throw error;
    const { file, keyPath } = at(key.path);
    throw new HttpRouteConflictError(`${file}: ${keyPath}: ${error.message}`);
  }
  return server;
}
