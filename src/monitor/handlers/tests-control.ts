/**
 * `tests-control` (userver's testsuite handler) at `/tests/{action}`: `reset_metrics` makes the JSON
 * view's RATE and HIST_RATE metrics start again from zero, `control` answers `{}` (userver's test
 * client posts it before tests). Every action takes `Content-Type: application/json` and refuses
 * browser cross-site requests (cross-site-guard.ts). Turn it off in production with `load-enabled: false`.
 */
import { defineComponent } from '../../components/component.js';
import { HttpNotFoundError } from '../../errors.js';
import type { StatisticsStorage } from '../../telemetry/statistics-storage.js';
import { crossSiteGuard } from '../cross-site-guard.js';
import { parseJsonObjectBody } from '../request.js';
import { handlerSchema, mountHandler } from '../handler-config.js';
import { jsonResponse, type HttpHandler } from '../http.js';

const NAME = 'tests-control';

/** The actions `tests-control` knows. */
export const TESTS_CONTROL_ACTIONS = ['reset_metrics', 'control'] as const;

/** The handler; `storage` is undefined when statistics-storage is not loaded (reset is then a no-op). */
export function testsControlHandler(storage: Pick<StatisticsStorage, 'resetMetrics'> | undefined): HttpHandler {
  return async (request) => {
    parseJsonObjectBody(request.body);
    const action = request.pathParams.action;
    switch (action) {
      case 'reset_metrics':
        await storage?.resetMetrics();
        return jsonResponse(200, {});
      case 'control':
        return jsonResponse(200, {});
      default:
        throw new HttpNotFoundError(
          `unknown tests-control action '${action ?? ''}': expected one of ${TESTS_CONTROL_ACTIONS.join(', ')}`,
        );
    }
  };
}

export const testsControlComponent = defineComponent({
  name: NAME,
  schema: handlerSchema('Testsuite control (userver): POST /tests/{action} with a JSON body.', {
    path: '/tests/{action}',
    method: 'POST',
  }),
  create: (config, context) => {
    // Every action changes state: the guard refuses what a browser on another site could send.
    const handler = testsControlHandler(context.findOptional<StatisticsStorage>('statistics-storage'));
    mountHandler(context, NAME, config, crossSiteGuard(handler));
    return { start() {}, stop() {} };
  },
});
