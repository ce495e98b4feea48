/**
 * `server` (userver's `server` component, HTTP part): the node:http listener that serves the monitor
 * handlers (`/service/monitor`, `/metrics`, `/ping`, `/tests/{action}`). Hardened for a port that
 * may face the network: bounded header size and count, request and header timeouts (slowloris), a
 * cap on concurrent connections, bounded bodies, and no stack trace in any response.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { defineComponent, type Component, type ComponentContext } from '../components/component.js';
import {
  duration,
  integer,
  object,
  optional,
  size,
  string,
  type Infer,
} from '../config/schema.js';
import { ConfigValueError, EchoError, errorMessage, HttpMethodNotAllowedError, HttpNotFoundError } from '../errors.js';
import { getLogger } from '../log/index.js';
import { applyConnectionCap } from './connection-cap.js';
import { formatAddress, listen } from '../net/listen.js';
import { responseForError, type HttpHandler, type HttpRequest, type HttpResponse, type RouteSpec } from './http.js';
import { decodeParams, hasBody, parseTarget, readBody, type RequestTarget } from './request.js';
import { Router } from './router.js';

const COMPONENT = 'server';
const PORT_KEY = `components_manager.components.${COMPONENT}.listener.port`;

/** Schema of `server.listener`. */
export const listenerSchema = object({
  description: 'The HTTP listener of the monitor handlers (userver: server.listener).',
  properties: {
    port: integer({ description: 'TCP port to listen on (0: any free port, logged at start)', minimum: 0, maximum: 65535 }),
    address: string({
      description:
        'Address to bind. Defaults to loopback because the monitor serves tests-control; ' +
        'set 0.0.0.0 or :: to let Prometheus on another host scrape it',
      default: '127.0.0.1',
    }),
    backlog: integer({ description: 'Listen backlog (pending connections the kernel queues)', default: 511, minimum: 1, maximum: 65535 }),
    max_connections: integer({
      description:
        'Cap on concurrent monitor connections; beyond it the connection waiting longest without a request in progress ' +
        '(slow headers, idle keep-alive) is closed to let the newcomer in',
      default: 128,
      minimum: 1,
      maximum: 65535,
    }),
    max_connections_per_address: integer({
      description:
        'Cap on concurrent monitor connections from one client address; beyond it that address\'s connection ' +
        'waiting longest is closed, so one host cannot crowd out probes and scrapes from others',
      default: 64,
      minimum: 1,
      maximum: 65535,
    }),
    headers_timeout: duration({
      description: 'Time a client has to send the complete request headers (slowloris guard)',
      default: '5s',
      minimum: 100,
      maximum: 3_600_000,
    }),
    request_timeout: duration({
      description: 'Time a client has to send the complete request, body included; must be >= headers_timeout',
      default: '10s',
      minimum: 100,
      maximum: 3_600_000,
    }),
    keepalive_timeout: duration({
      description: 'How long an idle keep-alive connection stays open (0: close after each response)',
      default: '5s',
      minimum: 0,
      maximum: 3_600_000,
    }),
    max_header_size: size({
      description: 'Largest request line plus headers accepted; larger requests get 431',
      default: '16KiB',
      minimum: 1024,
      maximum: 1024 * 1024,
    }),
    max_headers_count: integer({ description: 'Most request headers accepted: a request with more is answered 431 (Request Header Fields Too Large) and closed', default: 100, minimum: 1, maximum: 2000 }),
    max_body_size: size({
      description: 'Largest request body accepted; larger bodies get 413',
      default: '64KiB',
      minimum: 0,
      maximum: 16 * 1024 * 1024,
    }),
    task_processor: optional(string({ description: 'Accepted for userver compatibility; ignored (Node.js has one event loop)' })),
  },
});

/** Schema of the `server` section. */
export const serverSchema = object({
  description: 'The HTTP server of the monitor handlers.',
  properties: { listener: listenerSchema },
});

/** Validated `server.listener` options (durations in ms, sizes in bytes). */
export type ListenerConfig = Infer<typeof listenerSchema>;

/** How long `stop()` lets in-flight requests finish before it closes every connection. */
const STOP_GRACE_MS = 1000;

/** The monitor HTTP listener. Handlers register in their constructors; it listens in `start()`. */
export class HttpServer implements Component {
  readonly #config: ListenerConfig;
  readonly #router = new Router();
  readonly #server: Server;
  readonly #log = getLogger('monitor');
  #listening = false;
  #stopped: Promise<void> | undefined;
  #unexpectedAnswer: ((error: unknown) => HttpResponse) | undefined;

  constructor(config: ListenerConfig) {
    this.#config = config;
    // Node checks header/request timeouts on this interval (30 s by default, which would let a
    // slowloris client hold a connection for up to 30 s past its deadline).
    const checkingInterval = Math.max(50, Math.min(1000, Math.floor(config.headers_timeout / 2)));
    this.#server = createServer(
      {
        maxHeaderSize: config.max_header_size,
        headersTimeout: config.headers_timeout,
        requestTimeout: config.request_timeout,
        keepAliveTimeout: config.keepalive_timeout,
        connectionsCheckingInterval: checkingInterval,
      },
      (req, res) => this.#onRequest(req, res),
    );
    this.#server.maxHeadersCount = config.max_headers_count;
    // Not server.maxConnections: it refuses the newcomer, so a crowd of slow clients locks probes out.
    applyConnectionCap(this.#server, { max: config.max_connections, perAddress: config.max_connections_per_address });
    this.#server.on('clientError', (error, socket) => this.#onClientError(error, socket));
  }

