/**
 * `server` (userver's `server` component, HTTP part): the node:http listener that serves the monitor
 * handlers (`/service/monitor`, `/metrics`, `/ping`, `/tests/{action}`), from a worker thread
 * (http-thread.ts) while the handlers run here. Hardened for a port that may face the network:
 * bounded header size and count, request and header timeouts (slowloris), a cap on concurrent
 * connections, bounded bodies, and no stack trace in any response.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
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
import { ConfigValueError, EchoError, errorMessage, ListenError } from '../errors.js';
import { getLogger } from '../log/index.js';
import { formatAddress } from '../net/listen.js';
import { responseForError, type HttpHandler, type HttpRequest, type HttpResponse, type RouteSpec } from './http.js';
import type { FromHttpThread, HttpThreadData, ThreadRequest, ToHttpThread } from './http-thread-protocol.js';
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
    task_processor: optional(string({ description: 'Accepted for userver compatibility; ignored: the listener runs in its own worker thread, the handlers on the main event loop' })),
  },
});

/** Schema of the `server` section. */
export const serverSchema = object({
  description: 'The HTTP server of the monitor handlers.',
  properties: { listener: listenerSchema },
});

/** Validated `server.listener` options (durations in ms, sizes in bytes). */
export type ListenerConfig = Infer<typeof listenerSchema>;

/** After the HTTP thread ended unexpectedly, the wait before a new one listens again. */
const RESTART_DELAY_MS = 1000;

/** The thread's module next to this one: `.ts` when run from the sources (tests, through tsx), `.js` when built. */
const THREAD_MODULE = new URL(`./http-thread${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/**
 * The monitor HTTP listener. Handlers register in their constructors; it listens in `start()`.
 * The sockets, parsing and limits live in a worker thread (http-thread.ts), so that the echo's
 * isolate never runs node:http; each request whose route exists comes here as plain data, its
 * handler runs on the main thread, and the answer goes back. A blocked main thread therefore
 * still holds every answer, /livez included.
 */
export class HttpServer implements Component {
  readonly #config: ListenerConfig;
  /** Checks each route as it is added (conflicts, malformed templates); the thread matches requests. */
  readonly #router = new Router();
  /** The handlers in the order they were added: the thread names a route by its index. */
  readonly #handlers: HttpHandler[] = [];
  readonly #routes: RouteSpec[] = [];
  readonly #log = getLogger('monitor');
  #thread: Worker | undefined;
  #port: number | undefined;
  #stopping = false;
  #stopped: Promise<void> | undefined;
  #restart: NodeJS.Timeout | undefined;
  #unexpectedAnswer: ((error: unknown) => HttpResponse) | undefined;

  constructor(config: ListenerConfig) {
    this.#config = config;
  }

  /** The port actually bound (useful with `port: 0`); undefined before `start()`. */
  get port(): number | undefined {
    return this.#port;
  }

  /**
   * Serves `handler` at `spec.path` for `spec.method`. Throws HttpRouteConflictError when that
   * method and path shape are taken, TypeError for a malformed template or method. Handlers
   * register in their constructors, before `start()`; one added later is sent to the thread and
   * serves from its next request on.
   */
  addHandler(spec: RouteSpec, handler: HttpHandler): void {
    this.#router.add(spec, handler);
    this.#routes.push(spec);
    this.#handlers.push(handler);
    this.#thread?.postMessage({ kind: 'route', spec } satisfies ToHttpThread);
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
    const bound = await this.#startThread(this.#config.port);
    this.#port = bound.port;
    this.#log.info(`monitor listening on ${formatAddress(bound.address, bound.port)}`);
  }

  /** Starts the HTTP thread on `port` and resolves once it listens. */
  #startThread(port: number): Promise<{ address: string; port: number }> {
    const data: HttpThreadData = { config: { ...this.#config, port }, routes: this.#routes, portKey: PORT_KEY, component: COMPONENT };
    const thread = new Worker(THREAD_MODULE, { workerData: data, name: 'monitor-http' });
    this.#thread = thread;
    return new Promise((resolve, reject) => {
      let listening = false;
      thread.on('message', (message: FromHttpThread) => {
        switch (message.kind) {
          case 'listening':
            listening = true;
            resolve(message);
            break;
          case 'listen-failed':
            reject(new ListenError(message.message, message.causeCode === undefined ? {} : { cause: Object.assign(new Error(message.causeCode), { code: message.causeCode }) }));
            break;
          case 'request':
            void this.#answer(thread, message);
            break;
          case 'log':
            this.#log[message.level](message.text, message.fields);
            break;
          case 'stopped':
            break;
        }
      });
      thread.on('error', (error) => {
        this.#log.error('monitor HTTP thread failed', { error: describe(error) });
        if (!listening) reject(error);
      });
      thread.on('exit', (code) => {
        if (this.#thread === thread) this.#thread = undefined;
        if (!listening) {
          reject(new ListenError(`${COMPONENT}: the monitor HTTP thread exited (code ${code}) before it listened`));
          return;
        }
        if (this.#stopping) return;
        // Only a crash ends it unasked: the health checks must come back, on the same port.
        this.#log.error(`monitor HTTP thread exited (code ${code}); listening again in ${RESTART_DELAY_MS} ms`);
        this.#scheduleRestart();
      });
    });
  }

  #scheduleRestart(): void {
    this.#restart = setTimeout(() => {
      this.#restart = undefined;
      if (this.#stopping) return;
      this.#startThread(this.#port ?? this.#config.port).then(
        () => this.#log.info('monitor HTTP thread listening again'),
        (error: unknown) => {
          this.#log.error(`monitor HTTP thread could not listen again: ${errorMessage(error)}`);
          if (!this.#stopping) this.#scheduleRestart();
        },
      );
    }, RESTART_DELAY_MS);
    this.#restart.unref();
  }

  /** Runs the route's handler for a request from the thread and sends the answer back. */
  async #answer(thread: Worker, message: ThreadRequest): Promise<void> {
    const handler = this.#handlers[message.route] as HttpHandler;
    const request: HttpRequest = {
      method: message.method,
      path: message.path,
      query: new URLSearchParams(message.query),
      pathParams: message.pathParams,
      headers: message.headers,
      body: Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength),
    };
    let answer: HttpResponse;
    try {
      answer = await handler(request);
    } catch (error) {
      const unexpected = !(error instanceof EchoError);
      if (unexpected) {
        this.#log.error('monitor handler failed', { path: message.path, error: describe(error) });
      }
      answer = unexpected && this.#unexpectedAnswer ? this.#unexpectedAnswer(error) : responseForError(error);
    }
    const reply: ToHttpThread = { kind: 'answer', id: message.id, status: answer.status, headers: answer.headers, body: answer.body };
    try {
      thread.postMessage(reply);
    } catch (error) {
      // The thread has ended (shutdown, or a crash being restarted): the client's connection went with it.
      this.#log.warning('monitor response failed', { error: errorMessage(error) });
    }
  }

  /** Stops accepting, closes idle keep-alive connections, and the rest after a short grace. Safe to call twice. */
  stop(): Promise<void> {
    this.#stopped ??= this.#close();
    return this.#stopped;
  }

  async #close(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#restart);
    const thread = this.#thread;
    if (thread === undefined) return;
    const exited = new Promise<void>((resolve) => thread.once('exit', () => resolve()));
    thread.postMessage({ kind: 'stop' } satisfies ToHttpThread);
    await exited;
  }
}

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
