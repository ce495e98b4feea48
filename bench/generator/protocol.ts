/**
 * What the load generator's parts exchange: the task of a load thread (JavaScript worker or the
 * native generator), what it reports, and the generator's result line.
 */
import type { HistogramData } from './histogram.js';

/** The four scenarios. */
export const SCENARIOS = ['throughput', 'pingpong', 'connrate', 'idle'] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** What one worker thread is asked to do (its `workerData`). */
export interface WorkerTask {
  scenario: Scenario;
  host: string;
  port: number;
  /** Connections (throughput, pingpong, idle) or concurrent connect loops (connrate) of this worker. */
  connections: number;
  /** Index of this worker, to give each connection its own pattern phase. */
  workerIndex: number;
  /** throughput: bytes per write. */
  messageSize: number;
  /** throughput: most bytes sent but not yet echoed, per connection. */
  window: number;
  /** pingpong, connrate, idle: bytes per request. */
  requestSize: number;
  /** Epoch ms at which the measured window opens (after warm-up) and closes. */
  measureStart: number;
  measureEnd: number;
  /** idle: most connects in flight at once. */
  connectConcurrency: number;
  /** ms to wait for echoes to drain and sockets to close at the end. */
  drainTimeoutMs: number;
}

/** What a worker reports when done. */
export interface WorkerResult {
  /** Bytes echoed back and verified inside the measured window / in the whole run. */
  windowBytes: number;
  totalBytes: number;
  /** Requests (pingpong) or connect-echo-close cycles (connrate) completed inside the window. */
  windowOps: number;
  totalOps: number;
  /** Round-trip latencies recorded inside the window (pingpong, connrate), microseconds. */
  latency: HistogramData | undefined;
  /** Socket errors (counted, not thrown), by code. */
  errors: Record<string, number>;
  /** Echoed bytes that differed from what was sent. */
  verifyFailures: number;
  /** Connections whose echo had not fully come back when the run ended. */
  incomplete: number;
  /** idle: connections that were established and echoed once. */
  established: number;
}

/** Worker → main. */
export type WorkerMessage = { type: 'held'; established: number } | { type: 'done'; result: WorkerResult };

/** Main → worker (idle only): close the held connections. */
export type MainMessage = { type: 'release' };

/** Which load generator ran: the native one (C, epoll) or the JavaScript one (worker threads). */
export type GeneratorKind = 'native' | 'js';

/** Latency percentiles in microseconds. */
export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  mean: number;
  max: number;
  count: number;
}

/** What one generator run measured; printed as one JSON line. */
export interface GeneratorResult {
  scenario: Scenario;
  generator: GeneratorKind;
  threads: number;
  connections: number;
  durationS: number;
  /** Echoed and verified inside the window. */
  windowBytes: number;
  mbPerSec: number;
  /** Requests (pingpong) or cycles (connrate) per second in the window. */
  opsPerSec: number;
  /** Requests or cycles over the whole run, warm-up and wind-down included. */
  totalOps: number;
  /** Operations the CPU figures are divided by: bytes (throughput), requests, cycles, or connections opened (idle). */
  windowOps: number;
  latencyUs: LatencySummary | undefined;
  /** Seconds of the CPU window: the measured window, or for idle the opening of the connections. */
  cpuWindowS: number | undefined;
  /** Server CPU seconds inside the CPU window (process tree, from /proc). */
  serverCpuS: number | undefined;
  /** Of it, V8's worker threads (compilers, parallel GC): high while V8 still compiles the code under test. */
  serverV8WorkerCpuS: number | undefined;
  /** CPU seconds the load itself cost inside the window (native process, or the worker threads). */
  generatorCpuS: number | undefined;
  /** CPU seconds of the generator's main thread (sampling /proc, scraping metrics): the harness, not the load. */
  harnessCpuS: number | undefined;
  /** CPU seconds of the --helper-pid process (the OTLP sink) inside the window. */
  helperCpuS: number | undefined;
  /** Cores kept busy by every other process during the window (machine busy − server − generator − harness − helper). */
  otherCores: number | undefined;
  /** Server CPU seconds per 1e9 bytes echoed (throughput). */
  cpuPerGB: number | undefined;
  /** Server CPU microseconds per connection (connrate), per request (pingpong). */
  cpuUsPerConn: number | undefined;
  cpuUsPerReq: number | undefined;
  rssStartBytes: number | undefined;
  rssPeakBytes: number | undefined;
  /** idle: server RSS while the connections were held (median of samples) and per connection. */
  rssHeldBytes: number | undefined;
  rssPerIdleConnBytes: number | undefined;
  established: number;
  errors: Record<string, number>;
  verifyFailures: number;
  incomplete: number;
  scrapes: { ok: number; failed: number };
}
