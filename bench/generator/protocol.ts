/** Messages between the load generator's main thread and its worker threads. */
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
