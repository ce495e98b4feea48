/**
 * The echo listener on a unix domain socket (`tcp-echo.unix-socket`, as userver's
 * `TcpAcceptorBase` has it): the path must be absolute and fit `sun_path` (108 bytes with its
 * terminating NUL); a socket file nobody listens on any more (left by a killed process) is
 * removed before binding, a live one is an error; the bound socket is made 0666 so that clients
 * of any user can connect, as userver does.
 */
import { chmod, lstat, unlink } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { ListenError } from '../errors.js';
import { describeSystemError } from './listen.js';

/** `sizeof(sockaddr_un.sun_path)` on Linux: the path and its NUL must fit. */
export const SUN_PATH_BYTES = 108;

/** Why `socketPath` cannot be a unix-socket path, or undefined when it can. */
export function unixSocketPathProblem(socketPath: string): string | undefined {
  if (!path.isAbsolute(socketPath)) return 'must be an absolute path';
  const bytes = Buffer.byteLength(socketPath, 'utf8');
  if (bytes >= SUN_PATH_BYTES) return `is ${bytes} bytes long; a unix socket path must be shorter than ${SUN_PATH_BYTES} bytes (sun_path)`;
  return undefined;
}

/**
 * Removes a stale socket file at `socketPath`: one that is a socket and refuses connections.
 * Throws a ListenError when a server still accepts on it, or when the path is not a socket
 * (a regular file is never deleted).
 */
export async function removeStaleSocket(socketPath: string, component: string): Promise<void> {
  let stat;
  try {
    stat = await lstat(socketPath);
  } catch {
    return; // absent: nothing to remove
  }
  if (!stat.isSocket()) {
    throw new ListenError(`${component}: cannot listen on unix socket ${socketPath}: the path exists and is not a socket`);
  }
  if (await accepts(socketPath)) {
    throw new ListenError(`${component}: cannot listen on unix socket ${socketPath}: another process is listening on it`);
  }
  try {
    await unlink(socketPath);
  } catch (error) {
    throw new ListenError(
      `${component}: cannot remove the stale unix socket ${socketPath}: ${describeSystemError(error as NodeJS.ErrnoException)}`,
      { cause: error },
    );
  }
}

/** Binds `server` on `socketPath` and makes the socket file 0666. Rejects with a ListenError. */
export async function listenUnix(server: net.Server, socketPath: string, backlog: number, component: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      server.removeListener('listening', onListening);
      reject(new ListenError(`${component}: cannot listen on unix socket ${socketPath}: ${describeSystemError(error)}`, { cause: error }));
    };
    const onListening = (): void => {
      server.removeListener('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ path: socketPath, backlog });
  });
  try {
    await chmod(socketPath, 0o666);
  } catch (error) {
    server.close();
    throw new ListenError(`${component}: cannot chmod unix socket ${socketPath} to 0666: ${describeSystemError(error as NodeJS.ErrnoException)}`, {
      cause: error,
    });
  }
}

/** True when something accepts a connection on `socketPath` (within a second). */
function accepts(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ path: socketPath });
    const done = (result: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done(true), 1000);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
