/**
 * Reading a running service from outside, for every suite: the userver JSON view of
 * `/service/monitor` (one metric reader: the caller says whether labels match exactly or as a
 * subset), a sample of the Prometheus text, the echo's connection counters, and a stack-trace
 * detector for what the service answers or prints (raw requests: test/helpers/raw-http.ts).
 */
import { waitFor } from './echo-client.js';

/** One node of the userver JSON view. */
export interface MetricNode {
  readonly value: unknown;
  readonly labels: Record<string, string>;
  readonly type: string;
}

/** The whole JSON view: dotted path → nodes. */
export type MonitorSnapshot = Record<string, MetricNode[]>;

/** How a node's labels must match the wanted ones: exactly the same set, or carrying at least those. */
export type LabelMatch = 'exact' | 'subset';

/** Where a service's monitor listens. */
export interface MonitorTarget {
  readonly monitorUrl: string;
}

/** Fetches the JSON view (with an optional `query`, e.g. `path=…`); throws with the status and body on anything but a 200. */
export async function monitorJson(monitorUrl: string, query = '', timeoutMs = 30_000): Promise<MonitorSnapshot> {
  const response = await fetch(`${monitorUrl}/service/monitor?format=json${query ? `&${query}` : ''}`, {
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET /service/monitor answered ${response.status}: ${text.slice(0, 200)}`);
  return JSON.parse(text) as MonitorSnapshot;
}

/** The node at `path` whose labels match `labels`, or undefined. */
export function metricNode(snapshot: MonitorSnapshot, path: string, labels: Record<string, string>, match: LabelMatch): MetricNode | undefined {
  const wanted = Object.entries(labels);
  return snapshot[path]?.find((n) => {
    const own = n.labels ?? {};
    if (match === 'exact' && Object.keys(own).length !== wanted.length) return false;
    return wanted.every(([k, v]) => own[k] === v);
  });
}

/** The numeric value at `path` with `labels`, or undefined when the view has none. */
export function metricValue(snapshot: MonitorSnapshot, path: string, labels: Record<string, string>, match: LabelMatch): number | undefined {
  const value = metricNode(snapshot, path, labels, match)?.value;
  return typeof value === 'number' ? value : undefined;
}

/** One numeric metric read now from the service; throws naming the metric when it is missing. */
export async function metric(service: MonitorTarget, path: string, labels: Record<string, string>, match: LabelMatch): Promise<number> {
  const snapshot = await monitorJson(service.monitorUrl, `path=${encodeURIComponent(path)}`);
  const value = metricValue(snapshot, path, labels, match);
  if (value === undefined) throw new Error(`metric ${path} ${JSON.stringify(labels)} (${match}) not in ${JSON.stringify(snapshot)}`);
  return value;
}

/** Polls a metric until `accept` holds (at most `timeoutMs`, generous: it returns as soon as it holds); returns the last value read. */
export async function metricUntil(
  service: MonitorTarget,
  path: string,
  labels: Record<string, string>,
  match: LabelMatch,
  accept: (value: number) => boolean,
  timeoutMs = 60_000,
): Promise<number> {
  let value = Number.NaN;
  await waitFor(async () => accept((value = await metric(service, path, labels, match))), timeoutMs);
  return value;
}

/** The value of one Prometheus series (`name` or `name{label="v",...}` exactly as exposed), or undefined. */
export function promSample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
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
    const value = metricValue(snapshot, path, {}, 'exact');
    if (value === undefined) throw new Error(`the monitor JSON has no unlabelled numeric ${path}`);
    return value;
  };
  return {
    opened: read('tcp-echo.sockets.opened'),
    closed: read('tcp-echo.sockets.closed'),
    active: read('tcp-echo.sockets.active'),
  };
}

/** True when `text` looks like it carries a JavaScript stack trace or an internal error name. */
export function looksLikeStackTrace(text: string): boolean {
  return /\n\s+at [^\n]+:\d+:\d+/.test(text) || /\bat (?:async )?[\w.<>]+ \((?:file|node):/.test(text) || /node:internal/.test(text);
}
