#!/usr/bin/env node
/** tcp-echo: argv → component list → run (userver's `DaemonMain`). */
import { daemonMain } from './components/daemon-main.js';
import { echoComponent } from './echo/echo-component.js';
import { loggingComponent } from './log/logging-component.js';
import { pingHandlerComponent } from './monitor/handlers/ping.js';
import { serverMonitorHandlerComponent } from './monitor/handlers/server-monitor.js';
import { testsControlComponent } from './monitor/handlers/tests-control.js';
import { serverComponent } from './monitor/server-component.js';
import { statisticsStorageComponent } from './telemetry/statistics-storage.js';
import { tracerComponent } from './telemetry/tracer-component.js';

process.exitCode = await daemonMain(process.argv.slice(2), [
  loggingComponent,
  statisticsStorageComponent,
  tracerComponent,
  serverComponent,
  pingHandlerComponent,
  serverMonitorHandlerComponent,
  testsControlComponent,
  echoComponent,
]);
