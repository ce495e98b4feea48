/**
 * `handler-ping` (userver's `handler-ping`): 200 while serving, 503 until the service serves (every
 * echo listener accepts), 500 once shutdown has begun.
 */
import { defineComponent } from '../../components/component.js';
import type { Lifecycle } from '../../components/component.js';
import { serviceState, type Readiness } from '../../components/readiness.js';
import type { HttpHandler } from '../http.js';
import { handlerSchema, mountHandler } from '../handler-config.js';

const NAME = 'handler-ping';

/**
 * Answers 200 with an empty body while the service serves, 503 while it starts (a probe polling
 * from start never sees 200 before the echo port accepts), and 500 once `lifecycle.stopping` (so
 * balancers drain us first).
 */
export function pingHandler(lifecycle: Pick<Lifecycle, 'stopping'>, readiness?: Pick<Readiness, 'ready'>): HttpHandler {
  return () => {
    switch (serviceState(lifecycle, readiness)) {
      case 'serving':
        return { status: 200, body: '' };
      case 'starting':
        return { status: 503, body: 'starting\n' };
      case 'stopping':
        return { status: 500, body: 'shutting down\n' };
    }
  };
}

export const pingHandlerComponent = defineComponent({
  name: NAME,
  schema: handlerSchema('Health probe: 200 while serving, 503 until the echo listener accepts, 500 once shutdown has begun.', {
    path: '/ping',
    method: 'GET',
  }),
  create: (config, context) => {
    mountHandler(context, NAME, config, pingHandler(context.lifecycle, context.readiness));
    return { start() {}, stop() {} };
  },
});
