/**
 * What every handler section shares, after userver's `HttpHandlerBase` options: `path`, `method`
 * (one, or a comma-separated list) and `task_processor` (accepted for compatibility, ignored).
 */
import type { ComponentContext } from '../components/component.js';
import { describeValue, object, optional, string, type AnySchema, type Schema } from '../config/schema.js';
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
