/**
 * `handler-readiness` and `handler-liveness`: the two probes an orchestrator (Kubernetes) needs,
 * beside userver's `/ping`. Readiness: 200 only while the echo accepts connections (in cluster
 * mode, once every worker listens), 503 before that and from the moment shutdown begins, so a
 * balancer sends nothing to a process that would refuse it or is draining. Liveness: 200 whenever
 * the event loop gets to answer at all, also while draining (a restart would cut the drain short).
 */
import { defineComponent, type ComponentContext, type Lifecycle } from '../../components/component.js';
import { isReadinessSource, type ReadinessSource } from '../../components/readiness.js';
import type { HttpHandler } from '../http.js';
import { handlerSchema, mountHandler } from '../handler-config.js';

const READINESS = 'handler-readiness';
const LIVENESS = 'handler-liveness';
/** The component whose readiness the probe reports. */
const ECHO = 'tcp-echo';

const TEXT = { 'content-type': 'text/plain; charset=utf-8' } as const;

/**
 * The readiness answer. `source()` is asked per request (the echo is constructed after the
 * monitor's handlers); undefined means no echo is loaded, and then serving the monitor is all
 * there is to be ready for.
 */
export function readinessHandler(lifecycle: Pick<Lifecycle, 'stopping'>, source: () => ReadinessSource | undefined): HttpHandler {
  return () => {
    if (lifecycle.stopping) return { status: 503, headers: TEXT, body: 'shutting down\n' };
    const echo = source();
    if (echo !== undefined && !echo.ready) return { status: 503, headers: TEXT, body: 'starting\n' };
    return { status: 200, headers: TEXT, body: 'ready\n' };
  };
}

/** The liveness answer: reaching this handler is the proof. */
export function livenessHandler(): HttpHandler {
  return () => ({ status: 200, headers: TEXT, body: 'alive\n' });
}

function echoReadiness(context: ComponentContext): () => ReadinessSource | undefined {
  let cached: ReadinessSource | undefined;
  return () => {
    if (cached !== undefined) return cached;
    const echo: unknown = context.findOptional(ECHO);
    if (isReadinessSource(echo)) cached = echo;
    return cached;
  };
}

export const readinessHandlerComponent = defineComponent({
  name: READINESS,
  schema: handlerSchema(
    'Readiness probe: 200 once the echo listener accepts (cluster mode: once every worker listens), 503 before and from the moment shutdown begins.',
    { path: '/readyz', method: 'GET' },
  ),
  create: (config, context) => {
    mountHandler(context, READINESS, config, readinessHandler(context.lifecycle, echoReadiness(context)));
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
