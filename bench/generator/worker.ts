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
let verifyFailures = 0;
let incomplete = 0;
let totalBytes = 0;
let totalOps = 0;
let windowStartBytes = 0;
let windowStartOps = 0;
let windowBytes = 0;
let windowOps = 0;
let inWindow = false;
/** Set when the measured window closes: connections stop starting new work and wind down. */
let stopping = false;
let reported = false;
let established = 0;
let nextPhase = task.workerIndex * 7919;

/** Each connection starts the pattern at its own offset, so a cross-connection mix-up is caught. */
function phase(): number {
  nextPhase = (nextPhase + 104_729) % PERIOD;
  return nextPhase;
}

function countError(error: NodeJS.ErrnoException): void {
  const code = error.code ?? error.message;
  errors[code] = (errors[code] ?? 0) + 1;
}

function connect(): net.Socket {
  const socket = net.connect({ host: task.host, port: task.port, noDelay: true });
  sockets.add(socket);
  socket.on('error', countError);
  socket.on('close', () => {
    sockets.delete(socket);
    // After the scenario's own 'close' listener has counted this socket.
    if (stopping) setImmediate(reportWhenIdle);
  });
  return socket;
}

function post(message: WorkerMessage): void {
  parentPort!.postMessage(message);
}

function report(): void {
  if (reported) return;
  reported = true;
  clearTimeout(drainTimer);
  const result: WorkerResult = {
    windowBytes,
    totalBytes,
    windowOps,
    totalOps,
    latency: latency.count > 0 ? latency.toData() : undefined,
    errors,
    verifyFailures,
    incomplete,
    established,
  };
  post({ type: 'done', result });
}

/** Reports as soon as every socket has closed. */
function reportWhenIdle(): void {
  if (stopping && sockets.size === 0 && !openingMore) report();
}

let drainTimer: NodeJS.Timeout | undefined;
/** The run is over: stop new work; sockets still busy after the drain timeout are destroyed and counted. */
function windDown(onStop: () => void): void {
  stopping = true;
  onStop();
  drainTimer = setTimeout(() => {
    incomplete += sockets.size;
    for (const socket of sockets) socket.destroy();
    // 'close' events follow destroy() asynchronously; report after they ran.
    setTimeout(report, 50);
  }, task.drainTimeoutMs);
  reportWhenIdle();
}

/** Opens and closes the measured window at the shared wall-clock times the main thread chose. */
function scheduleWindow(onStop: () => void): void {
  setTimeout(() => {
    inWindow = true;
    windowStartBytes = totalBytes;
    windowStartOps = totalOps;
  }, Math.max(0, task.measureStart - Date.now()));
  setTimeout(() => {
    inWindow = false;
    windowBytes = totalBytes - windowStartBytes;
    windowOps = totalOps - windowStartOps;
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
    while (!stopping && this.sent - this.received + messageSize <= window) {
      this.socket.write(slice(pattern, this.phase + this.sent, messageSize));
      this.sent += messageSize;
    }
    if (stopping && this.received === this.sent) this.socket.end();
  }

  private onData(chunk: Buffer): void {
    if (this.received + chunk.length > this.sent || !matches(pattern, this.phase + this.received, chunk)) {
      verifyFailures++;
      this.socket.destroy();
      return;
    }
    this.received += chunk.length;
    totalBytes += chunk.length;
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
    if (stopping) {
      this.socket.end();
      return;
    }
    this.startedAt = performance.now();
    this.socket.write(slice(pattern, this.phase + this.sent, task.requestSize));
    this.sent += task.requestSize;
  }

  private onData(chunk: Buffer): void {
    if (this.received + chunk.length > this.sent || !matches(pattern, this.phase + this.received, chunk)) {
      verifyFailures++;
      this.socket.destroy();
      return;
    }
    this.received += chunk.length;
    totalBytes += chunk.length;
    if (this.received < this.sent) return;
    totalOps++;
    if (inWindow) latency.record((performance.now() - this.startedAt) * 1000);
    this.send();
  }
}

// ---- connrate: connect, echo one request verified, close; repeat ---------------------------------

function cycle(): void {
  if (stopping) return reportWhenIdle();
  const startedAt = performance.now();
  const start = phase();
  const socket = connect();
  let received = 0;
  let failed = false;
  socket.on('connect', () => socket.write(slice(pattern, start, task.requestSize)));
  socket.on('data', (chunk: Buffer) => {
    if (received + chunk.length > task.requestSize || !matches(pattern, start + received, chunk)) {
      verifyFailures++;
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
    totalBytes += received;
    if (!failed && received === task.requestSize) {
      totalOps++;
      if (inWindow) latency.record((performance.now() - startedAt) * 1000);
      cycle();
    } else {
      // Back off a little so a refusing server does not turn this loop into a busy spin.
      setTimeout(cycle, 10);
    }
  });
}

// ---- idle: open N connections, echo once each, hold until released ------------------------------

let openingMore = false;

function openIdle(): void {
  let started = 0;
  let settled = 0;
  openingMore = true;
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
      if (ok) established++;
      settled++;
      if (settled === task.connections) {
        openingMore = false;
        post({ type: 'held', established });
      } else next();
    };
    socket.on('connect', () => socket.write(slice(pattern, start, task.requestSize)));
    socket.on('data', (chunk: Buffer) => {
      if (received + chunk.length > task.requestSize || !matches(pattern, start + received, chunk)) {
        verifyFailures++;
        socket.destroy();
        return;
      }
      received += chunk.length;
      totalBytes += chunk.length;
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
