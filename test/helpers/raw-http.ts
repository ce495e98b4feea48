/**
 * Raw HTTP exchanges over a plain socket, for requests `fetch` refuses to send (malformed request
 * lines, huge or slow headers, bad framing).
 */
import net from 'node:net';

export interface RawResponse {
  /** The status code of the first response, or undefined when the server sent none. */
  readonly status: number | undefined;
  /** Everything the server sent (latin1), capped at 64 KiB. */
  readonly text: string;
  /** True when the server closed the connection (FIN or RST) before `timeoutMs`. */
  readonly closedByServer: boolean;
  /** Milliseconds from connect to close (or to the timeout). */
  readonly elapsedMs: number;
}

/**
 * Sends `parts` to 127.0.0.1:`port` over a plain socket (each part after `gapMs`; the gaps make a
 * slow, slowloris-style request), collects the answer until the server closes or `timeoutMs`
 * passes, then closes. A reset from the server counts as a close.
 */
export function rawHttp(
  port: number,
  parts: readonly (string | Buffer)[],
  options: { gapMs?: number; timeoutMs?: number } = {},
): Promise<RawResponse> {
  const timeoutMs = options.timeoutMs ?? 5000;
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let size = 0;
    let timers: NodeJS.Timeout[] = [];
    let done = false;
    const finish = (closedByServer: boolean): void => {
      if (done) return;
      done = true;
      for (const t of timers) clearTimeout(t);
      timers = [];
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: match ? Number(match[1]) : undefined, text, closedByServer, elapsedMs: Date.now() - started });
    };
    socket.on('data', (chunk: Buffer) => {
      if (size < 65_536) chunks.push(chunk);
      size += chunk.length;
    });
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('connect', () => {
      parts.forEach((part, i) =>
        timers.push(
          setTimeout(() => {
            if (!socket.destroyed && socket.writable) socket.write(part);
          }, i * (options.gapMs ?? 0)),
        ),
      );
    });
    timers.push(setTimeout(() => finish(false), timeoutMs));
  });
}
