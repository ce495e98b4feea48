/**
 * The `tcp-echo` component (userver's `components::TcpAcceptorBase` + the sample's `Echo`): listens,
 * hands each accepted socket to an EchoConnection, enforces `max_connections`, and drains on stop.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Component, ComponentContext } from '../components/component.js';
import type { ReadinessGate } from '../components/readiness.js';
import { boolean, duration, integer, object, optional, size, string, type Infer } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import { getLogger } from '../log/index.js';
import type { LogFields, Logger } from '../log/logger.js';
import { formatAddress, listen } from '../net/listen.js';
import { NOOP_CONNECTION_TRACER, type ConnectionTracer } from '../telemetry/connection-trace.js';
import type { StatisticsStorage } from '../telemetry/statistics-storage.js';
import type { TracerComponent } from '../telemetry/tracer-component.js';
import { connectionInfo, normalizeAddress } from './connection-info.js';
import { EchoConnection, type ConnectionDeps } from './connection.js';
import { registerEchoInstruments } from './echo-instruments.js';
import { EchoStats } from './stats.js';

/** The component's section name under `components_manager.components`. */
export const ECHO_COMPONENT_NAME = 'tcp-echo';

const PORT_KEY = `components_manager.components.${ECHO_COMPONENT_NAME}.port`;

/** Longest a Node.js timer can wait (2^31 - 1 ms, about 24.8 days); longer ones fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * After the drain window, how long a connection closed for shutdown may take to flush its queued
 * echo and see the peer's close before it is destroyed.
 */
export const SHUTDOWN_FLUSH_MS = 1000;

/** At most one "rejected" log line per this interval; the metric counts every rejection. */
const REJECT_LOG_INTERVAL_MS = 1000;

/** What the `tcp-echo` section describes. */
export const ECHO_DESCRIPTION =
  'TCP echo listener: whatever a client sends on a connection comes back on that connection, ' +
  'in order, while it is still sending (full duplex)';

/**
 * The options of one echo listener (userver's `tcp_acceptor_base.yaml` plus tcp-echo's limits);
 * the `tcp-echo` section adds `workers` (src/cluster/) before the userver-compatibility keys.
 */
export const echoProperties = {
    port: integer({
      description: 'TCP port to listen on; 0 picks a free port (the "Listening on" log line names it)',
      minimum: 0,
      maximum: 65535,
    }),
    address: string({
      description:
        "address to listen on; '::' accepts IPv6 and IPv4 clients (IPv4 only on hosts without IPv6)",
      default: '::',
    }),
    backlog: integer({
      description: 'queue length of connections not yet accepted (listen(2) backlog; the kernel caps it at net.core.somaxconn)',
      default: 1024,
      minimum: 1,
      maximum: 65535,
    }),
    no_delay: boolean({
      description: "set TCP_NODELAY on accepted sockets (no Nagle delay), as userver's acceptor does",
      default: true,
    }),
    buffer_size: size({
      description:
        'per-connection bound on bytes read but not yet written back: when a client does not read, ' +
        'reading from it pauses at this bound (TCP backpressure); half of it is the read buffer and ' +
        'half the write buffer, and each may overshoot its half by one read of up to 64KiB',
      default: '64KiB',
      minimum: 1024,
      maximum: 1024 ** 3,
    }),
    max_connections: integer({
      description:
        'most connections open at once; beyond it new connections are closed at once and counted ' +
        'with close reason "rejected"; 0 = unlimited',
      default: 0,
      minimum: 0,
    }),
    idle_timeout: duration({
      description: 'close a connection (reason "timeout") after this long with no bytes in either direction; 0 = never',
      default: 0,
      maximum: MAX_TIMER_MS,
    }),
    graceful_shutdown_interval: optional(
      duration({
        description:
          'on shutdown, how long open connections may go on after the listener stops accepting (at the ' +
          'start of shutdown); then the rest are closed (reason "shutdown") after their queued echo is flushed. ' +
          'Default: components_manager.graceful_shutdown_interval (the manager waits that long before stopping ' +
          'components anyway, so only a longer value here extends the window)',
        maximum: MAX_TIMER_MS,
      }),
    ),
    task_processor: optional(
      string({ description: 'accepted for userver compatibility and ignored: Node.js accepts on its one event loop' }),
    ),
    sockets_task_processor: optional(
      string({ description: 'accepted for userver compatibility and ignored: Node.js serves sockets on its one event loop' }),
    ),
};

