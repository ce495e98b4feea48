/**
 * pytest_userver's log capture (`service_client.capture_logs()`), as userver's logging component
 * does it: the test client listens on `logging.loggers.default.testsuite-capture` {host, port};
 * on `log_capture` with `socket_logging_duplication: true` the service connects there, sets the
 * default logger to the capture level, and duplicates every line it logs from then on to the
 * socket as a tskv line; on `false` it stops duplicating, sets the level given, flushes what it
 * wrote to the socket and closes it. One connection per capture.
 *
 * Bounded: a client that stops reading costs at most MAX_BUFFERED_BYTES of socket buffer, past
 * which lines are dropped for the capture (the log file still gets them) and counted.
 */
import net from 'node:net';
import { LogCaptureError } from '../errors.js';
import type { LogLevel } from './logger.js';
import type { LoggerRegistry } from './logger-registry.js';

/** Where the test client listens (userver's `testsuite-capture`). */
export interface CaptureAddress {
  readonly host: string;
  readonly port: number;
}

/** Bytes waiting in the capture socket past which new lines are dropped (for the capture only). */
export const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** The client's asyncio reader fails on a line longer than 64 KiB; such lines are left out. */
export const MAX_CAPTURE_LINE_BYTES = 64 * 1024 - 1;
/** How long connecting, and closing after the flush, may take. */
export const CAPTURE_SOCKET_TIMEOUT_MS = 5000;

/** What one capture did, for the log line that ends it. */
export interface CaptureStats {
  /** Lines written to the socket. */
  sent: number;
  /** Lines left out: too long, or the client was not reading. */
  dropped: number;
}

/** The capture of one logger registry. */
export class TestsuiteCapture {
  readonly #address: CaptureAddress;
  readonly #registry: LoggerRegistry;
  #socket: net.Socket | undefined;
  #stats: CaptureStats = { sent: 0, dropped: 0 };

  constructor(address: CaptureAddress, registry: LoggerRegistry) {
    this.#address = address;
    this.#registry = registry;
  }

  /** True while lines are duplicated to a capture socket. */
  get active(): boolean {
    return this.#socket !== undefined;
  }

  /**
   * Connects to the capture socket, sets every logger to `level` and duplicates lines from now on.
   * A capture already running is ended first (flushed and closed). Rejects with a LogCaptureError
   * when the connection cannot be made within CAPTURE_SOCKET_TIMEOUT_MS; nothing is changed then.
   */
  async start(level: LogLevel): Promise<void> {
    await this.stop(undefined);
    const socket = await connect(this.#address);
    // A socket error ends the duplication; its lines in the file are unaffected.
    socket.on('error', () => this.#detach(socket));
    socket.on('close', () => this.#detach(socket));
    // The client never sends; reading keeps a peer's FIN from leaving the socket half-open.
    socket.resume();
    this.#socket = socket;
    this.#stats = { sent: 0, dropped: 0 };
    this.#registry.setLevel(level);
    this.#registry.setTee(this.#write);
  }

  /**
   * Stops duplicating, sets every logger to `level` (unless undefined), then ends the socket after
   * everything written to it is flushed and waits for it to close (bounded). Safe when no capture runs.
   * Resolves with what the capture did.
   */
  async stop(level: LogLevel | undefined): Promise<CaptureStats> {
    const socket = this.#socket;
    const stats = this.#stats;
    this.#detach(socket);
    if (level !== undefined) this.#registry.setLevel(level);
    if (socket === undefined || socket.destroyed) return stats;
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    // end() sends FIN after every byte written so far: the flush the client waits for.
    socket.end();
    const timer = setTimeout(() => socket.destroy(), CAPTURE_SOCKET_TIMEOUT_MS);
    await closed;
    clearTimeout(timer);
    return stats;
  }

  /** The registry's tee: one tskv line (ending in `\n`) as the file got it. */
  readonly #write = (line: string): void => {
    const socket = this.#socket;
    if (socket === undefined || socket.destroyed) return;
    // UTF-8 takes at most 3 bytes per UTF-16 unit: measure only lines that might be too long.
    const long = line.length * 3 > MAX_CAPTURE_LINE_BYTES && Buffer.byteLength(line, 'utf8') > MAX_CAPTURE_LINE_BYTES;
    if (long || socket.writableLength > MAX_BUFFERED_BYTES) {
      this.#stats.dropped++;
      return;
    }
    socket.write(line);
    this.#stats.sent++;
  };

  #detach(socket: net.Socket | undefined): void {
    if (socket === undefined || this.#socket !== socket) return;
    this.#socket = undefined;
    this.#registry.setTee(undefined);
  }
}

function connect(address: CaptureAddress): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address.host, port: address.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new LogCaptureError(`no connection to ${address.host}:${address.port} within ${CAPTURE_SOCKET_TIMEOUT_MS} ms`));
    }, CAPTURE_SOCKET_TIMEOUT_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new LogCaptureError(`cannot connect to ${address.host}:${address.port}: ${error.code ?? error.message}`));
    });
  });
}
