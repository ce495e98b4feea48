/**
 * One load-generator thread: runs its share of a scenario's connections against the server and
 * reports counts, verified bytes and latencies. Every byte that comes back is compared with what
 * was sent (see pattern.ts); errors are counted, never thrown.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { Histogram } from './histogram.js';
import { makePattern, matches, PERIOD, slice } from './pattern.js';
import type { MainMessage, WorkerMessage, WorkerResult, WorkerTask } from './protocol.js';

const task = workerData as WorkerTask;
const pattern = makePattern();
const latency = new Histogram();
const errors: Record<string, number> = {};
const sockets = new Set<net.Socket>();

/** This thread's counts and the phase of the run; one object, so every change to it reads `run.x`. */
class RunState {
  verifyFailures = 0;
  incomplete = 0;
  totalBytes = 0;
  totalOps = 0;
  windowStartBytes = 0;
  windowStartOps = 0;
  windowBytes = 0;
  windowOps = 0;
  established = 0;
  inWindow = false;
  /** Set when the measured window closes: connections stop starting new work and wind down. */
  stopping = false;
  reported = false;
  /** idle: connections are still being opened. */
  openingMore = false;
  drainTimer: NodeJS.Timeout | undefined;
  nextPhase = task.workerIndex * 7919;
}
const run = new RunState();

/** Each connection starts the pattern at its own offset, so a cross-connection mix-up is caught. */
function phase(): number {
  run.nextPhase = (run.nextPhase + 104_729) % PERIOD;
  return run.nextPhase;
}

function countError(error: NodeJS.ErrnoException): void {
  const code = error.code ?? error.message;
  errors[code] = (errors[code] ?? 0) + 1;
}

/**
 * connrate closes first, so every cycle leaves a TIME_WAIT holding its 4-tuple for 60 s; from one
 * source address the ports run out within seconds and each connect then hunts for a reusable one
 * (the native generator's bind_next_source says more). Loopback answers on all of 127.0.0.0/8, so
 * connrate cycles through SOURCE_ADDRESSES of them, never 127.0.0.1.
 */
const SOURCE_ADDRESSES = 1024;
const spreadSources = task.host.startsWith('127.');
let sourceSeq = task.workerIndex * 131;

function nextSourceAddress(): string | undefined {
  if (!spreadSources) return undefined;
  const n = 1 + (sourceSeq++ % SOURCE_ADDRESSES);
  return `127.2.${n >> 8}.${n & 255}`;
}

function connect(localAddress?: string): net.Socket {
  const socket = net.connect({ host: task.host, port: task.port, noDelay: true, ...(localAddress ? { localAddress } : {}) });
  sockets.add(socket);
  socket.on('error', countError);
  socket.on('close', () => {
    sockets.delete(socket);
    // After the scenario's own 'close' listener has counted this socket.
    if (run.stopping) setImmediate(reportWhenIdle);
  });
  return socket;
}

function post(message: WorkerMessage): void {
  parentPort!.postMessage(message);
}

function report(): void {
  if (run.reported) return;
  run.reported = true;
  clearTimeout(run.drainTimer);
  const result: WorkerResult = {
    windowBytes: run.windowBytes,
    totalBytes: run.totalBytes,
    windowOps: run.windowOps,
    totalOps: run.totalOps,
    latency: latency.count > 0 ? latency.toData() : undefined,
    errors,
    verifyFailures: run.verifyFailures,
    incomplete: run.incomplete,
    established: run.established,
  };
  post({ type: 'done', result });
}

/** Reports as soon as every socket has closed. */
function reportWhenIdle(): void {
  if (run.stopping && sockets.size === 0 && !run.openingMore) report();
}

/** The run is over: stop new work; sockets still busy after the drain timeout are destroyed and counted. */
function windDown(onStop: () => void): void {
  run.stopping = true;
  onStop();
  run.drainTimer = setTimeout(() => {
    run.incomplete += sockets.size;
    for (const socket of sockets) socket.destroy();
    // 'close' events follow destroy() asynchronously; report after they ran.
    setTimeout(report, 50);
  }, task.drainTimeoutMs);
  reportWhenIdle();
}

/** Opens and closes the measured window at the shared wall-clock times the main thread chose. */
function scheduleWindow(onStop: () => void): void {
  setTimeout(() => {
    run.inWindow = true;
    run.windowStartBytes = run.totalBytes;
    run.windowStartOps = run.totalOps;
  }, Math.max(0, task.measureStart - Date.now()));
  setTimeout(() => {
    run.inWindow = false;
    run.windowBytes = run.totalBytes - run.windowStartBytes;
    run.windowOps = run.totalOps - run.windowStartOps;
    windDown(onStop);
  }, Math.max(0, task.measureEnd - Date.now()));
}

// ---- throughput: full duplex streams, at most `window` bytes in flight per connection ----------

class Stream {
  private sent = 0;
  private received = 0;
  private readonly phase = phase();
  private readonly socket = connect();

