/**
 * Echo clients for the fault suite and the soak: connect with a bound, stream a deterministic
 * pattern and verify it comes back byte for byte and in order, measure ping-pong latency, and
 * summarise latencies. Every wait here is bounded in time; every loop in count or time.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { openSocket } from './echo-client.js';

/** Length of the repeating stream pattern: prime, so chunk boundaries never line up with it. */
const PATTERN_LENGTH = 65_537;
/** Twice the pattern, so any window of up to PATTERN_LENGTH bytes is one contiguous subarray. */
const PATTERN2 = (() => {
  const once = randomBytes(PATTERN_LENGTH);
  return Buffer.concat([once, once]);
})();

/** `length` bytes (≤ 65,537) of the stream pattern starting at stream offset `offset`; no copy. */
export function patternSlice(offset: number, length: number): Buffer {
  if (length > PATTERN_LENGTH) throw new RangeError(`pattern slice of ${length} bytes is longer than ${PATTERN_LENGTH}`);
  const start = offset % PATTERN_LENGTH;
  return PATTERN2.subarray(start, start + length);
}

/** True when `chunk` equals the stream pattern at stream offset `offset`. */
export function matchesPattern(chunk: Buffer, offset: number): boolean {
  let done = 0;
  while (done < chunk.length) {
    const n = Math.min(PATTERN_LENGTH, chunk.length - done);
    if (!chunk.subarray(done, done + n).equals(patternSlice(offset + done, n))) return false;
    done += n;
  }
  return true;
}

