/**
 * Reading the service from outside for the fault suite and the soak: the echo counters from
 * `GET /service/monitor?format=json` (the contract's userver JSON), and raw HTTP exchanges over a
 * plain socket for requests `fetch` refuses to send (malformed lines, huge or slow headers).
 */
import net from 'node:net';

/** One node of the userver JSON view. */
export interface MetricNode {
  readonly value: unknown;
  readonly labels: Record<string, string>;
  readonly type: string;
}

/** The whole JSON view: dotted path → nodes. */
export type MonitorSnapshot = Record<string, MetricNode[]>;

/** Fetches the JSON view; throws with the status and body on anything but a 200. */
export async function monitorJson(monitorUrl: string, timeoutMs = 5000): Promise<MonitorSnapshot> {
  const response = await fetch(`${monitorUrl}/service/monitor?format=json`, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET /service/monitor answered ${response.status}: ${text.slice(0, 200)}`);
  return JSON.parse(text) as MonitorSnapshot;
}

/** The unlabelled numeric value at `path`, or undefined when the view has none. */
export function metricValue(snapshot: MonitorSnapshot, path: string, labels: Record<string, string> = {}): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  const node = snapshot[path]?.find((n) => JSON.stringify(Object.entries(n.labels ?? {}).sort()) === want);
  return typeof node?.value === 'number' ? node.value : undefined;
}

/** The connection counters of the contract, read from one snapshot (so they are mutually consistent). */
export interface EchoCounters {
  readonly opened: number;
  readonly closed: number;
  readonly active: number;
}

/** Reads opened/closed/active from one JSON snapshot; throws naming any metric that is missing. */
export async function echoCounters(monitorUrl: string): Promise<EchoCounters> {
  const snapshot = await monitorJson(monitorUrl);
  const read = (path: string): number => {
    const value = metricValue(snapshot, path);
    if (value === undefined) throw new Error(`the monitor JSON has no unlabelled numeric ${path}`);
    return value;
  };
  return {
    opened: read('tcp-echo.sockets.opened'),
    closed: read('tcp-echo.sockets.closed'),
    active: read('tcp-echo.sockets.active'),
  };
}

/** What a raw HTTP exchange produced. */
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

/** True when `text` looks like it carries a JavaScript stack trace or an internal error name. */
export function looksLikeStackTrace(text: string): boolean {
  return /\n\s+at [^\n]+:\d+:\d+/.test(text) || /\bat (?:async )?[\w.<>]+ \((?:file|node):/.test(text) || /node:internal/.test(text);
}