  constructor() {
    this.socket.on('connect', () => this.pump());
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  pump(): void {
    const { messageSize, window } = task;
    while (!run.stopping && this.sent - this.received + messageSize <= window) {
      this.socket.write(slice(pattern, this.phase + this.sent, messageSize));
      this.sent += messageSize;
    }
    if (run.stopping && this.received === this.sent) this.socket.end();
  }

  private onData(chunk: Buffer): void {
    if (this.received + chunk.length > this.sent || !matches(pattern, this.phase + this.received, chunk)) {
      run.verifyFailures++;
      this.socket.destroy();
      return;
    }
    this.received += chunk.length;
    run.totalBytes += chunk.length;
    this.pump();
  }
}

// ---- pingpong: one request in flight per connection; latency per round trip ----------------------

class PingPong {
  private sent = 0;
  private received = 0;
  private startedAt = 0;
  private readonly phase = phase();
  private readonly socket = connect();

  constructor() {
    this.socket.on('connect', () => this.send());
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  /** Sends the next request, or ends the connection once the run is over. */
  send(): void {
    if (run.stopping) {
      this.socket.end();
      return;
    }
    this.startedAt = performance.now();
    this.socket.write(slice(pattern, this.phase + this.sent, task.requestSize));
    this.sent += task.requestSize;
  }

  private onData(chunk: Buffer): void {
    if (this.received + chunk.length > this.sent || !matches(pattern, this.phase + this.received, chunk)) {
      run.verifyFailures++;
      this.socket.destroy();
      return;
    }
    this.received += chunk.length;
    run.totalBytes += chunk.length;
    if (this.received < this.sent) return;
    run.totalOps++;
    if (run.inWindow) latency.record((performance.now() - this.startedAt) * 1000);
    this.send();
  }
}

// ---- connrate: connect, echo one request verified, close; repeat ---------------------------------

function cycle(): void {
  if (run.stopping) return reportWhenIdle();
  const startedAt = performance.now();
  const start = phase();
  const socket = connect(nextSourceAddress());
  let received = 0;
  let failed = false;
  socket.on('connect', () => socket.write(slice(pattern, start, task.requestSize)));
  socket.on('data', (chunk: Buffer) => {
    if (received + chunk.length > task.requestSize || !matches(pattern, start + received, chunk)) {
      run.verifyFailures++;
      failed = true;
      socket.destroy();
      return;
    }
    received += chunk.length;
    // Our FIN after the full echo; the cycle ends when the server's FIN closes the socket.
    if (received === task.requestSize) socket.end();
  });
  socket.on('error', () => (failed = true));
  socket.on('close', () => {
    run.totalBytes += received;
    if (!failed && received === task.requestSize) {
      run.totalOps++;
      if (run.inWindow) latency.record((performance.now() - startedAt) * 1000);
      cycle();
    } else {
      // Back off a little so a refusing server does not turn this loop into a busy spin.
      setTimeout(cycle, 10);
    }
  });
}

// ---- idle: open N connections, echo once each, hold until released ------------------------------

function openIdle(): void {
  let started = 0;
  let settled = 0;
  run.openingMore = true;
  const next = (): void => {
    if (started >= task.connections) return;
    started++;
    const start = phase();
    const socket = connect();
    let received = 0;
    let done = false;
    const settle = (ok: boolean): void => {
      if (done) return;
      done = true;
      if (ok) run.established++;
      settled++;
      if (settled === task.connections) {
        run.openingMore = false;
        post({ type: 'held', established: run.established });
      } else next();
    };
    socket.on('connect', () => socket.write(slice(pattern, start, task.requestSize)));
    socket.on('data', (chunk: Buffer) => {
      if (received + chunk.length > task.requestSize || !matches(pattern, start + received, chunk)) {
        run.verifyFailures++;
        socket.destroy();
        return;
      }
      received += chunk.length;
      run.totalBytes += chunk.length;
      if (received === task.requestSize) settle(true);
    });
    socket.on('close', () => settle(false));
  };
  for (let i = 0; i < Math.min(task.connectConcurrency, task.connections); i++) next();
}

// ---- start --------------------------------------------------------------------------------------

switch (task.scenario) {
  case 'throughput': {
    const streams = Array.from({ length: task.connections }, () => new Stream());
    scheduleWindow(() => streams.forEach((s) => s.pump()));
    break;
  }
  case 'pingpong': {
    const conns = Array.from({ length: task.connections }, () => new PingPong());
    void conns;
    // Each connection ends itself at its next turn (see PingPong.send).
    scheduleWindow(() => {});
    break;
  }
  case 'connrate':
    for (let i = 0; i < task.connections; i++) cycle();
    scheduleWindow(() => {});
    break;
  case 'idle':
    openIdle();
    parentPort!.on('message', (message: MainMessage) => {
      if (message.type !== 'release') return;
      windDown(() => {
        for (const socket of sockets) socket.end();
      });
    });
    break;
}