  /** The port actually bound (useful with `port: 0`); undefined before `start()`. */
  get port(): number | undefined {
    const address = this.#server.address();
    return typeof address === 'object' && address !== null ? address.port : undefined;
  }

  /**
   * Serves `handler` at `spec.path` for `spec.method`. Throws HttpRouteConflictError when that
   * method and path shape are taken, TypeError for a malformed template or method.
   */
  addHandler(spec: RouteSpec, handler: HttpHandler): void {
    this.#router.add(spec, handler);
  }

  /**
   * How an unexpected handler error (not a typed EchoError) is answered from now on, instead of the
   * bare 500 (userver's testsuite middleware answers with the error's text for the test's report).
   */
  setUnexpectedErrorAnswer(answer: (error: unknown) => HttpResponse): void {
    this.#unexpectedAnswer = answer;
  }

  /** Binds the listener; a failure becomes a ListenError naming the component, address and port. */
  async start(): Promise<void> {
    const { address, port, backlog } = this.#config;
    const bound = await listen(this.#server, { address, port, backlog }, { component: COMPONENT, portKey: PORT_KEY });
    this.#listening = true;
    // A listening server's later errors (EMFILE on accept) must be logged, not crash the process.
    this.#server.on('error', (error) => this.#log.error('monitor listener error', { error: error.message }));
    this.#log.info(`monitor listening on ${formatAddress(bound.address, bound.port)}`);
  }

  /** Stops accepting, closes idle keep-alive connections, and the rest after a short grace. Safe to call twice. */
  stop(): Promise<void> {
    this.#stopped ??= this.#close();
    return this.#stopped;
  }

  async #close(): Promise<void> {
    if (!this.#listening) return;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    const grace = setTimeout(() => this.#server.closeAllConnections(), STOP_GRACE_MS);
    await closed;
    clearTimeout(grace);
  }

  #onClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
    // Malformed or oversized requests and timeouts: answer with a bare status line when the socket
    // can still take it, never with details of the parser's state.
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? 431
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? 408
          : 400;
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    this.#handle(req, res).catch((error: unknown) => {
      // #handle answers every error itself; reaching here means the response could not be written.
      this.#log.warning('monitor response failed', { error: errorMessage(error) });
      res.destroy();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // An aborted request must never surface as an unhandled 'error' event.
    req.on('error', ignore);
    const method = req.method ?? 'GET';
    let url: RequestTarget;
    try {
      url = parseTarget(req.url ?? '');
    } catch (error) {
      req.resume();
      return this.#send(req, res, responseForError(error));
    }
    const match = this.#router.match(method, url.pathname);
    if (match.kind === 'not-found') {
      req.resume();
      return this.#send(req, res, responseForError(new HttpNotFoundError(`no handler for ${url.pathname}`)));
    }
    if (match.kind === 'method-not-allowed') {
      req.resume();
      const answer = responseForError(
        new HttpMethodNotAllowedError(`${method} is not allowed on ${url.pathname}; allowed: ${match.allow.join(', ')}`),
      );
      return this.#send(req, res, { ...answer, headers: { ...answer.headers, allow: match.allow.join(', ') } });
    }
    let request: HttpRequest;
    try {
      request = {
        method,
        path: url.pathname,
        query: url.query,
        pathParams: decodeParams(match.params),
        headers: req.headers,
        body: await readBody(req, this.#config.max_body_size),
      };
    } catch (error) {
      return this.#send(req, res, responseForError(error), true);
    }
    let answer: HttpResponse;
    try {
      answer = await match.handler(request);
    } catch (error) {
      const unexpected = !(error instanceof EchoError);
      if (unexpected) {
        this.#log.error('monitor handler failed', { path: url.pathname, error: describe(error) });
      }
      answer = unexpected && this.#unexpectedAnswer ? this.#unexpectedAnswer(error) : responseForError(error);
    }
    this.#send(req, res, answer);
  }

  #send(req: IncomingMessage, res: ServerResponse, answer: HttpResponse, close = false): void {
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
}

function ignore(): void {}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}\n${error.stack ?? ''}` : String(error);
}

/** The `server` component. */
export const serverComponent = defineComponent({
  name: COMPONENT,
  schema: serverSchema,
  create: (config, context: ComponentContext) => {
    const { listener } = config;
    if (listener.headers_timeout > listener.request_timeout) {
      throw new ConfigValueError(
        { file: context.configFile, keyPath: `components_manager.components.${COMPONENT}.listener.headers_timeout` },
        `${listener.headers_timeout} ms is longer than request_timeout (${listener.request_timeout} ms): headers are part of the request`,
      );
    }
    return new HttpServer(listener);
  },
});
