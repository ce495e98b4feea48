/**
 * `default-server-middleware-pipeline-builder` (userver's default HTTP middleware pipeline):
 * pytest_userver appends `testsuite-exceptions-handling-middleware` to its `append` list for
 * every service with a `server`. Every listed name must be a middleware tcp-echo has, as in
 * userver, where an unknown name fails the start. With the testsuite middleware on, an unexpected
 * error in any HTTP handler answers 500 `{"code": "500", "message": "Internal Server Error",
 * "details": "<error text>"}` (and is logged), as userver's does.
 */
import { array, object, optional, string, type Infer } from '../config/schema.js';
import { nearest } from '../config/nearest.js';
import { ConfigValueError } from '../errors.js';
import { jsonResponse } from './http.js';
import type { HttpServer } from './server-component.js';
import { defineComponent, type Component } from '../components/component.js';

const NAME = 'default-server-middleware-pipeline-builder';

/** The middlewares tcp-echo has. */
export const KNOWN_MIDDLEWARES = ['testsuite-exceptions-handling-middleware'] as const;

/** userver's testsuite middleware: an unexpected handler error answers 500 with a JSON body. */
export const TESTSUITE_MIDDLEWARE = 'testsuite-exceptions-handling-middleware';

const pipelineSchema = object({
  description: "userver's default HTTP middleware pipeline: middlewares appended to every handler",
  properties: {
    append: optional(
      array({
        description: `middlewares appended to the pipeline; known: ${KNOWN_MIDDLEWARES.join(', ')}`,
        items: string({ description: 'a middleware name' }),
      }),
    ),
  },
});

/** The running pipeline builder: which middlewares are on. */
export class MiddlewarePipeline implements Component {
  constructor(readonly appended: readonly string[]) {}
  /** True when `name` is in the pipeline. */
  has(name: string): boolean {
    return this.appended.includes(name);
  }
  start(): void {}
  stop(): void {}
}

export const middlewarePipelineComponent = defineComponent({
  name: NAME,
  schema: pipelineSchema,
  create: (config: Infer<typeof pipelineSchema>, context) => {
    const appended = config.append ?? [];
    appended.forEach((name, i) => {
      if ((KNOWN_MIDDLEWARES as readonly string[]).includes(name)) return;
      const hint = nearest(name, KNOWN_MIDDLEWARES);
      throw new ConfigValueError(
        { file: context.configFile, keyPath: `components_manager.components.${NAME}.append.${i}` },
        `unknown middleware '${name}'` + (hint ? `; did you mean '${hint}'?` : '') + ` (known: ${KNOWN_MIDDLEWARES.join(', ')})`,
      );
    });
    if (appended.includes(TESTSUITE_MIDDLEWARE)) {
      // userver's testsuite middleware: pytest_userver shows `details` when a handler breaks.
      context.findOptional<HttpServer>('server')?.setUnexpectedErrorAnswer((error) =>
        jsonResponse(500, {
          code: '500',
          message: 'Internal Server Error',
          details: error instanceof Error ? error.message : String(error),
        }),
      );
    }
    return new MiddlewarePipeline(appended);
  },
});
