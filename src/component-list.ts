/**
 * The service's component list (userver's `MinimalServerComponentList()` plus `tcp-echo`), in
 * construction and start order, and the part of it an echo worker process runs.
 */
import { echoComponent } from './cluster/tcp-echo-component.js';
import type { ComponentDefinition } from './components/component.js';
import { ACCEPTED_USERVER_COMPONENTS } from './components/userver-compat/accepted-components.js';
import { dynamicConfigComponent } from './components/userver-compat/dynamic-config.js';
import { loggingComponent } from './log/logging-component.js';
import { livenessHandlerComponent, readinessHandlerComponent } from './monitor/handlers/health.js';
import { pingHandlerComponent } from './monitor/handlers/ping.js';
import { serverMonitorHandlerComponent } from './monitor/handlers/server-monitor.js';
import { middlewarePipelineComponent } from './monitor/middleware-pipeline.js';
import { testsControlComponent } from './monitor/handlers/tests-control.js';
import { serverComponent } from './monitor/server-component.js';
import { statisticsStorageComponent } from './telemetry/statistics-storage.js';
import { tracerComponent } from './telemetry/tracer-component.js';

/** Every component of the service, in construction and start order (stop is the reverse). */
export const COMPONENTS: readonly ComponentDefinition[] = [
  loggingComponent,
  statisticsStorageComponent,
  tracerComponent,
  dynamicConfigComponent,
  serverComponent,
  middlewarePipelineComponent,
  pingHandlerComponent,
  readinessHandlerComponent,
  livenessHandlerComponent,
  serverMonitorHandlerComponent,
  testsControlComponent,
  echoComponent,
  // userver components with no meaning here, accepted so userver configs start unchanged.
  ...ACCEPTED_USERVER_COMPONENTS,
];

/**
 * What an echo worker process constructs (`tcp-echo.workers` > 1): the echo and what it logs,
 * counts and traces with. The monitor listener and its handlers stay in the primary, which shows
 * and resets the metrics of the whole service.
 */
export const WORKER_COMPONENTS: ReadonlySet<string> = new Set([
  loggingComponent.name,
  statisticsStorageComponent.name,
  tracerComponent.name,
  echoComponent.name,
]);
