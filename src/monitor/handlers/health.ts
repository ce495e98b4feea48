/**
 * `handler-readiness` and `handler-liveness`: the two probes an orchestrator (Kubernetes) needs,
 * beside userver's `/ping`. Readiness answers from the service's readiness state (the gates the
 * echo and the cluster hold, `src/components/readiness.ts`): 200 only while serving, i.e. once the
 * echo listener accepts (in cluster mode, once every worker listens), 503 before that and from the
 * moment shutdown begins, so a balancer sends nothing to a process that would refuse it or is
 * draining. Liveness: 200 whenever the event loop gets to answer at all, also while draining (a
 * restart would cut the drain short).
 */
import { defineComponent, type Lifecycle } from '../../components/component.js';
import { serviceState, type Readiness } from '../../components/readiness.js';
import type { HttpHandler } from '../http.js';
import { handlerSchema, mountHandler } from '../handler-config.js';

const READINESS = 'handler-readiness';
const LIVENESS = 'handler-liveness';

const TEXT = { 'content-type': 'text/plain; charset=utf-8' } as const;

/** The readiness answer: 200 `ready` while serving, 503 `starting` or `shutting down` otherwise. */
export function readinessHandler(lifecycle: Pick<Lifecycle, 'stopping'>, readiness?: Pick<Readiness, 'ready'>): HttpHandler {
  return () => {
    switch (serviceState(lifecycle, readiness)) {
      case 'serving':
        return { status: 200, headers: TEXT, body: 'ready\n' };
      case 'starting':
        return { status: 503, headers: TEXT, body: 'starting\n' };
      case 'stopping':
        return { status: 503, headers: TEXT, body: 'shutting down\n' };
    }
  };
}

/** The liveness answer: reaching this handler is the proof. */
export function livenessHandler(): HttpHandler {
  return () => ({ status: 200, headers: TEXT, body: 'alive\n' });
}

export const readinessHandlerComponent = defineComponent({
  name: READINESS,
  schema: handlerSchema(
    'Readiness probe: 200 once the echo listener accepts (cluster mode: once every worker listens), 503 before and from the moment shutdown begins.',
    { path: '/readyz', method: 'GET' },
  ),
  create: (config, context) => {
    mountHandler(context, READINESS, config, readinessHandler(context.lifecycle, context.readiness));
    return { start() {}, stop() {} };
  },
});

export const livenessHandlerComponent = defineComponent({
  name: LIVENESS,
  schema: handlerSchema('Liveness probe: 200 whenever the event loop answers (also while draining).', {
    path: '/livez',
    method: 'GET',
  }),
  create: (config, context) => {
    mountHandler(context, LIVENESS, config, livenessHandler());
    return { start() {}, stop() {} };
  },
});
