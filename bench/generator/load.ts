/**
 * The two ways the generator puts load on a server, behind one interface: the native generator
 * (a child process, native/loadgen.c) and JavaScript worker threads (worker.ts). Both run the same
 * scenarios with the same verified byte pattern and report one merged WorkerResult.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { parseStat } from '../lib/proc.js';
import { BUCKETS, Histogram, type HistogramData } from './histogram.js';
import type { WorkerMessage, WorkerResult, WorkerTask } from './protocol.js';

/** A load being generated. */
export interface LoadRun {
  /** idle: resolves with the connections established once every one has echoed once. */
  readonly held: Promise<number>;
  /** idle: closes the held connections. */
  release(): void;
  /** Lets the load's process go, once its CPU time has been read for the last time. */
  finish(): void;
  /** Resolves with the counts once the load has wound down. */
  readonly done: Promise<WorkerResult>;
  /** CPU seconds the load has used so far (only the load: not the harness around it). */
  cpuSeconds(): number;
}

/** Adds up the reports of several load threads. */
export function mergeResults(results: readonly WorkerResult[]): WorkerResult {
  const latency = new Histogram();
  const total: WorkerResult = {
    windowBytes: 0,
    totalBytes: 0,
    windowOps: 0,
    totalOps: 0,
    latency: undefined,
    errors: {},
    verifyFailures: 0,
    incomplete: 0,
    established: 0,
  };
  for (const r of results) {
    if (r.latency) latency.merge(r.latency);
    total.windowBytes += r.windowBytes;
    total.totalBytes += r.totalBytes;
    total.windowOps += r.windowOps;
    total.totalOps += r.totalOps;
    total.established += r.established;
    total.verifyFailures += r.verifyFailures;
    total.incomplete += r.incomplete;
    for (const [code, n] of Object.entries(r.errors)) total.errors[code] = (total.errors[code] ?? 0) + n;
  }
  if (latency.count > 0) total.latency = latency.toData();
  return total;
}

/** The load in `threads` JavaScript worker threads, sharing the connections. */
export function startJsLoad(task: WorkerTask, threads: number): LoadRun {
  const workerFile = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);
  const workers: Worker[] = [];
  const held: Promise<number>[] = [];
  const done: Promise<WorkerResult>[] = [];
  for (let i = 0; i < threads; i++) {
    const share = Math.floor(task.connections / threads) + (i < task.connections % threads ? 1 : 0);
    if (share === 0) continue;
    const worker = new Worker(workerFile, { workerData: { ...task, connections: share, workerIndex: i } satisfies WorkerTask });
    workers.push(worker);
    const message = <T extends WorkerMessage['type']>(type: T) =>
      new Promise<Extract<WorkerMessage, { type: T }>>((resolve, reject) => {
        worker.on('message', (m: WorkerMessage) => m.type === type && resolve(m as Extract<WorkerMessage, { type: T }>));
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`worker ${i} exited with ${code} before '${type}'`)));
      });
    if (task.scenario === 'idle') held.push(message('held').then((m) => m.established));
    done.push(message('done').then((m) => m.result));
  }
  // The workers share this process; the main thread's own CPU (when Node can tell it) is the harness's.
  const threadCpuUsage = (process as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage;
  return {
    held: Promise.all(held).then((counts) => counts.reduce((a, b) => a + b, 0)),
    release: () => workers.forEach((w) => w.postMessage({ type: 'release' })),
    finish: () => {},
    done: Promise.all(done).then(async (results) => {
      // terminate() resolves at once for a worker that already exited (they exit after reporting).
      await Promise.all(workers.map((w) => w.terminate()));
      return mergeResults(results);
    }),
    cpuSeconds() {
      const all = process.cpuUsage();
      const main = typeof threadCpuUsage === 'function' ? threadCpuUsage.call(process) : { user: 0, system: 0 };
      return (all.user + all.system - main.user - main.system) / 1e6;
    },
  };
}

/** What the native generator prints as its result line (a WorkerResult with sparse latency buckets). */
interface NativeResult extends Omit<WorkerResult, 'latency'> {
  latency: { count: number; sum: number; min: number; max: number; buckets: [number, number][] } | null;
}

/** The native generator's sparse histogram as HistogramData (same buckets as histogram.ts). */
export function nativeLatency(latency: NativeResult['latency']): HistogramData | undefined {
  if (latency === null) return undefined;
  const counts = new Array<number>(BUCKETS).fill(0);
  for (const [index, count] of latency.buckets) counts[index] = count;
  return { counts, count: latency.count, sum: latency.sum, min: latency.min, max: latency.max };
}

/** The load in the native generator at `binary` (one process, one thread). */
export function startNativeLoad(binary: string, task: WorkerTask): LoadRun {
  const args = [
    '--scenario', task.scenario,
    '--host', task.host,
    '--port', String(task.port),
    '--connections', String(task.connections),
    '--message-size', String(task.messageSize),
    '--window', String(task.window),
    '--request-size', String(task.requestSize),
    '--measure-start', String(task.measureStart),
    '--measure-end', String(task.measureEnd),
    '--connect-concurrency', String(task.connectConcurrency),
    '--drain-timeout-ms', String(task.drainTimeoutMs),
    '--phase-seed', String(task.workerIndex * 7919),
  ];
  const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let onHeld: ((established: number) => void) | undefined;
  const held = new Promise<number>((resolve) => (onHeld = resolve));
  let lastCpu = 0;
  // The result is its last line; it then waits for stdin to close (finish()), so its CPU time can
  // still be read at the end of the window however fast it wound down.
  const done = new Promise<WorkerResult>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      const match = /^held (\d+)$/m.exec(stdout);
      if (match) onHeld?.(Number(match[1]));
      const result = /^(\{.*\})\n/m.exec(stdout);
      if (result) {
        const parsed = JSON.parse(result[1]!) as NativeResult;
        resolve({ ...parsed, latency: nativeLatency(parsed.latency) });
      }
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code !== 0) reject(new Error(`native generator exited with ${code ?? signal}: ${stderr.trim() || 'no output'}`));
      else reject(new Error(`native generator exited without a result: ${stdout.trim().slice(-300) || 'no output'}`));
    });
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  // A held promise that never settles must not keep an exited generator's caller waiting.
  void done.then(
    () => onHeld?.(0),
    () => onHeld?.(0),
  );
  return {
    held,
    release: () => child.stdin.write('release\n'),
    finish: () => child.stdin.end(),
    done,
    cpuSeconds() {
      try {
        lastCpu = parseStat(readFileSync(`/proc/${child.pid}/stat`, 'utf8')).cpuSeconds;
      } catch {
        // Exited: its last reading stands (the windows close before the load winds down).
      }
      return lastCpu;
    },
  };
}
