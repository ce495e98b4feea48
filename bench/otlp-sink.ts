/**
 * A minimal local OTLP/HTTP receiver for the traced benchmark modes: accepts `POST /v1/traces`,
 * answers 200 `{}` (an OTLP success with no partial rejection), and counts requests, bytes and
 * spans; `GET /stats` returns the counts as JSON. It stands in for a collector so export cost is
 * real (serialisation, HTTP) while the sink itself stays cheap: spans are counted without decoding,
 * by scanning for the `"spanId"` key (http/json) or by walking the length-delimited fields down to
 * ResourceSpans.scope_spans.spans (http/protobuf, the default protocol).
 * Usage: `node otlp-sink.js [port]`; prints `listening <port>` once bound to 127.0.0.1.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the sink has received so far. */
export interface SinkStats {
  requests: number;
  bytes: number;
  /** Spans received, in either encoding. */
  spans: number;
  /** Requests that were protobuf-encoded (the rest were JSON). */
  protobufRequests: number;
}

const stats: SinkStats = { requests: 0, bytes: 0, spans: 0, protobufRequests: 0 };
const SPAN_KEY = Buffer.from('"spanId"');

function countSpans(body: Buffer): number {
  let n = 0;
  for (let i = body.indexOf(SPAN_KEY); i !== -1; i = body.indexOf(SPAN_KEY, i + SPAN_KEY.length)) n++;
  return n;
}

/** Reads a protobuf varint at `at`; returns [value, next offset]. Lengths here fit in 2^53. */
function varint(body: Buffer, at: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (;;) {
    const byte = body[at++];
    if (byte === undefined) throw new RangeError('truncated varint');
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, at];
    scale *= 128;
  }
}

/**
 * Calls `each(start, end)` for every length-delimited field numbered `field` in body[from, to),
 * skipping the others by wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32).
 */
function forEachField(body: Buffer, from: number, to: number, field: number, each: (start: number, end: number) => void): void {
  for (let at = from; at < to; ) {
    let key: number;
    [key, at] = varint(body, at);
    const wire = key & 7;
    if (wire === 0) [, at] = varint(body, at);
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      let length: number;
      [length, at] = varint(body, at);
      if (key >>> 3 === field) each(at, at + length);
      at += length;
    } else throw new RangeError(`unexpected wire type ${wire}`);
  }
}

/** ExportTraceServiceRequest: resource_spans = 1; ResourceSpans.scope_spans = 2; ScopeSpans.spans = 2. */
function countProtobufSpans(body: Buffer): number {
  let n = 0;
  forEachField(body, 0, body.length, 1, (rs, rsEnd) =>
    forEachField(body, rs, rsEnd, 2, (ss, ssEnd) => forEachField(body, ss, ssEnd, 2, () => n++)),
  );
  return n;
}

const server = http.createServer((request, response) => {
  if (request.method === 'GET' && request.url === '/stats') {
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats));
    return;
  }
  if (request.method !== 'POST' || request.url !== '/v1/traces') {
    response.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('error', () => response.destroy());
  request.on('end', () => {
    const body = Buffer.concat(chunks);
    stats.requests++;
    stats.bytes += body.length;
    if ((request.headers['content-type'] ?? '').includes('json')) {
      stats.spans += countSpans(body);
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    } else {
      stats.protobufRequests++;
      stats.spans += countProtobufSpans(body);
      // As a collector answers: an empty ExportTraceServiceResponse (no partial_success) is zero
      // bytes. A JSON `{}` here made the exporter decode two bytes of garbage as protobuf per batch.
      response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    }
  });
});
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
