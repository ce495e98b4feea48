/**
 * Reading the service from outside for the fault suite and the soak: the echo counters from
 * `GET /service/monitor?format=json` (the contract's userver JSON), and a stack-trace detector for
 * what the monitor answers (raw requests: test/helpers/raw-http.ts).
 */

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
/** True when `text` looks like it carries a JavaScript stack trace or an internal error name. */
export function looksLikeStackTrace(text: string): boolean {
  return /\n\s+at [^\n]+:\d+:\d+/.test(text) || /\bat (?:async )?[\w.<>]+ \((?:file|node):/.test(text) || /node:internal/.test(text);
}
