/**
 * The `tcp-echo` component as the service lists it: the cluster decides between one process and
 * N worker processes. With `workers` = 1 (and in an echo worker) it is the echo itself
 * (src/echo/); in the primary with `workers` > 1 it is an EchoCluster, which runs the echo in
 * forked workers. The cluster stands above the echo: it imports src/echo/, never the reverse.
 */
import cluster from 'node:cluster';
import { defineComponent, type Component } from '../components/component.js';
import { object } from '../config/schema.js';
import {
  checkListenTarget,
  ECHO_COMPONENT_NAME,
  ECHO_DESCRIPTION,
  EchoComponent,
  echoProperties,
  removeStaleEchoSocket,
  SHUTDOWN_FLUSH_MS,
} from '../echo/echo-component.js';
import { getLogger } from '../log/index.js';
import type { StatisticsStorage } from '../telemetry/statistics-storage.js';
import { EchoCluster } from './supervisor.js';
import { isEchoWorker, workerSlot } from './worker-main.js';
import { resolveWorkers, workersSchema } from './workers-option.js';

/**
 * Extra time the primary gives its workers to stop, on top of the drain window and the final
 * flush of open connections: their tracer's span flush and their log flush (2 s each at most).
 */
const WORKER_STOP_MARGIN_MS = 10_000;

const { task_processor, sockets_task_processor, ...listenerProperties } = echoProperties;

/** Schema of the `tcp-echo` section: one echo listener's options plus `workers`. */
export const tcpEchoSchema = object({
  description: ECHO_DESCRIPTION,
  properties: { ...listenerProperties, workers: workersSchema, task_processor, sockets_task_processor },
  refine: checkListenTarget,
});

/**
 * The `tcp-echo` component definition. With `workers` > 1 the primary process runs an EchoCluster
 * in its place (the echo runs in worker processes); in a worker and with one process, the echo itself.
 */
export const echoComponent = defineComponent({
  name: ECHO_COMPONENT_NAME,
  schema: tcpEchoSchema,
  create: (config, context): Component => {
    const workers = resolveWorkers(config.workers, context.manager.mainWorkerThreads);
    if (isEchoWorker()) {
      // Every line of a worker names it, so a connection's lines lead to its process.
      const slot = workerSlot();
      // The primary removed a stale unix socket file; a worker must not (it would unlink the live one).
      return new EchoComponent(config, context, slot === undefined ? undefined : { worker: slot, pid: process.pid }, true);
    }
    if (workers === 1) return new EchoComponent(config, context);
    if (!cluster.isPrimary) {
      // Run by another cluster primary (e.g. a process manager's cluster mode): it owns the forking.
      getLogger(ECHO_COMPONENT_NAME).warning(`workers: ${workers} ignored: this process is a worker of another cluster primary`);
      return new EchoComponent(config, context);
    }
    if (context.staticConfig === undefined) throw new TypeError('tcp-echo: cluster mode needs context.staticConfig');
    const drainMs = Math.max(config.graceful_shutdown_interval ?? 0, context.manager.gracefulShutdownIntervalMs);
    const echoCluster = new EchoCluster({
      workers,
      configFile: context.configFile,
      root: context.staticConfig,
      lifecycle: context.lifecycle,
      serving: context.readiness?.gate(ECHO_COMPONENT_NAME),
      storage: context.findOptional<StatisticsStorage>('statistics-storage'),
      stopTimeoutMs: drainMs + SHUTDOWN_FLUSH_MS + WORKER_STOP_MARGIN_MS,
      logger: getLogger('echo-cluster'),
    });
    const socketPath = config['unix-socket'];
    if (socketPath === undefined) return echoCluster;
    // The workers share the one socket the primary binds: only here may a stale file be removed.
    return {
      start: async () => {
        await removeStaleEchoSocket(socketPath);
        await echoCluster.start();
      },
      stop: () => echoCluster.stop(),
    };
  },
});
