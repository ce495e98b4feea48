/**
 * An in-test OTLP/HTTP trace receiver: a real HTTP server on loopback that decodes what
 * `@opentelemetry/exporter-trace-otlp-http` sends (OTLP JSON, optionally gzip-compressed) into
 * flat span records, and can be told to answer slowly or with an error status (a bad collector).
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

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

/** How the receiver answers export requests. */
export interface ReceiverBehaviour {
  /** HTTP status to answer with. @default 200 */
  readonly status?: number;
  /** Wait this long before answering (a slow collector). @default 0 */
  readonly delayMs?: number;
  /** Decode and record spans; false answers without parsing (a cheap sink for load tests). @default true */
  readonly record?: boolean;
}

/** Kinds as OTLP numbers them. */
export const SPAN_KIND = { internal: 1, server: 2, client: 3 } as const;

/** A running receiver. */
export interface OtlpReceiver {
  /** `http://127.0.0.1:<port>`: the value for `OTEL_EXPORTER_OTLP_ENDPOINT` or the tracer's `endpoint`. */
  readonly url: string;
  /** `<url>/v1/traces`: the value for `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`. */
  readonly tracesUrl: string;
  /** Spans received and answered with 2xx, in arrival order. */
  readonly spans: readonly ReceivedSpan[];
  /** Export requests received (any answer). */
  requests(): number;
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

/** Starts a receiver on a free loopback port. */
export async function startOtlpReceiver(behaviour: ReceiverBehaviour = {}): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const waiters = new Set<() => void>();
  let current = behaviour;
  let requests = 0;
  let malformed = 0;
  let lastHeaders: http.IncomingHttpHeaders | undefined;

  const server = http.createServer((request, response) => {
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
        if (request.method !== 'POST' || request.url !== '/v1/traces') {
          response.writeHead(404).end();
          return;
        }
        let decoded: ReceivedSpan[];
        try {
          decoded = record ? decode(Buffer.concat(chunks), request.headers) : [];
        } catch (error) {
          malformed++;
          response.writeHead(400, { 'content-type': 'text/plain' }).end(String(error));
          return;
        }
        if (status >= 200 && status < 300) {
          spans.push(...decoded);
          for (const wake of [...waiters]) wake();
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
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  let closing: Promise<void> | undefined;

  return {
    url,
    tracesUrl: `${url}/v1/traces`,
    spans,
    requests: () => requests,
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

function decode(body: Buffer, headers: http.IncomingHttpHeaders): ReceivedSpan[] {
  const type = headers['content-type'] ?? '';
  if (!type.startsWith('application/json')) throw new Error(`expected application/json, got ${type}`);
  const raw = headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
  const request = JSON.parse(raw.toString('utf8')) as { resourceSpans?: Json[] };
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
