/**
 * The monitor's HTTP front, run in a worker thread by the `server` component (server-component.ts):
 * the listening socket, node:http's parsing, the hardening bounds (header size and count, header
 * and request timeouts, connection caps, body size), routing, and the 4xx answers it can give
 * alone. A request whose route exists is passed to the main thread with its body read; the
 * handler's answer comes back and is written here.
 *
 * Why a thread: V8 keeps one set of type feedback per isolate. With HTTP sockets, requests and
 * responses in the echo's isolate, Node's stream code that every echo socket runs sees more
 * kinds of object and turns generic; a bare echo scraped once a second costs 8% more per
 * connection, 1.8% with the scrape served from a thread (docs/benchmarks.md, "Tenth pass").
 */
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { ListenError, HttpMethodNotAllowedError, HttpNotFoundError, errorMessage } from '../errors.js';
import { listen } from '../net/listen.js';
import { applyConnectionCap } from './connection-cap.js';
import { responseForError, type HttpResponse } from './http.js';
import type { FromHttpThread, HttpThreadData, ToHttpThread } from './http-thread-protocol.js';
import { decodeParams, hasBody, parseTarget, readBody, type RequestTarget } from './request.js';
import { Router } from './router.js';

/** How long stop lets in-flight requests finish before it closes every connection. */
const STOP_GRACE_MS = 1000;

if (parentPort === null) throw new Error('http-thread.ts runs as a worker thread of the server component');
const port = parentPort;
const { config, routes, portKey, component } = workerData as HttpThreadData;

const post = (message: FromHttpThread): void => port.postMessage(message);
const log = (level: 'warning' | 'error', text: string, fields: Record<string, string>): void => post({ kind: 'log', level, text, fields });

const router = new Router<number>();
routes.forEach((spec, index) => router.add(spec, index));
let routeCount = routes.length;

/** Requests waiting for the main thread's answer, by id. */
const waiting = new Map<number, (answer: HttpResponse) => void>();
let nextId = 0;

// Node checks header/request timeouts on this interval (30 s by default, which would let a
// slowloris client hold a connection for up to 30 s past its deadline).
const checkingInterval = Math.max(50, Math.min(1000, Math.floor(config.headers_timeout / 2)));
const server = createServer(
  {
    maxHeaderSize: config.max_header_size,
    headersTimeout: config.headers_timeout,
    requestTimeout: config.request_timeout,
    keepAliveTimeout: config.keepalive_timeout,
    connectionsCheckingInterval: checkingInterval,
  },
  (req, res) => onRequest(req, res),
);
server.maxHeadersCount = config.max_headers_count;
// Not server.maxConnections: it refuses the newcomer, so a crowd of slow clients locks probes out.
applyConnectionCap(server, { max: config.max_connections, perAddress: config.max_connections_per_address });
server.on('clientError', onClientError);

port.on('message', (message: ToHttpThread) => {
  if (message.kind === 'answer') {
    const resolve = waiting.get(message.id);
    waiting.delete(message.id);
    resolve?.({ status: message.status, ...(message.headers ? { headers: message.headers } : {}), body: message.body instanceof Uint8Array ? Buffer.from(message.body) : message.body });
  } else if (message.kind === 'route') {
    // Checked on the main thread already (conflicts, templates): the same table, one route longer.
    router.add(message.spec, routeCount++);
  } else if (message.kind === 'stop') {
    void stop();
  }
});

listen(server, { address: config.address, port: config.port, backlog: config.backlog }, { component, portKey }).then(
  (bound) => {
    // A listening server's later errors (EMFILE on accept) must be logged, not end the thread.
    server.on('error', (error) => log('error', 'monitor listener error', { error: error.message }));
    post({ kind: 'listening', address: bound.address, port: bound.port });
  },
  (error: unknown) => {
    const cause = error instanceof ListenError ? (error.cause as NodeJS.ErrnoException | undefined) : undefined;
    post({ kind: 'listen-failed', message: errorMessage(error), causeCode: cause?.code });
    port.close();
  },
);

async function stop(): Promise<void> {
  if (server.listening) {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const grace = setTimeout(() => server.closeAllConnections(), STOP_GRACE_MS);
    await closed;
    clearTimeout(grace);
  }
  post({ kind: 'stopped' });
  // Nothing else keeps the thread alive: it ends once the port is closed.
  port.close();
}

function onClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  // Malformed or oversized requests and timeouts: answer with a bare status line when the socket
  // can still take it, never with details of the parser's state.
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function onRequest(req: IncomingMessage, res: ServerResponse): void {
  handle(req, res).catch((error: unknown) => {
    // handle() answers every error itself; reaching here means the response could not be written.
    log('warning', 'monitor response failed', { error: errorMessage(error) });
    res.destroy();
  });
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  // An aborted request must never surface as an unhandled 'error' event.
  req.on('error', ignore);
  const method = req.method ?? 'GET';
  let url: RequestTarget;
  try {
    url = parseTarget(req.url ?? '');
  } catch (error) {
    req.resume();
    return send(req, res, responseForError(error));
  }
  const match = router.match(method, url.pathname);
  if (match.kind === 'not-found') {
    req.resume();
    return send(req, res, responseForError(new HttpNotFoundError(`no handler for ${url.pathname}`)));
  }
  if (match.kind === 'method-not-allowed') {
    req.resume();
    const answer = responseForError(
      new HttpMethodNotAllowedError(`${method} is not allowed on ${url.pathname}; allowed: ${match.allow.join(', ')}`),
    );
    return send(req, res, { ...answer, headers: { ...answer.headers, allow: match.allow.join(', ') } });
  }
  let body: Buffer;
  let pathParams: Record<string, string>;
  try {
    pathParams = decodeParams(match.params);
    body = await readBody(req, config.max_body_size);
  } catch (error) {
    return send(req, res, responseForError(error), true);
  }
  const id = nextId++;
  const answered = new Promise<HttpResponse>((resolve) => waiting.set(id, resolve));
  post({
    kind: 'request',
    id,
    route: match.handler,
    method,
    path: url.pathname,
    query: url.query.toString(),
    pathParams,
    headers: req.headers,
    body,
  });
  send(req, res, await answered);
}

function send(req: IncomingMessage, res: ServerResponse, answer: HttpResponse, close = false): void {
  if (res.headersSent || res.destroyed) return;
  const body = typeof answer.body === 'string' ? Buffer.from(answer.body, 'utf8') : answer.body;
  res.statusCode = answer.status;
  for (const [name, value] of Object.entries(answer.headers ?? {})) res.setHeader(name, value);
  if (!res.hasHeader('content-type')) res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.setHeader('content-length', body.length);
  // A body we refused to read is still in flight: close rather than parse it as the next request.
  if (close || (!req.complete && hasBody(req))) res.setHeader('connection', 'close');
  res.end(body);
}

function ignore(): void {}
