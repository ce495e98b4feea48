#!/usr/bin/env -S node --initial-heap-size=64 --max-semi-space-size=4
/** tcp-echo: argv → component list → run (userver's `DaemonMain`), or an echo worker in cluster mode. */
import { isEchoWorker, runEchoWorker } from './cluster/worker-main.js';
import { daemonMain } from './components/daemon-main.js';
import { echoComponent } from './echo/echo-component.js';
import { loggingComponent } from './log/logging-component.js';
import { livenessHandlerComponent, readinessHandlerComponent } from './monitor/handlers/health.js';
import { pingHandlerComponent } from './monitor/handlers/ping.js';
import { serverMonitorHandlerComponent } from './monitor/handlers/server-monitor.js';
import { testsControlComponent } from './monitor/handlers/tests-control.js';
import { serverComponent } from './monitor/server-component.js';
import { statisticsStorageComponent } from './telemetry/statistics-storage.js';
import { tracerComponent } from './telemetry/tracer-component.js';

const components = [
  loggingComponent,
  statisticsStorageComponent,
  tracerComponent,
  serverComponent,
  pingHandlerComponent,
  readinessHandlerComponent,
  livenessHandlerComponent,
  serverMonitorHandlerComponent,
  testsControlComponent,
  echoComponent,
];

/**
 * What an echo worker process constructs (`tcp-echo.workers` > 1): the echo and what it logs,
 * counts and traces with. The monitor listener and its handlers stay in the primary, which shows
 * and resets the metrics of the whole service.
 */
const WORKER_COMPONENTS: ReadonlySet<string> = new Set([
  loggingComponent.name,
  statisticsStorageComponent.name,
  tracerComponent.name,
  echoComponent.name,
]);

process.exitCode = isEchoWorker()
  ? await runEchoWorker(components, WORKER_COMPONENTS)
  : await daemonMain(process.argv.slice(2), components);
