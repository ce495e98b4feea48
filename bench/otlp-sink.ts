/**
 * A minimal local OTLP/HTTP receiver for the traced benchmark modes: accepts `POST /v1/traces`,
 * answers 200 `{}` (an OTLP success with no partial rejection), and counts requests, bytes and
 * spans; `GET /stats` returns the counts as JSON. It stands in for a collector so export cost is
 * real (serialisation, HTTP) while the sink itself stays cheap: spans are counted by scanning for
 * the `"spanId"` key (JSON encoding), never by parsing.
 * Usage: `node otlp-sink.js [port]`; prints `listening <port>` once bound to 127.0.0.1.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the sink has received so far. */
export interface SinkStats {
  requests: number;
  bytes: number;
  /** Spans in JSON-encoded requests. */
  spans: number;
  /** Requests that were not JSON (protobuf): counted, spans not. */
  nonJsonRequests: number;
}

const stats: SinkStats = { requests: 0, bytes: 0, spans: 0, nonJsonRequests: 0 };
const SPAN_KEY = Buffer.from('"spanId"');

function countSpans(body: Buffer): number {
  let n = 0;
  for (let i = body.indexOf(SPAN_KEY); i !== -1; i = body.indexOf(SPAN_KEY, i + SPAN_KEY.length)) n++;
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
    if ((request.headers['content-type'] ?? '').includes('json')) stats.spans += countSpans(body);
    else stats.nonJsonRequests++;
    response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
