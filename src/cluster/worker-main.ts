/**
 * What a cluster worker process runs instead of `daemonMain`: it asks the primary for the config
 * (already loaded and substituted there: a worker reads no file, so every worker, replacements
 * included, runs exactly the primary's config), validates all of it, constructs only the
 * components that belong in a worker (logging, statistics-storage, tracer, tcp-echo), reports
 * ready or its start error, answers metric collections, and on `shutdown` (or its own
 * SIGTERM/SIGINT) stops gracefully and exits 0.
 */
import cluster from 'node:cluster';
import type { ScopeMetrics } from '@opentelemetry/sdk-metrics';
import type { ComponentDefinition } from '../components/component.js';
import { ComponentManager } from '../components/manager.js';
import { EchoError, errorMessage } from '../errors.js';
import { flushLogs, getLogger } from '../log/index.js';
import type { StatisticsStorage } from '../telemetry/statistics-storage.js';
import { isOurs, TAG, WORKER_SLOT_ENV, type PrimaryMessage, type WorkerMessage } from './protocol.js';

/** How long a worker may take to exit by itself once stopped before it is made to. */
const LINGER_EXIT_MS = 2000;
/** Bound on flushing log lines after a fatal error. */
const FATAL_FLUSH_MS = 1000;

/** True in a process forked by tcp-echo's cluster supervisor. */
export function isEchoWorker(): boolean {
  return cluster.isWorker && process.env[WORKER_SLOT_ENV] !== undefined;
}

/** This worker's slot number (1..N), or undefined outside a worker. */
export function workerSlot(): number | undefined {
  if (!cluster.isWorker) return undefined;
  const slot = Number(process.env[WORKER_SLOT_ENV]);
  return Number.isInteger(slot) && slot > 0 ? slot : undefined;
}

/**
 * Runs this worker with `definitions` (the service's full list, for validation), constructing only
 * those named in `workerComponents`. Resolves with the exit code.
 */
export async function runEchoWorker(
  definitions: readonly ComponentDefinition[],
  workerComponents: ReadonlySet<string>,
): Promise<number> {
  const log = getLogger('cluster-worker');
  let manager: ComponentManager;
  let storage: StatisticsStorage | undefined;
  let resolveConfig: (message: Extract<PrimaryMessage, { kind: 'config' }>) => void = () => {};
  let resolveShutdown: () => void = () => {};
  const config = new Promise<Extract<PrimaryMessage, { kind: 'config' }>>((resolve) => (resolveConfig = resolve));
  const shutdown = new Promise<void>((resolve) => (resolveShutdown = resolve));

  const onMessage = (message: unknown): void => {
    if (!isOurs<PrimaryMessage>(message)) return;
    switch (message.kind) {
      case 'config':
        resolveConfig(message);
        return;
      case 'collect':
        void collect(storage).then((scopeMetrics) => {
          // No answer on failure: the primary keeps this worker's previous values and counts a timeout.
          if (scopeMetrics) send({ tag: TAG, kind: 'metrics', id: message.id, scopeMetrics, exemplars: [...(storage?.exemplars() ?? [])] });
        });
        return;
      case 'shutdown':
        resolveShutdown();
        return;
    }
  };
  process.on('message', onMessage);
  // The primary forwards SIGTERM as a `shutdown` message; a signal sent to the whole process group
  // (Ctrl-C, `kill -- -PGID`) reaches the worker directly and means the same.
  process.on('SIGTERM', resolveShutdown);
  process.on('SIGINT', resolveShutdown);
  let fatal = false;
  const onFatal = (kind: string) => (error: unknown) => {
    if (fatal) process.exit(1);
    fatal = true;
    log.critical(`${kind}: ${errorMessage(error)}`, {
      stack: error instanceof Error ? error.stack : undefined,
    });
    // The primary replaces a worker that dies; a half-broken one must not linger.
    void flushLogs(FATAL_FLUSH_MS).finally(() => process.exit(1));
  };
  process.on('uncaughtException', onFatal('uncaught exception'));
  process.on('unhandledRejection', onFatal('unhandled rejection'));

  send({ tag: TAG, kind: 'hello' });
  // Told to shut down before it got a config (the service stopped while this worker was forking).
  const received = await Promise.race([config, shutdown.then(() => undefined)]);
  if (received === undefined) {
    exitSoon(0);
    return 0;
  }
  const { file, root } = received;
  try {
    manager = new ComponentManager(definitions, file, root, { construct: (name) => workerComponents.has(name) });
    await manager.start();
    storage = manager.component<StatisticsStorage>('statistics-storage');
  } catch (error) {
    const message = error instanceof EchoError ? error.message : `fatal: ${errorMessage(error)}`;
    send({ tag: TAG, kind: 'failed', message, code: error instanceof EchoError ? error.code : undefined });
    await flushLogs();
    exitSoon(1);
    return 1;
  }
  send({ tag: TAG, kind: 'ready' });
  await shutdown;
  await manager.stop();
  await flushLogs();
  exitSoon(0);
  return 0;
}

async function collect(storage: StatisticsStorage | undefined): Promise<ScopeMetrics[] | undefined> {
  if (!storage) return [];
  try {
    return (await storage.collect()).scopeMetrics;
  } catch (error) {
    getLogger('cluster-worker').warning(`metrics collection failed: ${errorMessage(error)}`);
    return undefined;
  }
}

function send(message: WorkerMessage): void {
  try {
    process.send?.(message, undefined, undefined, () => {});
  } catch {
    // The channel closed: the primary is gone, and Node's cluster ends this worker.
  }
}

/**
 * Leaves the cluster and lets the process end by itself (pending writes complete); a handle some
 * library leaked must not keep it alive, so it exits after LINGER_EXIT_MS regardless.
 */
function exitSoon(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), LINGER_EXIT_MS).unref();
  try {
    cluster.worker?.disconnect();
  } catch {
    // Already disconnected.
  }
}
