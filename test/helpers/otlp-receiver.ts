/**
 * An in-test OTLP/HTTP receiver: a real HTTP server on loopback that decodes what the OTLP/HTTP
 * exporters send to `/v1/traces` and `/v1/metrics` — OTLP JSON (`application/json`) or protobuf
 * (`application/x-protobuf`, decoded with the OTLP message definitions in otlp-proto.ts),
 * optionally gzip-compressed — into flat span and metric records, and can be told to answer
 * slowly or with an error status (a bad collector).
 */
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { decodeMetricsRequest, decodeTraceRequest } from './otlp-proto.js';

/** An attribute value as decoded from OTLP JSON (`intValue` becomes a number). */
export type AttrValue = string | number | boolean | null | AttrValue[];

/** One received span. Ids are lowercase hex. */
export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** Absent for a root span. */
  readonly parentSpanId: string | undefined;
  readonly name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  readonly kind: number;
  readonly startTimeUnixNano: bigint;
  readonly endTimeUnixNano: bigint;
  readonly attributes: Readonly<Record<string, AttrValue>>;
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  readonly status: { readonly code: number; readonly message: string | undefined };
  /** Attributes of the resource the span came with (service.name, ...). */
  readonly resource: Readonly<Record<string, AttrValue>>;
  readonly scope: string;
}

/** OTLP AggregationTemporality. */
export const TEMPORALITY = { unspecified: 0, delta: 1, cumulative: 2 } as const;

/** One data point of a received metric (a number, or a histogram's count/sum/buckets). */
export interface ReceivedPoint {
  readonly attributes: Readonly<Record<string, AttrValue>>;
  readonly startTimeUnixNano: bigint;
  readonly timeUnixNano: bigint;
  /** Sum and gauge points. */
  readonly value?: number;
  /** Histogram points. */
  readonly count?: number;
  readonly sum?: number;
  readonly bucketCounts?: readonly number[];
  readonly explicitBounds?: readonly number[];
}

/** One metric of one export request. */
export interface ReceivedMetric {
  readonly name: string;
  readonly kind: 'sum' | 'gauge' | 'histogram';
  /** Sums and histograms: TEMPORALITY.delta or .cumulative. */
  readonly temporality: number | undefined;
  readonly isMonotonic: boolean | undefined;
  readonly points: readonly ReceivedPoint[];
  readonly resource: Readonly<Record<string, AttrValue>>;
  readonly scope: string;
  /** Which export request (0-based, counting only metrics requests) it came with. */
  readonly request: number;
}

/** The body encodings the receiver accepts. */
export type OtlpEncoding = 'json' | 'protobuf';

/** How the receiver answers export requests. */
export interface ReceiverBehaviour {
  /** HTTP status to answer with. @default 200 */
  readonly status?: number;
  /** Wait this long before answering (a slow collector). @default 0 */
  readonly delayMs?: number;
  /** Decode and record spans; false answers without parsing (a cheap sink for load tests). @default true */
  readonly record?: boolean;
}

/** How the receiver listens: plain HTTP, or HTTPS with this key and certificate (PEM). */
export interface ReceiverListen {
  readonly tls?: { readonly key: string | Buffer; readonly cert: string | Buffer };
}

/** Kinds as OTLP numbers them. */
export const SPAN_KIND = { internal: 1, server: 2, client: 3 } as const;

