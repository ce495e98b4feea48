/**
 * A misbehaving OTLP/HTTP collector for the telemetry fault tests: a real HTTP server on loopback
 * that accepts `POST /v1/traces` and answers as told — at once with 200, with a 500, or only after
 * a delay (a slow collector). It counts requests and bytes so a test can see the exporter tried.
 * `downCollectorUrl()` gives the address of a port with nothing listening (a collector that is down).
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort } from './service.js';

/** How the collector answers. */
export type CollectorMode = { kind: 'ok' } | { kind: 'status'; status: number } | { kind: 'slow'; delayMs: number };

/** A running fake collector. */
export interface FaultyCollector {
  /** `http://127.0.0.1:<port>`: the value for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  readonly url: string;
  /** Export requests received so far (bodies fully read). */
  requests(): number;
  /** Body bytes received so far. */
  bytes(): number;
  /** Stops listening and destroys open connections (pending slow answers included). Safe twice. */
  close(): Promise<void>;
}

/** Starts a collector on a free loopback port answering per `mode`. */
export async function startFaultyCollector(mode: CollectorMode): Promise<FaultyCollector> {
  let requests = 0;
  let bytes = 0;
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((request, response) => {
    request.on('data', (chunk: Buffer) => (bytes += chunk.length));
    request.on('error', () => {});
    response.on('error', () => {});
    request.on('end', () => {
      requests++;
      const answer = (status: number): void => {
        if (response.destroyed) return;
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(status === 200 ? '{}' : '{"code":13,"message":"injected failure"}');
      };
      if (mode.kind === 'ok') answer(200);
      else if (mode.kind === 'status') answer(mode.status);
      else {
        const timer = setTimeout(() => {
          timers.delete(timer);
          answer(200);
        }, mode.delayMs);
        timers.add(timer);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => requests,
    bytes: () => bytes,
    close() {
      closing ??= (async () => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.closeAllConnections();
        server.close();
        await once(server, 'close');
      })();
      return closing;
    },
  };
}

/** The URL of a loopback port nobody listens on: connections to it are refused. */
export async function downCollectorUrl(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`;
}