/** Schema of one echo listener's options (the `tcp-echo` section without `workers`). */
export const echoSchema = object({ description: ECHO_DESCRIPTION, properties: echoProperties });

/** The validated options of one echo listener. */
export type EchoConfig = Infer<typeof echoSchema>;

/** The echo acceptor. Its counters are `stats`; `port` is the bound port once started. */
export class EchoComponent implements Component {
  /** Plain counters, exposed as the `tcp-echo.*` metrics by statistics-storage. */
  readonly stats = new EchoStats();
  private readonly config: EchoConfig;
  private readonly gracefulShutdownMs: number;
  private readonly logger: Logger;
  private readonly tracer: ConnectionTracer;
  /** What every connection shares; made once, not per accepted socket. */
  private readonly connectionDeps: ConnectionDeps;
  private readonly server: net.Server;
  /** Open once the listener accepts. */
  private readonly serving: ReadinessGate | undefined;
  private readonly connections = new Set<EchoConnection>();
  private allClosedWaiters: Array<() => void> = [];
  private accepted = 0;
  private boundPort: number | undefined;
  private stopping: Promise<void> | undefined;
  private acceptingStopped = false;
  /** When shutdown began (the listener stopped accepting): the drain window runs from here. */
  private shutdownBeganAt = 0;
  private rejectedUnlogged = 0;
  private lastRejectLog = -Infinity;

  /** `logFields` are bound to every log line (a cluster worker names itself: `worker`, `pid`). */
  constructor(config: EchoConfig, context: ComponentContext, logFields?: LogFields) {
    this.config = config;
    this.gracefulShutdownMs = config.graceful_shutdown_interval ?? context.manager.gracefulShutdownIntervalMs;
    this.logger = logFields === undefined ? getLogger(ECHO_COMPONENT_NAME) : getLogger(ECHO_COMPONENT_NAME).child(logFields);
    this.tracer = context.findOptional<TracerComponent>('tracer')?.connections ?? NOOP_CONNECTION_TRACER;
    this.serving = context.readiness?.gate(ECHO_COMPONENT_NAME);
    context.findOptional<StatisticsStorage>('statistics-storage')?.register((meter) => registerEchoInstruments(meter, this.stats));
    this.connectionDeps = {
      stats: this.stats,
      tracer: this.tracer,
      logger: this.logger,
      idleTimeoutMs: config.idle_timeout,
      onClosed: this.onConnectionClosed,
    };

    // Each direction's stream buffer gets half of buffer_size, so together they hold buffer_size:
    // a paused readable still fills to its highWaterMark before libuv stops reading (Readable docs).
    const highWaterMark = Math.ceil(config.buffer_size / 2);
    this.server = net.createServer({ allowHalfOpen: true, noDelay: config.no_delay, highWaterMark });
    // Node closes connections beyond maxConnections itself and emits 'drop'; 0 would reject all.
    if (config.max_connections > 0) this.server.maxConnections = config.max_connections;
    this.server.on('connection', this.onConnection);
    this.server.on('drop', this.onDrop);
    // Stop accepting as soon as shutdown begins, even before our stop() is reached.
    context.lifecycle.onStopping(() => this.stopAccepting());
  }

  /** The bound TCP port once listening (useful with `port: 0`). */
  get port(): number | undefined {
    return this.boundPort;
  }

