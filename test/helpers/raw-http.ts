/**
 * Raw HTTP exchanges over a plain socket, for requests `fetch` refuses to send (malformed request
 * lines, huge or slow headers, bad framing). A helper stops as soon as it has its answer: the
 * first complete response (head plus the body its Content-Length or chunked framing announces),
 * unless the caller asks to wait for the server to close the connection.
 */
import net from 'node:net';

export interface RawResponse {
  /** The status code of the first response, or undefined when the server sent none. */
  readonly status: number | undefined;
  /** Everything the server sent (latin1), capped at 64 KiB. */
  readonly text: string;
  /** True when the server closed the connection (FIN or RST) before the exchange ended. */
  readonly closedByServer: boolean;
  /** Milliseconds from connect to the end of the exchange (response, close or timeout). */
  readonly elapsedMs: number;
}

/** Options of `rawHttp`. */
export interface RawHttpOptions {
  /** Pause before each part after the first (slow, slowloris-style requests). @default 0 */
  readonly gapMs?: number;
  /** Bound on the whole exchange. @default 5000 */
  readonly timeoutMs?: number;
  /** Collect until the server closes (or the timeout), not just the first response. @default false */
  readonly untilClose?: boolean;
}

const HEAD_END = '\r\n\r\n';

/** Length of the first complete response in `text`, or undefined while it is incomplete (or unframed). */
function firstResponseLength(text: string): number | undefined {
  const headEnd = text.indexOf(HEAD_END);
  if (headEnd < 0) return undefined;
  const head = text.slice(0, headEnd);
  const bodyStart = headEnd + HEAD_END.length;
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1]);
  // 1xx, 204 and 304 have no body (RFC 9112 §6.3).
  if ((status >= 100 && status < 200) || status === 204 || status === 304) return bodyStart;
  if (/\r\ntransfer-encoding:[^\r]*chunked/i.test(head)) {
    const end = text.indexOf('\r\n0\r\n\r\n', bodyStart - 2);
    return end < 0 ? undefined : end + '\r\n0\r\n\r\n'.length;
  }
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1];
  if (length === undefined) return undefined; // framed by the close
  return text.length >= bodyStart + Number(length) ? bodyStart + Number(length) : undefined;
}

/**
 * Sends `parts` to 127.0.0.1:`port` over a plain socket (each part after `gapMs`), collects the
 * answer until the first complete response (or, with `untilClose`, until the server closes),
 * the server's close, or `timeoutMs`, then closes. A reset from the server counts as a close.
 */
export function rawHttp(port: number, parts: readonly (string | Buffer)[], options: RawHttpOptions = {}): Promise<RawResponse> {
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
      if (!options.untilClose && size < 65_536 && firstResponseLength(Buffer.concat(chunks).toString('latin1')) !== undefined) {
        finish(false);
      }
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