/** A running receiver. */
export interface OtlpReceiver {
  /** `http://127.0.0.1:<port>` (`https:` with TLS): the value for `OTEL_EXPORTER_OTLP_ENDPOINT` or the tracer's `endpoint`. */
  readonly url: string;
  /** `<url>/v1/traces`: the value for `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`. */
  readonly tracesUrl: string;
  /** `<url>/v1/metrics`: the value for `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`. */
  readonly metricsUrl: string;
  /** Spans received and answered with 2xx, in arrival order. */
  readonly spans: readonly ReceivedSpan[];
  /** Metrics received and answered with 2xx, in arrival order (one entry per metric per request). */
  readonly metrics: readonly ReceivedMetric[];
  /** The encoding of each decoded request, per path (`/v1/traces`, `/v1/metrics`). */
  encodings(path: '/v1/traces' | '/v1/metrics'): readonly OtlpEncoding[];
  /** Resolves once `predicate(metrics)` holds; rejects after `timeoutMs` with what arrived. */
  waitForMetrics(predicate: (metrics: readonly ReceivedMetric[]) => boolean, timeoutMs?: number): Promise<readonly ReceivedMetric[]>;
  /** Export requests received (any answer). */
  requests(): number;
  /** TCP connections accepted (an exporter that keeps its connection open makes one for many requests). */
  connections(): number;
  /** Requests whose body could not be decoded (answered 400). */
  malformed(): number;
  /** Headers of the latest export request (lowercase names), `undefined` before the first. */
  lastHeaders(): http.IncomingHttpHeaders | undefined;
  /** Changes how later requests are answered. */
  setBehaviour(behaviour: ReceiverBehaviour): void;
  /** Resolves with `spans` once `predicate(spans)` holds; rejects after `timeoutMs` with what arrived. */
  waitFor(predicate: (spans: readonly ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<readonly ReceivedSpan[]>;
  /** Stops listening and destroys open connections (pending slow answers included). Safe twice. */
  close(): Promise<void>;
}

/** google.rpc.Status { code: 13 (field 1, varint), message: "receiver told to fail" (field 2) } in protobuf. */
const PROTOBUF_UNAVAILABLE_STATUS = Buffer.concat([
  Buffer.from([0x08, 13, 0x12, 'receiver told to fail'.length]),
  Buffer.from('receiver told to fail'),
]);

/** A receiver for test `t`, closed when `t` ends. */
export async function otlpReceiverFor(t: TestContext, behaviour: ReceiverBehaviour = {}, listen: ReceiverListen = {}): Promise<OtlpReceiver> {
  const receiver = await startOtlpReceiver(behaviour, listen);
  t.after(() => receiver.close());
  return receiver;
}

/** Starts a receiver on a free loopback port. */
export async function startOtlpReceiver(behaviour: ReceiverBehaviour = {}, listen: ReceiverListen = {}): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const metrics: ReceivedMetric[] = [];
  const encodings = { '/v1/traces': [] as OtlpEncoding[], '/v1/metrics': [] as OtlpEncoding[] };
  let metricRequests = 0;
  const timers = new Set<NodeJS.Timeout>();
  const waiters = new Set<() => void>();
  let current = behaviour;
  let requests = 0;
  let connections = 0;
  let malformed = 0;
  let lastHeaders: http.IncomingHttpHeaders | undefined;

  const handler: http.RequestListener = (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('error', () => {});
    response.on('error', () => {});
    request.on('end', () => {
      requests++;
      lastHeaders = request.headers;
      const { status = 200, delayMs = 0, record = true } = current;
      const answer = (): void => {
        if (response.destroyed) return;
        const path = request.url;
        if (request.method !== 'POST' || (path !== '/v1/traces' && path !== '/v1/metrics')) {
          response.writeHead(404).end();
          return;
        }
        let decoded: { encoding: OtlpEncoding; body: Json } | undefined;
        try {
          decoded = record ? decodeBody(Buffer.concat(chunks), request.headers, path) : undefined;
        } catch (error) {
          malformed++;
          response.writeHead(400, { 'content-type': 'text/plain' }).end(String(error));
          return;
        }
        if (status >= 200 && status < 300 && decoded) {
          encodings[path].push(decoded.encoding);
          if (path === '/v1/traces') spans.push(...spansOf(decoded.body));
          else metrics.push(...metricsOf(decoded.body, metricRequests++));
          for (const wake of [...waiters]) wake();
        }
        // Answered in the request's encoding, as OTLP/HTTP requires: an empty Export*ServiceResponse
        // (or google.rpc.Status) is zero bytes in protobuf, `{}` in JSON.
        if ((request.headers['content-type'] ?? '').startsWith('application/x-protobuf')) {
          response.writeHead(status, { 'content-type': 'application/x-protobuf' });
          response.end(status < 300 ? Buffer.alloc(0) : PROTOBUF_UNAVAILABLE_STATUS);
          return;
        }
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(status < 300 ? '{}' : '{"code":13,"message":"receiver told to fail"}');
      };
      if (delayMs <= 0) answer();
      else {
        const timer = setTimeout(() => {
          timers.delete(timer);
          answer();
        }, delayMs);
        timers.add(timer);
      }
    });
  };
  const server = listen.tls ? https.createServer({ key: listen.tls.key, cert: listen.tls.cert }, handler) : http.createServer(handler);
  server.on(listen.tls ? 'secureConnection' : 'connection', () => connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const url = `${listen.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  let closing: Promise<void> | undefined;

  const waitUntil = <T>(items: readonly T[], predicate: (items: readonly T[]) => boolean, timeoutMs: number, what: () => string) =>
    new Promise<readonly T[]>((resolve, reject) => {
      const check = (): boolean => {
        if (!predicate(items)) return false;
        clearTimeout(timer);
        waiters.delete(wake);
        resolve(items);
        return true;
      };
      const wake = (): void => void check();
      const timer = setTimeout(() => {
        waiters.delete(wake);
        reject(new Error(`OTLP receiver: condition not met after ${timeoutMs} ms; ${what()}`));
      }, timeoutMs);
      waiters.add(wake);
      check();
    });

  return {
    url,
    tracesUrl: `${url}/v1/traces`,
    metricsUrl: `${url}/v1/metrics`,
    spans,
    metrics,
    encodings: (path) => encodings[path],
    waitForMetrics: (predicate, timeoutMs = 10_000) =>
      waitUntil(metrics, predicate, timeoutMs, () => `${metricRequests} metrics requests: ${[...new Set(metrics.map((m) => m.name))].join(' ')}`),
    requests: () => requests,
    connections: () => connections,
    malformed: () => malformed,
    lastHeaders: () => lastHeaders,
    setBehaviour(next) {
      current = next;
    },
    waitFor(predicate, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          if (!predicate(spans)) return false;
          clearTimeout(timer);
          waiters.delete(wake);
          resolve(spans);
          return true;
        };
        const wake = (): void => void check();
        const timer = setTimeout(() => {
          waiters.delete(wake);
          reject(new Error(`OTLP receiver: condition not met after ${timeoutMs} ms; ${spans.length} spans received: ${summary(spans)}`));
        }, timeoutMs);
        waiters.add(wake);
        check();
      });
    },
    close() {
      closing ??= (async () => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close();
        server.closeAllConnections();
        if (server.listening) await once(server, 'close');
      })();
      return closing;
    },
  };
}

/** Groups spans by trace id. */
export function byTrace(spans: readonly ReceivedSpan[]): Map<string, ReceivedSpan[]> {
  const traces = new Map<string, ReceivedSpan[]>();
  for (const span of spans) {
    const list = traces.get(span.traceId);
    if (list) list.push(span);
    else traces.set(span.traceId, [span]);
  }
  return traces;
}

/** A short listing for failure messages. */
export function summary(spans: readonly ReceivedSpan[]): string {
  return spans
    .slice(0, 20)
    .map((s) => `${s.name}(${s.traceId.slice(0, 8)}/${s.spanId.slice(0, 8)}<-${s.parentSpanId?.slice(0, 8) ?? '-'})`)
    .join(' ');
}

type Json = Record<string, unknown>;

function decodeBody(body: Buffer, headers: http.IncomingHttpHeaders, path: '/v1/traces' | '/v1/metrics'): { encoding: OtlpEncoding; body: Json } {
  const type = headers['content-type'] ?? '';
  const raw = headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
  if (type.startsWith('application/json')) return { encoding: 'json', body: JSON.parse(raw.toString('utf8')) as Json };
  if (type.startsWith('application/x-protobuf')) {
    return { encoding: 'protobuf', body: path === '/v1/traces' ? decodeTraceRequest(raw) : decodeMetricsRequest(raw) };
  }
  throw new Error(`expected application/json or application/x-protobuf, got ${type}`);
}

function spansOf(request: { resourceSpans?: Json[] }): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of request.resourceSpans ?? []) {
    const resource = attributes((rs.resource as Json | undefined)?.attributes);
    for (const ss of (rs.scopeSpans as Json[] | undefined) ?? []) {
      const scope = String((ss.scope as Json | undefined)?.name ?? '');
      for (const s of (ss.spans as Json[] | undefined) ?? []) {
        const status = (s.status as Json | undefined) ?? {};
        out.push({
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: s.parentSpanId ? hex(s.parentSpanId) : undefined,
          name: String(s.name),
          kind: Number(s.kind ?? 0),
          startTimeUnixNano: BigInt(String(s.startTimeUnixNano)),
          endTimeUnixNano: BigInt(String(s.endTimeUnixNano)),
          attributes: attributes(s.attributes),
          status: { code: Number(status.code ?? 0), message: status.message === undefined ? undefined : String(status.message) },
          resource,
          scope,
        });
      }
    }
  }
  return out;
}

function metricsOf(request: { resourceMetrics?: Json[] }, index: number): ReceivedMetric[] {
  const out: ReceivedMetric[] = [];
  for (const rm of request.resourceMetrics ?? []) {
    const resource = attributes((rm.resource as Json | undefined)?.attributes);
    for (const sm of (rm.scopeMetrics as Json[] | undefined) ?? []) {
      const scope = String((sm.scope as Json | undefined)?.name ?? '');
      for (const m of (sm.metrics as Json[] | undefined) ?? []) {
        const kind = m.sum ? 'sum' : m.gauge ? 'gauge' : m.histogram ? 'histogram' : undefined;
        if (kind === undefined) continue;
        const data = m[kind] as Json;
        const points = ((data.dataPoints as Json[] | undefined) ?? []).map((p): ReceivedPoint => {
          const common = {
            attributes: attributes(p.attributes),
            startTimeUnixNano: BigInt(String(p.startTimeUnixNano ?? 0)),
            timeUnixNano: BigInt(String(p.timeUnixNano ?? 0)),
          };
          if (kind !== 'histogram') return { ...common, value: Number(p.asInt ?? p.asDouble ?? 0) };
          return {
            ...common,
            count: Number(p.count ?? 0),
            sum: Number(p.sum ?? 0),
            bucketCounts: ((p.bucketCounts as unknown[] | undefined) ?? []).map(Number),
            explicitBounds: ((p.explicitBounds as unknown[] | undefined) ?? []).map(Number),
          };
        });
        out.push({
          name: String(m.name),
          kind,
          temporality: data.aggregationTemporality === undefined ? undefined : Number(data.aggregationTemporality),
          isMonotonic: data.isMonotonic === undefined ? (kind === 'sum' ? false : undefined) : Boolean(data.isMonotonic),
          points,
          resource,
          scope,
          request: index,
        });
      }
    }
  }
  return out;
}

function hex(value: unknown): string {
  const text = String(value);
  // The JSON serializer writes ids as hex; base64 (the proto3 JSON default) is accepted too.
  return /^[0-9a-f]+$/i.test(text) ? text.toLowerCase() : Buffer.from(text, 'base64').toString('hex');
}

function attributes(list: unknown): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const kv of (list as Json[] | undefined) ?? []) out[String(kv.key)] = anyValue(kv.value as Json | undefined);
  return out;
}

function anyValue(v: Json | undefined): AttrValue {
  if (!v) return null;
  if ('stringValue' in v) return String(v.stringValue);
  if ('boolValue' in v) return Boolean(v.boolValue);
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('arrayValue' in v) return (((v.arrayValue as Json).values as Json[] | undefined) ?? []).map(anyValue);
  return null;
}
