/**
 * The test clients of the echo, for every suite (unit, integration, faults, soak): one way to
 * connect, to wait, and to check an echo — real loopback sockets, every wait bounded in time.
 * Byte-exact helpers (collect, roundTrip, ping) reject with a message that says what was expected
 * and what arrived; streaming helpers check a deterministic pattern chunk by chunk (PatternReceiver,
 * writePattern, pingPong, echoOnce, connectionRate) so long runs need no copy of what was sent.
 */
import { once } from 'node:events';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';

/**
 * Default bound on any single helper call: a bound on hangs, not a speed requirement (with both
 * cores busy a 64 KiB echo in 1-byte writes has taken over 20 s).
 */
export const DEFAULT_TIMEOUT_MS = 120_000;

/** How to connect. */
export interface ConnectOptions {
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Connect from this local address (another loopback address, for per-peer limits). */
  readonly localAddress?: string;
  /** @default DEFAULT_TIMEOUT_MS */
  readonly timeoutMs?: number;
  /** Keep our write side open after the server's FIN (Node's `allowHalfOpen`). @default true */
  readonly allowHalfOpen?: boolean;
}

/** Opens a TCP connection to `port`; rejects on error or after the timeout. */
export function connect(port: number, options: ConnectOptions = {}): Promise<net.Socket> {
  const host = options.host ?? '127.0.0.1';
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host, localAddress: options.localAddress, allowHalfOpen: options.allowHalfOpen ?? true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to ${host}:${port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      resolve(socket);
    });
    const onError = (error: Error): void => {
      clearTimeout(timer);
      reject(error);
    };
    socket.once('error', onError);
  });
}

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` every `everyMs` until it returns true (true) or `timeoutMs` passes (false). */
export async function waitFor(probe: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (performance.now() >= deadline) return false;
    await sleep(everyMs);
  }
}

/** Like `waitFor`, but rejects with `timed out after … waiting for <what>` when the time is up. */
export async function until(
  probe: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = DEFAULT_TIMEOUT_MS,
  everyMs = 25,
): Promise<void> {
  if (!(await waitFor(probe, timeoutMs, everyMs))) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** `n` random bytes (incompressible, so coalescing or truncation shows up as a mismatch). */
export function randomData(n: number): Buffer {
  return randomBytes(n);
}

/** Index of the first differing byte of two buffers, or -1 if equal (lengths compared too). */
export function firstDifference(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/**
 * Collects what arrives on `socket` (resuming it) into a preallocated buffer of `expected` bytes. Resolves when
 * `expected` bytes arrived (or, with `untilEnd`, at EOF, checking nothing more came); rejects on
 * error, on more bytes than expected, on an early EOF/close, or after `timeoutMs`.
 */
export function collect(
  socket: net.Socket,
  expected: number,
  options: { untilEnd?: boolean; timeoutMs?: number } = {},
): Promise<Buffer> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const out = Buffer.alloc(expected);
  let received = 0;
  return new Promise((resolve, reject) => {
    const finish = (error?: Error): void => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('end', onEnd);
      socket.removeListener('close', onClose);
      socket.removeListener('error', onError);
      if (error) reject(error);
      else resolve(out);
    };
    const onData = (chunk: Buffer): void => {
      if (received + chunk.length > expected) {
        finish(new Error(`received more than the ${expected} bytes expected (${received + chunk.length})`));
        return;
      }
      chunk.copy(out, received);
      received += chunk.length;
      if (received === expected && !options.untilEnd) finish();
    };
    const onEnd = (): void => {
      if (received === expected) finish();
      else finish(new Error(`EOF after ${received} of ${expected} bytes`));
    };
    const onClose = (): void => finish(new Error(`socket closed after ${received} of ${expected} bytes`));
    const onError = (error: Error): void =>
      finish(new Error(`socket error after ${received} of ${expected} bytes: ${error.message}`));
    const timer = setTimeout(
      () => finish(new Error(`timed out after ${timeoutMs} ms with ${received} of ${expected} bytes`)),
      timeoutMs,
    );
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onClose);
    socket.once('error', onError);
    // A 'data' listener does not restart a socket that was paused explicitly.
    socket.resume();
    if (expected === 0 && !options.untilEnd) finish();
  });
}

/** Reads (and drops) until at least `n` bytes arrived; rejects on close, error or after `timeoutMs`. */
export function receiveAtLeast(socket: net.Socket, n: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<number> {
  let received = 0;
  return new Promise((resolve, reject) => {
    const finish = (error?: Error): void => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('close', onClose);
      if (error) reject(error);
      else resolve(received);
    };
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received >= n) finish();
    };
    const onClose = (): void => finish(new Error(`socket closed after ${received} of ${n} bytes`));
    const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms with ${received} of ${n} bytes`)), timeoutMs);
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