/** Connects to 127.0.0.1:`port` (optionally from another loopback address); rejects after `timeoutMs`. */
export function connect(port: number, options: { timeoutMs?: number; localAddress?: string } = {}): Promise<net.Socket> {
  return openSocket({ port, host: '127.0.0.1', localAddress: options.localAddress }, options.timeoutMs ?? 5000);
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` every `everyMs` until it returns true or `timeoutMs` passes; returns the last result. */
export async function waitFor(probe: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(everyMs);
  }
}

/**
 * A verifying reader: counts received bytes and checks each chunk against the stream pattern at
 * its offset. `mismatchAt` is the first bad offset (or undefined while everything matched).
 */
export class PatternReceiver {
  received = 0;
  mismatchAt: number | undefined;
  private waiters: { bytes: number; resolve: () => void }[] = [];

  /** Attaches to `socket`'s `'data'` events. */
  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.push(chunk));
  }

  private push(chunk: Buffer): void {
    if (this.mismatchAt === undefined && !matchesPattern(chunk, this.received)) this.mismatchAt = this.received;
    this.received += chunk.length;
    if (this.waiters.length === 0) return;
    const ready = this.waiters.filter((w) => w.bytes <= this.received);
    this.waiters = this.waiters.filter((w) => w.bytes > this.received);
    for (const w of ready) w.resolve();
  }

  /** Resolves true once `bytes` bytes arrived, false on close or after `timeoutMs`. */
  until(bytes: number, timeoutMs: number): Promise<boolean> {
    if (this.received >= bytes) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (ok: boolean): void => {
        clearTimeout(timer);
        this.socket.removeListener('close', onClose);
        resolve(ok);
      };
      const onClose = (): void => finish(this.received >= bytes);
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.socket.once('close', onClose);
      this.waiters.push({ bytes, resolve: () => finish(true) });
    });
  }
}

/**
 * Writes `total` bytes of the stream pattern to `socket` in `chunkSize` pieces, honouring
 * backpressure (waits for `'drain'` when `write()` returns false). Resolves with the bytes
 * handed to the socket: `total`, or fewer if the socket closed or `timeoutMs` passed first.
 */
export async function writePattern(
  socket: net.Socket,
  total: number,
  options: { chunkSize?: number; timeoutMs?: number; startOffset?: number } = {},
): Promise<number> {
  const chunkSize = Math.min(options.chunkSize ?? 16_384, PATTERN_LENGTH);
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let sent = 0;
  const base = options.startOffset ?? 0;
  while (sent < total) {
    if (socket.destroyed || !socket.writable || Date.now() > deadline) break;
    const n = Math.min(chunkSize, total - sent);
    const more = socket.write(patternSlice(base + sent, n));
    sent += n;
    if (!more && !(await drained(socket, deadline - Date.now()))) break;
  }
  return sent;
}

/** Resolves true on `'drain'`, false on close/error or after `timeoutMs`. */
export function drained(socket: net.Socket, timeoutMs: number): Promise<boolean> {
  if (socket.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      socket.removeListener('drain', onDrain);
      socket.removeListener('close', onClose);
      resolve(ok);
    };
    const onDrain = (): void => finish(true);
    const onClose = (): void => finish(false);
    const timer = setTimeout(() => finish(false), Math.max(0, timeoutMs));
    socket.once('drain', onDrain);
    socket.once('close', onClose);
  });
}

/** Resolves when `socket` has closed (true) or after `timeoutMs` (false). */
export function closed(socket: net.Socket, timeoutMs: number): Promise<boolean> {
  if (socket.closed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Result of a ping-pong run. */
export interface PingPongResult {
  /** Round-trip times in milliseconds, one per completed round. */
  readonly latenciesMs: number[];
  /** Rounds whose echo differed from what was sent (must be 0). */
  readonly mismatches: number;
  /** Human-readable client failures (connect errors, resets, timeouts). */
  readonly errors: string[];
}

/**
 * `clients` connections each send a `size`-byte message, wait for its full echo and check it,
 * then repeat, until `durationMs` passes, `maxRounds` rounds per client are done, or `stop()` says so.
 */
export async function pingPong(
  port: number,
  options: {
    clients: number;
    size?: number;
    durationMs: number;
    maxRounds?: number;
    roundTimeoutMs?: number;
    /** Pause between rounds (a paced client instead of a tight loop). */
    pauseMs?: number;
    /** Checked before each round: true ends the run early. */
    stop?: () => boolean;
  },
): Promise<PingPongResult> {
  const size = options.size ?? 64;
  const maxRounds = options.maxRounds ?? 1_000_000;
  const roundTimeoutMs = options.roundTimeoutMs ?? 10_000;
  const deadline = Date.now() + options.durationMs;
  const latenciesMs: number[] = [];
  const errors: string[] = [];
  let mismatches = 0;
  const one = async (client: number): Promise<void> => {
    let socket: net.Socket;
    try {
      socket = await connect(port);
    } catch (error) {
      errors.push(`client ${client}: ${(error as Error).message}`);
      return;
    }
    socket.setNoDelay(true);
    socket.on('error', (error) => errors.push(`client ${client}: ${error.message}`));
    const receiver = new PatternReceiver(socket);
    let offset = 0;
    for (let round = 0; round < maxRounds && Date.now() < deadline && !options.stop?.(); round++) {
      const started = performance.now();
      socket.write(patternSlice(offset, size));
      offset += size;
      if (!(await receiver.until(offset, roundTimeoutMs))) {
        errors.push(`client ${client}: no echo for round ${round} within ${roundTimeoutMs} ms`);
        break;
      }
      latenciesMs.push(performance.now() - started);
      if (options.pauseMs) await sleep(options.pauseMs);
    }
    if (receiver.mismatchAt !== undefined) mismatches++;
    socket.destroy();
  };
  await Promise.all(Array.from({ length: options.clients }, (_, i) => one(i)));
  return { latenciesMs, mismatches, errors };
}

/** The `p`-th percentile (0..100) of `values` (nearest rank); NaN for an empty list. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

/** One short connection: connect, echo `size` pattern bytes, check, close. Throws on any failure. */
export async function echoOnce(port: number, size = 32, timeoutMs = 5000): Promise<void> {
  const socket = await connect(port, { timeoutMs });
  try {
    socket.on('error', () => {});
    const receiver = new PatternReceiver(socket);
    for (let offset = 0; offset < size; offset += 16_384) socket.write(patternSlice(offset, Math.min(16_384, size - offset)));
    if (!(await receiver.until(size, timeoutMs))) throw new Error(`no echo of ${size} bytes within ${timeoutMs} ms`);
    if (receiver.mismatchAt !== undefined) throw new Error(`echo differs at byte ${receiver.mismatchAt}`);
  } finally {
    socket.destroy();
  }
}

/**
 * Connection rate: `workers` loops of `echoOnce` for `durationMs`. Returns cycles per second and
 * the failures (which callers assert to be none).
 */
export async function connectionRate(
  port: number,
  options: { workers: number; durationMs: number; maxCycles?: number },
): Promise<{ perSecond: number; cycles: number; errors: string[] }> {
  const started = performance.now();
  const deadline = Date.now() + options.durationMs;
  const maxCycles = options.maxCycles ?? 100_000;
  let cycles = 0;
  const errors: string[] = [];
  const worker = async (): Promise<void> => {
    while (Date.now() < deadline && cycles < maxCycles) {
      try {
        await echoOnce(port);
        cycles++;
      } catch (error) {
        errors.push((error as Error).message);
        if (errors.length > 20) return;
      }
    }
  };
  await Promise.all(Array.from({ length: options.workers }, worker));
  return { perSecond: cycles / ((performance.now() - started) / 1000), cycles, errors };
}
