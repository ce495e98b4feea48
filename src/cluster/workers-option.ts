/**
 * The `tcp-echo.workers` option: how many processes run the echo. Declared here with its schema
 * and resolved once at start (the echo component's section embeds the schema).
 */
import { availableParallelism } from 'node:os';
import { integer, oneOf, optional, string } from '../config/schema.js';

/** Most workers accepted: far more than useful on any machine, low enough to catch typos. */
export const MAX_WORKERS = 256;

/** Schema of `workers`: an integer >= 1 or `auto`; absent = from task_processors, else 1. */
export const workersSchema = optional(
  oneOf({
    description:
      'processes that run the echo: 1 = this process only (no fork, no IPC); N > 1 = N worker processes ' +
      '(node:cluster) accepting on the one port while this process serves the monitor listener and ' +
      "shows the whole service's metrics; 'auto' = one per core (os.availableParallelism()). A worker that " +
      'dies is replaced (tcp-echo.workers.restarts). When absent: ' +
      'components_manager.task_processors.main-task-processor.worker_threads if set (at most one per core), else 1. ' +
      'max_connections applies per worker. See docs/cluster.md',
    variants: [
      integer({ description: 'number of echo processes', minimum: 1, maximum: MAX_WORKERS }),
      string({ description: 'one per core', enum: ['auto'] }),
    ],
  }),
);

/**
 * The number of echo processes: `workers` when set (`auto` = cores), else userver's
 * `main-task-processor.worker_threads` at most one per core (userver configs size their thread
 * pools for big machines, and a process per thread beyond the cores would only cost memory),
 * else 1.
 */
export function resolveWorkers(
  workers: number | 'auto' | undefined,
  mainWorkerThreads: number | undefined,
  cores: () => number = availableParallelism,
): number {
  if (workers === 'auto') return Math.max(1, Math.min(MAX_WORKERS, cores()));
  if (workers !== undefined) return workers;
  if (mainWorkerThreads !== undefined) return Math.max(1, Math.min(MAX_WORKERS, cores(), mainWorkerThreads));
  return 1;
}