/** Writes `data` in chunks of the given sizes (cycled), honouring backpressure; resolves when all is handed to the socket. */
export async function writeChunked(socket: net.Socket, data: Buffer, chunkSizes: readonly number[]): Promise<void> {
  let offset = 0;
  for (let i = 0; offset < data.length; i++) {
    const size = chunkSizes[i % chunkSizes.length] ?? data.length;
    const end = Math.min(data.length, offset + Math.max(1, size));
    if (!socket.write(data.subarray(offset, end))) {
      await Promise.race([once(socket, 'drain'), once(socket, 'close')]);
      if (socket.destroyed) throw new Error(`socket closed after writing ${offset} of ${data.length} bytes`);
    }
    offset = end;
  }
}

/**
 * Full-duplex round trip on a new connection: writes `data` in `chunkSizes` while reading the echo
 * concurrently, checks it is byte-identical, then half-closes and expects the server's EOF.
 */
export async function roundTrip(
  port: number,
  data: Buffer,
  chunkSizes: readonly number[],
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<void> {
  const socket = await connect(port);
  try {
    const echoed = collect(socket, data.length, { untilEnd: true, timeoutMs });
    await writeChunked(socket, data, chunkSizes);
    socket.end();
    const received = await echoed;
    const at = firstDifference(received, data);
    if (at !== -1) throw new Error(`echo differs from what was sent at byte ${at} of ${data.length}`);
  } finally {
    socket.destroy();
  }
}

/**
 * One request/response echo on an open connection: writes `data`, waits for exactly it back.
 * Resolves with the latency in milliseconds.
 */
export async function ping(socket: net.Socket, data: Buffer, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<number> {
  const started = performance.now();
  const echoed = collect(socket, data.length, { timeoutMs });
  socket.write(data);
  const received = await echoed;
  if (!received.equals(data)) throw new Error('ping echo differs from what was sent');
  return performance.now() - started;
}

/**
 * Waits until the server has closed the connection: EOF, a reset, or close, whichever comes first.
 * Reads (and drops) whatever still arrives, since EOF is only seen by a reading socket. Rejects
 * after `timeoutMs`; resolves at once if the socket is already closed or at EOF.
 */
export function serverClosed(socket: net.Socket, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
  if (socket.closed || socket.readableEnded) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      socket.removeListener('end', done);
      socket.removeListener('close', done);
      socket.removeListener('error', done);
      resolve();
    };
    const timer = setTimeout(() => {
      socket.removeListener('end', done);
      socket.removeListener('close', done);
      socket.removeListener('error', done);
      reject(new Error(`server did not close the connection within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('end', done);
    socket.once('close', done);
    socket.once('error', done);
    socket.resume();
  });
}

/**
 * A client that sends without ever reading. `offer()` writes up to `totalBytes` in 64 KiB chunks
 * until the kernel stops taking them (or `forMs` passes); `accepted()` is how many bytes left this
 * process, i.e. what the service and the kernel buffers between us took.
 */
export class NonReader {
  private constructor(readonly socket: net.Socket) {}

  /** Connects a paused (never reading) client. */
  static async open(port: number): Promise<NonReader> {
    const socket = await connect(port);
    socket.pause();
    socket.on('error', () => {});
    return new NonReader(socket);
  }

  /** Bytes handed to the kernel by this client (queued ones excluded). */
  accepted(): number {
    return this.socket.bytesWritten - this.socket.writableLength;
  }

  /**
   * Offers up to `totalBytes` for `forMs`: writes while the socket takes data, and otherwise waits for
   * 'drain' (bounded by the time left). Resolves with the bytes the kernel accepted.
   */
  async offer(totalBytes: number, forMs: number): Promise<number> {
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const deadline = performance.now() + forMs;
    let offered = 0;
    while (offered < totalBytes && performance.now() < deadline && !this.socket.destroyed) {
      offered += chunk.length;
      if (!this.socket.write(chunk)) {
        const left = Math.max(1, deadline - performance.now());
        await Promise.race([once(this.socket, 'drain'), sleep(left)]);
      }
    }
    const left = deadline - performance.now();
    if (left > 0) await sleep(left);
    return this.accepted();
  }

  /** Closes the connection at once. */
  destroy(): void {
    this.socket.destroy();
  }
}

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
      socket = await connect(port, { allowHalfOpen: false });
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
  const socket = await connect(port, { timeoutMs, allowHalfOpen: false });
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

/** The test data of userver's sample (samples/tcp_full_duplex_service/tests/test_echo.py), one Buffer a line. */
export const USERVER_SAMPLE_LINES: readonly Buffer[] = [
  'Once upon a midnight dreary, while I pondered, weak and weary, ',
  'Over many a quaint and curious volume of forgotten lore - ',
  'While I nodded, nearly napping, suddenly there came a tapping, ',
  'As of some one gently rapping, rapping at my chamber door - ',
  '"Tis some visitor," I muttered, "tapping at my chamber door - ',
  'Only this and nothing more."',
].map((line) => Buffer.from(line));

/** Connect, send `payload`, half-close, and resolve with everything read until the server closes. Bounded by `timeoutMs`. */
export async function echoAll(port: number, payload: Buffer, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Buffer> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`echo timed out after ${timeoutMs} ms`)));
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await once(socket, 'connect');
  socket.end(payload);
  await once(socket, 'close');
  return Buffer.concat(chunks);
}
