/** `handler-ping` (userver's `handler-ping`): 200 while serving, 500 once shutdown has begun. */
import { defineComponent } from '../../components/component.js';
import type { Lifecycle } from '../../components/component.js';
import type { HttpHandler } from '../http.js';
import { handlerSchema, mountHandler } from '../handler-config.js';

const NAME = 'handler-ping';

/** Answers 200 with an empty body, or 500 once `lifecycle.stopping` (so balancers drain us first). */
export function pingHandler(lifecycle: Pick<Lifecycle, 'stopping'>): HttpHandler {
  return () =>
    lifecycle.stopping
      ? { status: 500, body: 'shutting down\n' }
      : { status: 200, body: '' };
}

export const pingHandlerComponent = defineComponent({
  name: NAME,
  schema: handlerSchema('Liveness probe: 200 while serving, 500 once shutdown has begun.', { path: '/ping', method: 'GET' }),
  create: (config, context) => {
    mountHandler(context, NAME, config, pingHandler(context.lifecycle));
    return { start() {}, stop() {} };
  },
});