  /** Listens; rejects with a ListenError naming the address, port and OS reason. */
  async start(): Promise<void> {
    if (this.acceptingStopped) return;
    const { address, port, backlog } = this.config;
    const bound = await listen(this.server, { address, port, backlog }, { component: ECHO_COMPONENT_NAME, portKey: PORT_KEY });
    this.boundPort = bound.port;
    if (this.acceptingStopped) {
      // Shutdown began while we were binding.
      this.server.close();
      return;
    }
    // After listening, 'error' means a failed accept (e.g. EMFILE): the listener keeps going.
    this.server.on('error', this.onServerError);
    this.serving?.open();
    this.logger.info(`Listening on ${formatAddress(bound.address, bound.port)}`, {
      address: bound.address,
      port: bound.port,
    });
  }

  /**
   * Stops accepting, lets open connections go on until the graceful shutdown interval has passed
   * since shutdown began, then closes the rest (reason `shutdown`) after flushing their queued
   * echo; resolves once all are closed. Safe to call twice.
   */
  stop(): Promise<void> {
    return (this.stopping ??= this.drain());
  }

  private async drain(): Promise<void> {
    this.stopAccepting();
    // The window counts from the start of shutdown, not from this call: the manager itself waits
    // graceful_shutdown_interval between "stopping" and stop() (as userver does), and the two
    // waits must not add up.
    const left = Math.ceil(this.shutdownBeganAt + this.gracefulShutdownMs - performance.now());
    if (this.connections.size > 0 && left > 0) {
      this.logger.info(`Waiting up to ${left} ms for ${this.connections.size} open connection(s) to finish`);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.allClosed(),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, left))),
      ]);
      clearTimeout(timer);
    }
    if (this.connections.size > 0) {
      this.logger.info(`Closing ${this.connections.size} open connection(s) for shutdown`);
      for (const connection of this.connections) connection.shutdown(SHUTDOWN_FLUSH_MS);
      await this.allClosed();
    }
    if (this.boundPort !== undefined) this.logger.info('Echo listener stopped');
  }

  /** Closes the listening socket (once). Open connections are untouched. */
  private stopAccepting(): void {
    if (this.acceptingStopped) return;
    this.acceptingStopped = true;
    this.shutdownBeganAt = performance.now();
    // The listening handle closes now; close()'s callback would also wait for every connection,
    // which drain() tracks itself, so none is passed.
    if (this.server.listening) this.server.close();
  }

  private allClosed(): Promise<void> {
    if (this.connections.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.allClosedWaiters.push(resolve));
  }

  private readonly onConnection = (socket: net.Socket): void => {
    try {
      const info = connectionInfo(socket, ++this.accepted);
      const connection = new EchoConnection(socket, info, this.connectionDeps);
      this.connections.add(connection);
    } catch (error) {
      // Only the tracer can throw here, before the connection touched the socket or the counters.
      socket.on('error', () => {});
      socket.destroy();
      this.logger.error(`could not set up an accepted connection: ${errorMessage(error)}`);
    }
  };

  private readonly onConnectionClosed = (connection: EchoConnection): void => {
    this.connections.delete(connection);
    if (this.connections.size === 0 && this.allClosedWaiters.length > 0) {
      const waiters = this.allClosedWaiters;
      this.allClosedWaiters = [];
      for (const resolve of waiters) resolve();
    }
  };

  // Node has already closed the connection; count it like userver counts a refused socket.
  private readonly onDrop = (data?: net.DropArgument): void => {
    const stats = this.stats;
    stats.opened++;
    stats.closeReasons.rejected++;
    stats.closed++;
    this.rejectedUnlogged++;
    const now = performance.now();
    if (now - this.lastRejectLog < REJECT_LOG_INTERVAL_MS) return;
    this.lastRejectLog = now;
    this.logger.warning(
      `Rejected ${this.rejectedUnlogged} connection(s): max_connections (${this.config.max_connections}) reached`,
      { peer_address: normalizeAddress(data?.remoteAddress), peer_port: data?.remotePort },
    );
    this.rejectedUnlogged = 0;
  };

  private readonly onServerError = (error: Error): void => {
    this.logger.error(`accepting a connection failed: ${error.message}`);
  };
}
