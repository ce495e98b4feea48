/**
 * The primary's side of cluster mode (`tcp-echo.workers` > 1): takes the place of the echo
 * component in the primary. It forks the workers (each runs logging, statistics-storage, tracer
 * and tcp-echo from the primary's config), replaces and counts a worker that dies, hands
 * statistics-storage the collector that gathers the workers' metrics (worker-metrics.ts),
 * forwards SIGUSR1 and SIGHUP (log reopen), and drains every worker on shutdown.
 */
import cluster, { type Worker } from 'node:cluster';
import { performance } from 'node:perf_hooks';
import type { BatchObservableCallback } from '@opentelemetry/api';
import type { Component, Lifecycle } from '../components/component.js';
import type { ReadinessGate } from '../components/readiness.js';
import { ClusterWorkerError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { StatisticsStorage } from '../telemetry/statistics-storage.js';
import { LogRelay, workerStdio } from './log-relay.js';
import { isOurs, TAG, WORKER_SLOT_ENV, type PrimaryMessage, type WorkerMessage } from './protocol.js';
import { WorkerMetrics } from './worker-metrics.js';

/** How long all workers may take to report ready at start before start fails. */
const START_TIMEOUT_MS = 30_000;
/** Restart delay after a worker died young: doubles per consecutive early death, up to the maximum. */
const RESTART_BACKOFF_MS = { first: 100, max: 10_000 } as const;
/** A worker that lived at least this long died "old": its replacement starts at once. */
const STABLE_AFTER_MS = 5000;
/** After the stop timeout, how long killed workers get to be reaped. */
const KILL_WAIT_MS = 2000;

/**
 * How connections reach workers: SCHED_NONE, every worker accepts on the one shared listening
 * socket and the kernel picks. Node's default on Linux, round-robin, has the primary accept each
 * connection and pass it to a worker over IPC; measured here it cost about 2.5 times the server
 * CPU per connection and halved the connection rate, and a connection handed over just as a worker
 * died was lost (docs/cluster.md has the figures). Round-robin spreads connections more evenly;
 * `NODE_CLUSTER_SCHED_POLICY=rr` in the environment still selects it, as Node documents.
 */
const SCHEDULING_POLICY = cluster.SCHED_NONE;

/** What the supervisor needs from the service. */
export interface EchoClusterOptions {
  /** Number of worker processes (>= 2). */
  readonly workers: number;
  /** The static config file and its substituted content, handed to every worker. */
  readonly configFile: string;
  readonly root: Readonly<Record<string, unknown>>;
  readonly lifecycle: Lifecycle;
  /**
   * The service's readiness for the echo: opened once every worker listens at start; closed while
   * no worker is ready (all died and are being replaced), opened again when one is.
   */
  readonly serving?: ReadinessGate | undefined;
  /** Where the merged metrics are served; undefined when statistics-storage is off. */
  readonly storage: StatisticsStorage | undefined;
  /** Bound on the workers' graceful stop (drain + flush), after which they are killed. */
  readonly stopTimeoutMs: number;
  readonly logger: Logger;
}

type SlotState = 'starting' | 'ready' | 'exited';

/** One worker position (1..N); its process is replaced when it dies. */
interface Slot {
  readonly number: number;
  worker: Worker | undefined;
  state: SlotState;
  startedAt: number;
  /** Early deaths in a row: the restart backoff exponent. */
  failures: number;
  restartTimer: NodeJS.Timeout | undefined;
  /** The worker said hello: it listens for messages (earlier ones could be lost). */
  greeted: boolean;
  shutdownSent: boolean;
}

/** The worker metrics of the primary: restarts, alive, collection timeouts, per-worker open sockets. */
const METRICS = {
  restarts: 'tcp-echo.workers.restarts',
  alive: 'tcp-echo.workers.alive',
  timeouts: 'tcp-echo.workers.collect-timeouts',
  sockets: 'tcp-echo.workers.sockets.active',
} as const;

/** The echo run by worker processes. `stop()` is safe to call twice. */
export class EchoCluster implements Component {
  readonly #options: EchoClusterOptions;
  readonly #log: Logger;
  readonly #slots: Slot[];
  readonly #relay = new LogRelay();
  readonly #metrics: WorkerMetrics;
  readonly #disposers: Array<() => void> = [];
  #restarts = 0;
  #starting: { resolve: () => void; reject: (error: Error) => void } | undefined;
  /** Told when the last running worker has exited (shutdown waits on it). */
  readonly #exitWaiters = new Set<() => void>();
  #stopping = false;
  /** Every worker was ready once: from then on, readiness follows whether any worker is. */
  #started = false;
  #stopped: Promise<void> | undefined;

  constructor(options: EchoClusterOptions) {
    this.#options = options;
    this.#log = options.logger;
    this.#slots = Array.from({ length: options.workers }, (_, i) => ({
      number: i + 1,
      worker: undefined,
      state: 'exited' as SlotState,
      startedAt: 0,
      failures: 0,
      restartTimer: undefined,
      greeted: false,
      shutdownSent: false,
    }));
    this.#metrics = new WorkerMetrics(this.#slots, (worker, message) => this.#send(worker, message), this.#log);
    if (options.storage) {
      options.storage.setCollector(this.#metrics.collector, this.#metrics.exemplars);
      this.#registerInstruments(options.storage);
    }
    // Workers begin draining when shutdown begins, in parallel with the primary's own wait.
    options.lifecycle.onStopping(() => this.#beginShutdown());
  }

  /** Worker processes ready now. */
  get alive(): number {
    return this.#slots.filter((s) => s.state === 'ready').length;
  }

  /** Pids of the current worker processes, by slot (undefined while a slot has none). */
  get pids(): ReadonlyArray<number | undefined> {
    return this.#slots.map((s) => (s.state === 'exited' ? undefined : s.worker?.process.pid));
  }

  /** Forks every worker and resolves when all are ready; rejects with the first worker's start error. */
  async start(): Promise<void> {
    if (this.#stopping) return;
    if (cluster.isPrimary && process.env.NODE_CLUSTER_SCHED_POLICY === undefined) cluster.schedulingPolicy = SCHEDULING_POLICY;
    // Structured clone keeps what JSON would lose in collected metrics (undefined, ±Infinity).
    // stdout/stderr: shared where whole lines are guaranteed, else relayed (log-relay.ts).
    cluster.setupPrimary({ serialization: 'advanced', stdio: ['ignore', workerStdio(1), workerStdio(2), 'ipc'] });
    // SIGHUP reopens the logs as SIGUSR1 does (src/log/logging-component.ts): the workers too.
    process.on('SIGUSR1', this.#forwardReopen);
    process.on('SIGHUP', this.#forwardReopen);
    this.#disposers.push(() => {
      process.removeListener('SIGUSR1', this.#forwardReopen);
      process.removeListener('SIGHUP', this.#forwardReopen);
    });

    const allReady = new Promise<void>((resolve, reject) => (this.#starting = { resolve, reject }));
    for (const slot of this.#slots) this.#fork(slot);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ClusterWorkerError(`tcp-echo: ${this.#options.workers - this.alive} worker(s) not ready after ${START_TIMEOUT_MS} ms`)),
        START_TIMEOUT_MS,
      );
    });
    try {
      await Promise.race([allReady, timeout]);
    } catch (error) {
      // No replacements for workers that fail at start: the manager stops the service next.
      this.#beginShutdown();
      throw error;
    } finally {
      clearTimeout(timer);
      this.#starting = undefined;
    }
    this.#started = true;
    this.#options.serving?.open();
    this.#log.info(`${this.#options.workers} echo workers ready`, { workers: this.#options.workers, pids: this.pids.join(',') });
  }

  /** Tells every worker to drain, waits for all to exit (bounded by stopTimeoutMs), then kills the rest. */
  stop(): Promise<void> {
    this.#stopped ??= this.#stopAll();
    return this.#stopped;
  }

  async #stopAll(): Promise<void> {
    this.#beginShutdown();
    const running = () => this.#slots.filter((s) => s.state !== 'exited' && s.worker !== undefined);
    if (running().length > 0) {
      this.#log.info(`waiting up to ${this.#options.stopTimeoutMs} ms for ${running().length} echo worker(s) to drain`);
      await this.#allExited(this.#options.stopTimeoutMs);
    }
    const stuck = running();
    if (stuck.length > 0) {
      this.#log.warning(`killing ${stuck.length} echo worker(s) that did not stop in time`, {
        pids: stuck.map((s) => s.worker?.process.pid).join(','),
      });
      for (const slot of stuck) slot.worker?.process.kill('SIGKILL');
      await this.#allExited(KILL_WAIT_MS);
    }
    for (const dispose of this.#disposers.splice(0)) dispose();
    await this.#relay.close(1000);
  }

  #beginShutdown(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    for (const slot of this.#slots) {
      clearTimeout(slot.restartTimer);
      slot.restartTimer = undefined;
      // A worker that has not said hello yet gets `shutdown` as the answer to its hello.
      if (slot.worker && slot.state !== 'exited' && slot.greeted) this.#sendShutdown(slot, slot.worker);
    }
  }

  #sendShutdown(slot: Slot, worker: Worker): void {
    if (slot.shutdownSent) return;
    slot.shutdownSent = true;
    this.#send(worker, { tag: TAG, kind: 'shutdown' });
  }

  /** Resolves once no worker process is running, or after `timeoutMs`. */
  #allExited(timeoutMs: number): Promise<void> {
    if (this.#slots.every((s) => s.state === 'exited')) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#exitWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#exitWaiters.add(done);
    });
  }

  #fork(slot: Slot): void {
    slot.restartTimer = undefined;
    if (this.#stopping) return;
    const worker = cluster.fork({ [WORKER_SLOT_ENV]: String(slot.number) });
    slot.worker = worker;
    slot.state = 'starting';
    slot.startedAt = performance.now();
    this.#metrics.forget(slot);
    slot.greeted = false;
    slot.shutdownSent = false;
    this.#relay.attach(worker.process.stdout, '@stdout');
    this.#relay.attach(worker.process.stderr, '@stderr');
    worker.on('message', (message: unknown) => this.#onMessage(slot, worker, message));
    worker.on('exit', (code: number | null, signal: string | null) => this.#onExit(slot, worker, code, signal));
    // A failed send or a broken channel shows up as the worker's exit; nothing to add here.
    worker.on('error', () => {});
  }

  #onMessage(slot: Slot, worker: Worker, message: unknown): void {
    if (slot.worker !== worker || !isOurs<WorkerMessage>(message)) return;
    switch (message.kind) {
      case 'hello':
        slot.greeted = true;
        if (this.#stopping) this.#sendShutdown(slot, worker);
        else this.#send(worker, { tag: TAG, kind: 'config', file: this.#options.configFile, root: this.#options.root });
        return;
      case 'ready':
        slot.state = 'ready';
        if (this.#started) this.#options.serving?.open();
        this.#log.info(`echo worker ${slot.number} started`, { worker: slot.number, pid: worker.process.pid });
        if (this.#stopping) this.#sendShutdown(slot, worker);
        if (this.#starting && this.alive === this.#options.workers) this.#starting.resolve();
        return;
      case 'failed':
        if (this.#starting) this.#starting.reject(new ClusterWorkerError(message.message));
        else this.#log.error(`echo worker ${slot.number} failed to start: ${message.message}`, { worker: slot.number });
        return;
      case 'metrics':
        this.#metrics.answer(slot, message.id, message.scopeMetrics, message.exemplars);
        return;
    }
  }

  #onExit(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    if (slot.worker !== worker) return;
    const wasReady = slot.state === 'ready';
    slot.state = 'exited';
    if (this.alive === 0) this.#options.serving?.close();
    this.#metrics.retire(slot);
    if (this.#slots.every((s) => s.state === 'exited')) for (const done of [...this.#exitWaiters]) done();
    const how = signal ? `signal ${signal}` : `code ${code}`;
    if (this.#starting) {
      this.#starting.reject(new ClusterWorkerError(`tcp-echo: echo worker ${slot.number} exited with ${how} before it was ready`));
      return;
    }
    if (this.#stopping) {
      if (code !== 0) this.#log.warning(`echo worker ${slot.number} exited with ${how} during shutdown`, { worker: slot.number });
      return;
    }
    this.#restarts++;
    const lived = performance.now() - slot.startedAt;
    slot.failures = wasReady && lived >= STABLE_AFTER_MS ? 0 : slot.failures + 1;
    const delay = slot.failures === 0 ? 0 : Math.min(RESTART_BACKOFF_MS.max, RESTART_BACKOFF_MS.first * 2 ** (slot.failures - 1));
    this.#log.warning(`echo worker ${slot.number} (pid ${worker.process.pid}) exited with ${how}; starting a replacement`, {
      worker: slot.number,
      restart_in_ms: delay,
    });
    slot.restartTimer = setTimeout(() => this.#fork(slot), delay);
  }

  #send(worker: Worker, message: PrimaryMessage): void {
    try {
      // The callback swallows an asynchronous failure (channel closed meanwhile): the exit event follows.
      worker.send(message, undefined, () => {});
    } catch {
      // Synchronous ERR_IPC_CHANNEL_CLOSED: the worker is gone; its exit event does the rest.
    }
  }

  readonly #forwardReopen = (): void => {
    for (const slot of this.#slots) if (slot.state === 'ready') slot.worker?.process.kill('SIGUSR1');
  };

  #registerInstruments(storage: StatisticsStorage): void {
    const meter = storage.meter;
    const restarts = meter.createObservableCounter(METRICS.restarts, {
      description: 'Echo worker processes that exited unexpectedly and were replaced (cluster mode).',
    });
    const alive = meter.createObservableGauge(METRICS.alive, {
      description: 'Echo worker processes running and ready (cluster mode).',
    });
    const timeouts = meter.createObservableCounter(METRICS.timeouts, {
      description: 'Metric collections a worker did not answer in time; its previous values were shown (cluster mode).',
    });
    const sockets = meter.createObservableGauge(METRICS.sockets, {
      description: 'Connections open now, per echo worker slot (cluster mode): how evenly connections spread.',
    });
    const slotLabels = this.#slots.map((s) => Object.freeze({ worker: String(s.number) }));
    const observables = [restarts, alive, timeouts, sockets];
    const callback: BatchObservableCallback = (result) => {
      result.observe(restarts, this.#restarts);
      result.observe(alive, this.alive);
      result.observe(timeouts, this.#metrics.timeouts);
      for (const slot of this.#slots) {
        const active = this.#metrics.activeSockets(slot);
        if (active !== undefined) result.observe(sockets, active, slotLabels[slot.number - 1]);
      }
    };
    meter.addBatchObservableCallback(callback, observables);
    this.#disposers.push(() => meter.removeBatchObservableCallback(callback, observables));
  }
}
