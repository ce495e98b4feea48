/**
 * Where a sink's bytes finally go: a file descriptor written with asynchronous `fs.write`.
 *
 * Why not `process.stderr`: on Linux, Node makes stdout/stderr pipes and files *synchronous*, so a
 * reader that stops reading would freeze the event loop inside `write()`. `fs.write` runs on the
 * libuv thread pool instead: a full pipe blocks (at most) that one pool thread, never the loop, and
 * the queue in front of it (`QueuedSink`) bounds memory and counts what it drops.
 */
import fs from 'node:fs';
import { LogSinkError } from '../errors.js';
import { describeValue } from '../config/schema.js';

/** A destination for batches of lines. One `write` at a time (the sink guarantees it). */
export interface SinkTarget {
  /** What the config called it: `@stderr`, `@stdout`, `@null` or the file path. */
  readonly name: string;
  /** Writes some prefix of `data` (possibly all of it) and reports how many bytes. */
  write(data: Buffer, done: (error: NodeJS.ErrnoException | null, bytesWritten: number) => void): void;
  /** Opens the path again (logrotate moved the file away); a no-op for the standard streams. */
  reopen(): Promise<void>;
  /** Releases the descriptor (never closes fd 1 or 2). Safe to call twice. */
  close(): void;
}

/** The config key every sink error names. */
export const FILE_PATH_KEY = 'components_manager.components.logging.loggers.default.file_path';

/** A target over an already open descriptor that we do not own (stdout, stderr). */
class StdTarget implements SinkTarget {
  constructor(
    readonly name: string,
    private readonly fd: number,
  ) {}
  write(data: Buffer, done: (error: NodeJS.ErrnoException | null, bytesWritten: number) => void): void {
    fs.write(this.fd, data, 0, data.length, null, done);
  }
  async reopen(): Promise<void> {}
  close(): void {}
}

/** Lines accepted and thrown away (`@null`). */
class NullTarget implements SinkTarget {
  readonly name = '@null';
  write(data: Buffer, done: (error: NodeJS.ErrnoException | null, bytesWritten: number) => void): void {
    // Asynchronous like the real targets, so the sink's accounting is the same.
    setImmediate(done, null, data.length);
  }
  async reopen(): Promise<void> {}
  close(): void {}
}

/**
 * A file opened for appending. `reopen()` opens the path anew and swaps descriptors; the old one
 * closes once no write is using it (a descriptor closed under an in-flight write could be reused
 * by another open() and receive our bytes).
 */
class FileTarget implements SinkTarget {
  private writing = false;
  private retired: number[] = [];
  private closed = false;

  constructor(
    readonly name: string,
    private fd: number,
    private readonly configFile: string | undefined,
  ) {}

  write(data: Buffer, done: (error: NodeJS.ErrnoException | null, bytesWritten: number) => void): void {
    this.writing = true;
    fs.write(this.fd, data, 0, data.length, null, (error, bytesWritten) => {
      this.writing = false;
      this.closeRetired();
      done(error, bytesWritten);
    });
  }

  async reopen(): Promise<void> {
    if (this.closed) return;
    const fd = await openForAppend(this.name, this.configFile);
    if (this.closed) {
      fs.close(fd, () => {});
      return;
    }
    this.retired.push(this.fd);
    this.fd = fd;
    if (!this.writing) this.closeRetired();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.retired.push(this.fd);
    if (!this.writing) this.closeRetired();
  }

  private closeRetired(): void {
    for (const fd of this.retired) fs.close(fd, () => {});
    this.retired = [];
  }
}

function openForAppend(file: string, configFile: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.open(file, 'a', 0o644, (error, fd) => {
      if (error) reject(describeOpenError(file, configFile, error));
      else resolve(fd);
    });
  });
}

function describeOpenError(file: string, configFile: string | undefined, error: NodeJS.ErrnoException): LogSinkError {
  const why =
    error.code === 'ENOENT'
      ? 'its directory does not exist'
      : error.code === 'EACCES' || error.code === 'EPERM'
        ? 'permission denied'
        : error.code === 'EISDIR'
          ? 'it is a directory'
          : (error.code ?? error.message);
  const where = configFile === undefined ? FILE_PATH_KEY : `${configFile}: ${FILE_PATH_KEY}`;
  return new LogSinkError(`${where}: cannot open log file ${describeValue(file)} for appending: ${why}`, {
    cause: error,
  });
}

/** True for the special sink names userver accepts instead of a path. */
export function isSpecialSink(filePath: string): boolean {
  return filePath === '@stderr' || filePath === '@stdout' || filePath === '@null';
}

/** The standard-error target used before the logging component starts and after it stops. */
export function stderrTarget(): SinkTarget {
  return new StdTarget('@stderr', 2);
}

/**
 * Opens the target `file_path` names. A file is created if absent and appended to; a missing
 * parent directory or a permission problem is a LogSinkError naming the config file (when given),
 * the config key and the path.
 */
export async function openSinkTarget(filePath: string, configFile?: string): Promise<SinkTarget> {
  switch (filePath) {
    case '@stderr':
      return new StdTarget('@stderr', 2);
    case '@stdout':
      return new StdTarget('@stdout', 1);
    case '@null':
      return new NullTarget();
    default:
      return new FileTarget(filePath, await openForAppend(filePath, configFile), configFile);
  }
}
