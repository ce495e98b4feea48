/**
 * Reading a config input (`-c`, `--config_vars`, a `#file` value) safely: only regular files, and
 * only up to a size bound. A FIFO, a device (`/dev/zero`) or a socket is refused before any read,
 * so it can neither hang start-up nor grow the heap without end.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/** Largest static config or config-vars file read (bytes): 8 MiB, far above any hand-written config. */
export const MAX_CONFIG_FILE_BYTES = 8 * 1024 * 1024;

/** Largest `#file` value read (bytes): 1 MiB; a value holds a port, a token or a small mapping. */
export const MAX_VALUE_FILE_BYTES = 1024 * 1024;

/** Why a file could not be read: the fs error, or one of our refusals (not regular, too large). */
export class BoundedReadError extends Error {
  /** The fs error code (`ENOENT`, `EACCES`, ...) or `NOT_REGULAR` / `TOO_LARGE`. */
  readonly reason: string;
  constructor(reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

/**
 * Reads `file` as UTF-8 when it is a regular file of at most `limit` bytes. Throws
 * BoundedReadError; its message says which check failed ("not a regular file (a FIFO)",
 * "larger than 1 MiB"). The size is checked again while reading, in case the file grows.
 */
export function readBoundedFile(file: string, limit: number): string {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO with no writer would otherwise block the event loop forever.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
    throw new BoundedReadError(code, (error as Error).message, { cause: error });
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) {
      throw new BoundedReadError('NOT_REGULAR', `not a regular file (${kindOf(stat)}); only regular files are read`);
    }
    if (stat.size > limit) {
      throw new BoundedReadError('TOO_LARGE', `larger than ${formatBytes(limit)} (${stat.size} bytes)`);
    }
    // One byte more than the bound tells a file that grew since fstat from one that fits.
    const buffer = Buffer.allocUnsafe(limit + 1);
    let length = 0;
    while (length <= limit) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
    if (length > limit) throw new BoundedReadError('TOO_LARGE', `larger than ${formatBytes(limit)}`);
    return buffer.toString('utf8', 0, length);
  } finally {
    closeSync(fd);
  }
}

function kindOf(stat: import('node:fs').Stats): string {
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isSocket()) return 'a socket';
  if (stat.isDirectory()) return 'a directory';
  return 'not a file';
}

function formatBytes(n: number): string {
  return n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : n % 1024 === 0 ? `${n / 1024} KiB` : `${n} bytes`;
}
