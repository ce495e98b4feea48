/**
 * Echo clients for tests: real loopback sockets, every wait bounded in time. Each helper rejects
 * with a message that says what was expected and what arrived, so a failing test explains itself.
 */
import { once } from 'node:events';
import net from 'node:net';
import { randomBytes } from 'node:crypto';

/**
 * Default bound on any single helper call: a bound on hangs, not a speed requirement (with both
 * cores busy a 64 KiB echo in 1-byte writes has taken over 20 s).
 */
export const DEFAULT_TIMEOUT_MS = 120_000;

/** Connects to `port` on loopback (half-open allowed); rejects on error or after `timeoutMs`. */
export function connect(port: number, host = '127.0.0.1', timeoutMs = DEFAULT_TIMEOUT_MS): Promise<net.Socket> {
  return openSocket({ port, host, allowHalfOpen: true }, timeoutMs);
}

/** Opens a TCP connection with any `net.connect` options; rejects on error or after `timeoutMs`. */
export function openSocket(options: net.TcpNetConnectOpts, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(options);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to ${options.host ?? 'localhost'}:${options.port} timed out after ${timeoutMs} ms`));
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
