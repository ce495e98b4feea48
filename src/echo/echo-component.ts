/**
 * One echo listener (userver's `components::TcpAcceptorBase` + the sample's `Echo`): listens, hands
 * each accepted socket to an EchoConnection, enforces `max_connections`, and drains on stop. The
 * `tcp-echo` component definition (one process or N workers) is src/cluster/tcp-echo-component.ts.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Component, ComponentContext } from '../components/component.js';
import type { ReadinessGate } from '../components/readiness.js';
import { boolean, duration, integer, object, optional, size, string, type Infer } from '../config/schema.js';
import { ConfigMissingKeyError, ConfigValueError, errorMessage, type ConfigLocation } from '../errors.js';
import { getLogger } from '../log/index.js';
import type { LogFields, Logger } from '../log/logger.js';
import { RateLimitedReport } from '../log/rate-limited-report.js';
import { applyToListener, applyToSocket, type AcceptedSocketOptions } from '../net/accepted-socket-options.js';
import { formatAddress, listen } from '../net/listen.js';
import { listenUnix, removeStaleSocket, unixSocketPathProblem } from '../net/unix-socket.js';
import { CLOSE_REASONS, NOOP_CONNECTION_TRACER, type ConnectionInfo, type ConnectionTracer } from '../telemetry/connection-trace.js';
import type { StatisticsStorage } from '../telemetry/statistics-storage.js';
import type { TracerComponent } from '../telemetry/tracer-component.js';
import { addressReader, addressReaderFailed, connectionInfo, fixedLocalEndpoint, nodeConnectionInfo, normalizeAddress, type FixedLocalEndpoint } from './connection-info.js';
import { EchoConnection, type ConnectionDeps } from './connection.js';
import { FD_RESERVE, connectionBudget, openDescriptors, openFileLimit } from './fd-budget.js';
import { registerEchoMetrics } from './echo-instruments.js';
import { ProxyHeaderReader, proxyProtocolSchema, type RefusedReason } from './proxy-header-reader.js';
import type { ProxyHeader } from './proxy-protocol.js';
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

/** The peer of a refused connection, as log fields. */
type PeerFields = { peer_address: string | undefined; peer_port: number | undefined };

/** The latest connection closed for a missing or bad PROXY header: what was wrong, and its fields. */
interface ProxyRefusal {
  readonly detail: string;
  readonly fields: LogFields;
}

/** What the `tcp-echo` section describes. */
export const ECHO_DESCRIPTION =
  'TCP echo listener: whatever a client sends on a connection comes back on that connection, ' +
  'in order, while it is still sending (full duplex)';

/**
 * The options of one echo listener (userver's `tcp_acceptor_base.yaml` plus tcp-echo's limits);
 * the `tcp-echo` section adds `workers` (src/cluster/) before the userver-compatibility keys.
 */
export const echoProperties = {
    port: optional(
      integer({
        description:
          'TCP port to listen on; 0 picks a free port (the "Listening on" log line names it). ' +
          'Exactly one of port and unix-socket is required',
        minimum: 0,
        maximum: 65535,
      }),
    ),
    'unix-socket': optional(
      string({
        description:
          "listen on this unix domain socket instead of a TCP port (as userver's TcpAcceptorBase): an absolute path " +
          'shorter than 108 bytes (sun_path); a stale socket file is removed first; the socket is made 0666',
      }),
    ),
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
    tcp_keepalive: boolean({
      description:
        'set SO_KEEPALIVE on accepted sockets, so a peer that vanished without FIN or RST (power loss, a NAT ' +
        'timeout) is found and closed (reason "error", ETIMEDOUT) even with idle_timeout 0: the kernel probes ' +
        'after tcp_keepalive_idle of silence, then every 1 s, 10 times (libuv)',
      default: true,
    }),
    tcp_keepalive_idle: duration({
      description:
        'silence before the first keepalive probe (TCP_KEEPIDLE, whole seconds); probes are not data, ' +
        'so they never reset idle_timeout',
      default: '60s',
      minimum: 1000,
      // TCP_KEEPIDLE is at most 32767 s on Linux.
      maximum: 32_767_000,
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
        'with close reason "rejected"; 0 = as many as the open-file limit (RLIMIT_NOFILE) allows, less ' +
        'the descriptors open at start and 64 kept for the monitor, logs and telemetry; a larger value is ' +
        'lowered to that, with a warning',
      default: 0,
      minimum: 0,
    }),
    idle_timeout: duration({
      description:
        'close a connection (reason "timeout") when tcp-echo has neither read from it nor written to it for this ' +
        'long; 0 = never. As in nginx, bytes already handed to the kernel count when written, not as the client ' +
        'reads them: a client draining a large echo slowly, without sending, can be closed as idle',
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
    proxy_protocol: proxyProtocolSchema,
    task_processor: optional(
      string({ description: 'accepted for userver compatibility and ignored: Node.js accepts on its one event loop' }),
    ),
    sockets_task_processor: optional(
      string({ description: 'accepted for userver compatibility and ignored: Node.js serves sockets on its one event loop' }),
    ),
};

/** Schema of one echo listener's options (the `tcp-echo` section without `workers`). */
export const echoSchema = object({ description: ECHO_DESCRIPTION, properties: echoProperties, refine: checkListenTarget });

/** The validated options of one echo listener. */
export type EchoConfig = Infer<typeof echoSchema>;

/** The echo acceptor. Its counters are `stats`; `port` is the bound port once started. */
export class EchoComponent implements Component {
  /** Plain counters, exposed as the `tcp-echo.*` metrics by the instruments of echo-instruments.ts. */
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
  /** Listening on a unix domain socket: spans say `network.transport=unix`. */
  private readonly unix: boolean;
  /** Another process (the cluster primary) owns the unix socket file: no stale-file removal here. */
  private readonly sharedSocket: boolean;
  /** max_connections, or the cap derived from the open-file limit; undefined = unlimited. */
  private readonly maxConnections: number | undefined;
  /** True when max_connections was lowered to what the open-file limit allows. */
  private readonly fdBudgetClamped: boolean;
  /** Reads PROXY protocol headers before the echo; undefined when `proxy_protocol` is off. */
  private readonly proxyHeaders: ProxyHeaderReader | undefined;
  private readonly socketOptions: AcceptedSocketOptions;
  // Refusals and failed accepts: each counted by its metric, logged at most once a second.
  private readonly rejections = new RateLimitedReport<PeerFields>(REJECT_LOG_INTERVAL_MS, (count, peer) =>
    this.logger.warning(`Rejected ${count} connection(s): max_connections (${this.maxConnections ?? 0}) reached`, peer),
  );
  private readonly proxyRefusals = new RateLimitedReport<ProxyRefusal>(REJECT_LOG_INTERVAL_MS, (count, last) =>
    this.logger.warning(`Closed ${count} connection(s) without a valid PROXY protocol header; last: ${last.detail}`, last.fields),
  );
  private readonly acceptErrors = new RateLimitedReport<NodeJS.ErrnoException>(REJECT_LOG_INTERVAL_MS, (count, error) =>
    this.logger.error(`accepting a connection failed ${count} time(s): ${error.code ?? error.message}`, { error: error.message }),
  );
  /** False once the listener carries the socket options, so accepted sockets inherit them. */
  private socketOptionsPerConnection = true;

  /**
   * `logFields` are bound to every log line (a cluster worker names itself: `worker`, `pid`);
   * `sharedSocket`: a cluster worker, whose primary removed a stale unix socket file already.
   */
  constructor(config: EchoConfig, context: ComponentContext, logFields?: LogFields, sharedSocket = false) {
    // The schema checks this already; a component built from an unvalidated config checks here.
    checkListenTarget(config, { file: context.configFile, keyPath: `components_manager.components.${ECHO_COMPONENT_NAME}` });
    this.config = config;
    this.unix = config['unix-socket'] !== undefined;
    this.sharedSocket = sharedSocket;
    this.gracefulShutdownMs = config.graceful_shutdown_interval ?? context.manager.gracefulShutdownIntervalMs;
    this.logger = logFields === undefined ? getLogger(ECHO_COMPONENT_NAME) : getLogger(ECHO_COMPONENT_NAME).child(logFields);
    this.tracer = context.findOptional<TracerComponent>('tracer')?.connections ?? NOOP_CONNECTION_TRACER;
    this.serving = context.readiness?.gate(ECHO_COMPONENT_NAME);
    const storage = context.findOptional<StatisticsStorage>('statistics-storage');
    if (storage !== undefined) registerEchoMetrics(storage, this.stats);
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
    // no_delay and tcp_keepalive go on the listener once it listens (accepted-socket-options.ts),
    // not through Node's per-accept server options.
    this.socketOptions = { noDelay: config.no_delay, keepAlive: config.tcp_keepalive, keepAliveInitialDelayMs: config.tcp_keepalive_idle };
    this.server = net.createServer({ allowHalfOpen: true, highWaterMark });
    // Node closes connections beyond maxConnections itself and emits 'drop'; 0 would reject all.
    // Never past the open-file limit: there, libuv refuses connections silently (it accepts and
    // closes them with a spare descriptor; no error reaches us) and the monitor starves with it.
    const budget = connectionBudget(openFileLimit(), openDescriptors() ?? 0);
    this.fdBudgetClamped = config.max_connections > 0 && budget !== undefined && config.max_connections > budget;
    this.maxConnections = config.max_connections > 0 && !this.fdBudgetClamped ? config.max_connections : budget;
    if (this.maxConnections !== undefined) this.server.maxConnections = this.maxConnections;
    if (config.proxy_protocol.enabled) {
      this.stats.reportedCloseReasons = CLOSE_REASONS;
      this.proxyHeaders = new ProxyHeaderReader(
        { headerTimeoutMs: config.proxy_protocol.header_timeout, maxHeaderBytes: config.proxy_protocol.max_header_size },
        { onHeader: this.onProxyHeader, onRefused: this.onProxyRefused },
      );
      this.server.on('connection', this.onProxiedConnection);
    } else {
      this.server.on('connection', this.onConnection);
    }
    this.server.on('drop', this.onDrop);
    // Stop accepting as soon as shutdown begins, even before our stop() is reached.
    context.lifecycle.onStopping(() => this.stopAccepting());
  }

  /** The local end of every accepted socket, when the listener is bound to one address (not a wildcard). */
  private localEndpoint: FixedLocalEndpoint | undefined;

  /** The bound TCP port once listening (useful with `port: 0`). */
  get port(): number | undefined {
    return this.boundPort;
  }

  /** Listens; rejects with a ListenError naming the address, port and OS reason. */
  async start(): Promise<void> {
    if (this.acceptingStopped) return;
    const unixSocket = this.config['unix-socket'];
    if (unixSocket !== undefined) return this.startUnix(unixSocket);
    const { address, backlog } = this.config;
    const port = this.config.port as number; // checked at construction: exactly one of port and unix-socket
    const bound = await listen(this.server, { address, port, backlog }, { component: ECHO_COMPONENT_NAME, portKey: PORT_KEY });
    this.boundPort = bound.port;
    this.localEndpoint = fixedLocalEndpoint(bound.address, bound.port);
    // Synchronously after 'listening': no connection has been accepted yet.
    this.socketOptionsPerConnection = !applyToListener(this.server, this.socketOptions);
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
      max_connections: this.maxConnections ?? 'unlimited',
      // How each connection's addresses are read: `native` (one call, native/socket-addresses.c) or `node`.
      address_reader: addressReader().name,
    });
    // Built but not loadable (another platform's build copied in, a broken file): worth a warning.
    // Not built at all is an ordinary install without a compiler, and the line above says `node`.
    if (addressReaderFailed()) this.logger.warning(`native socket-address reader not loaded: ${addressReader().reason ?? ''}; reading addresses through Node`);
    if (this.fdBudgetClamped) {
      this.logger.warning(
        `max_connections (${this.config.max_connections}) lowered to ${this.maxConnections ?? 0}: the open-file limit ` +
          `(${openFileLimit() ?? '?'}) leaves no more after ${FD_RESERVE} kept for the monitor, logs and telemetry; raise it with ulimit -n`,
      );
    }
  }

  /** Listens on a unix domain socket. */
  private async startUnix(socketPath: string): Promise<void> {
    if (!this.sharedSocket) await removeStaleSocket(socketPath, ECHO_COMPONENT_NAME);
    await listenUnix(this.server, socketPath, this.config.backlog, ECHO_COMPONENT_NAME);
    // TCP options mean nothing on a unix socket (Node's own server options skip it too).
    this.socketOptionsPerConnection = false;
    if (this.acceptingStopped) {
      this.server.close();
      return;
    }
    this.server.on('error', this.onServerError);
    this.serving?.open();
    this.logger.info(`Listening on unix:${socketPath}`, { 'unix-socket': socketPath });
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
    // Sockets still sending their PROXY header never reached the echo: nothing of theirs to flush.
    this.proxyHeaders?.closeAll();
    this.proxyRefusals.flush();
    if (this.connections.size > 0) {
      this.logger.info(`Closing ${this.connections.size} open connection(s) for shutdown`);
      for (const connection of this.connections) connection.shutdown(SHUTDOWN_FLUSH_MS);
      await this.allClosed();
    }
  }

  /** Closes the listening socket (once). Open connections are untouched. */
  private stopAccepting(): void {
    if (this.acceptingStopped) return;
    this.acceptingStopped = true;
    this.shutdownBeganAt = performance.now();
    // The listening handle closes now; close()'s callback would also wait for every connection,
    // which drain() tracks itself, so none is passed.
    if (this.server.listening) {
      this.server.close();
      this.logger.info('Echo listener stopped', { open_connections: this.connections.size });
    }
    // Nothing more is accepted: what is still waiting for its line is reported now.
    this.rejections.flush();
    this.acceptErrors.flush();
  }

  private allClosed(): Promise<void> {
    if (this.connections.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.allClosedWaiters.push(resolve));
  }

  /** The facts of the next accepted socket; on a unix socket its spans say `network.transport=unix`. */
  private nextConnectionInfo(socket: net.Socket): ConnectionInfo {
    const number = ++this.accepted;
    // A unix socket has no IP ends: Node's answer (none) without the native reader's two syscalls.
    if (this.unix) return { ...nodeConnectionInfo(socket, number), transport: 'unix' };
    return connectionInfo(socket, number, this.localEndpoint);
  }

  private readonly onConnection = (socket: net.Socket): void => {
    if (this.socketOptionsPerConnection) applyToSocket(socket, this.socketOptions);
    try {
      const info = this.nextConnectionInfo(socket);
      const connection = new EchoConnection(socket, info, this.connectionDeps);
      this.connections.add(connection);
    } catch (error) {
      // Only the tracer can throw here, before the connection touched the socket or the counters.
      socket.on('error', () => {});
      socket.destroy();
      this.logger.error(`could not set up an accepted connection: ${errorMessage(error)}`);
    }
  };

  // With proxy_protocol on, the header comes first; the echo starts in onProxyHeader.
  private readonly onProxiedConnection = (socket: net.Socket): void => {
    if (this.socketOptionsPerConnection) applyToSocket(socket, this.socketOptions);
    (this.proxyHeaders as ProxyHeaderReader).begin(socket);
  };

  private readonly onProxyHeader = (socket: net.Socket, header: ProxyHeader): void => {
    try {
      const info = this.nextConnectionInfo(socket);
      const client = header.source;
      if (client === undefined) {
        // LOCAL (the balancer's own check) or UNKNOWN: the socket's addresses are the truth.
        this.connections.add(new EchoConnection(socket, info, this.connectionDeps));
        return;
      }
      const clientAddress = normalizeAddress(client.address);
      // Built only behind a balancer: every line of this connection names its client.
      const deps: ConnectionDeps = {
        ...this.connectionDeps,
        logger: this.logger.child({ client_address: clientAddress, client_port: client.port }),
      };
      this.connections.add(new EchoConnection(socket, { ...info, clientAddress, clientPort: client.port }, deps));
    } catch (error) {
      socket.on('error', () => {});
      socket.destroy();
      this.logger.error(`could not set up an accepted connection: ${errorMessage(error)}`);
    }
  };

  // Counted like a rejected socket: opened and closed at once, under its own reason.
  private readonly onProxyRefused = (socket: net.Socket, reason: RefusedReason, detail: string): void => {
    const stats = this.stats;
    stats.opened++;
    stats.closeReasons[reason]++;
    stats.closed++;
    // Only what points at a misconfigured balancer or a hostile client is worth a line.
    if (reason === 'eof' || reason === 'reset' || reason === 'shutdown') return;
    this.proxyRefusals.note({
      detail,
      fields: { reason, peer_address: normalizeAddress(socket.remoteAddress), peer_port: socket.remotePort },
    });
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
    this.rejections.note({ peer_address: normalizeAddress(data?.remoteAddress), peer_port: data?.remotePort });
  };

  // A failed accept that libuv reports (EMFILE/ENFILE when its spare descriptor is gone, ENOBUFS,
  // ...); count every one, log at most one line a second.
  private readonly onServerError = (error: NodeJS.ErrnoException): void => {
    this.stats.acceptErrors++;
    this.acceptErrors.note(error);
  };
}

/**
 * Exactly one of `port` and `unix-socket`, and a usable socket path (userver's TcpAcceptorBase
 * rules); a ConfigError naming the key otherwise. `at` is the section.
 */
export function checkListenTarget(config: Readonly<{ port?: unknown; 'unix-socket'?: unknown }>, at: ConfigLocation): void {
  const key = (name: string): ConfigLocation => ({ file: at.file, keyPath: `${at.keyPath}.${name}` });
  const socketPath = config['unix-socket'];
  if (typeof socketPath !== 'string') {
    if (config.port === undefined) {
      throw new ConfigMissingKeyError(key('port'), 'required key is missing: give exactly one of port and unix-socket');
    }
    return;
  }
  if (config.port !== undefined) {
    throw new ConfigValueError(key('unix-socket'), 'give exactly one of port and unix-socket, not both');
  }
  const problem = unixSocketPathProblem(socketPath);
  if (problem !== undefined) throw new ConfigValueError(key('unix-socket'), `${JSON.stringify(socketPath.slice(0, 120))} ${problem}`);
}

/** Removes a stale unix socket file of the echo listener (the cluster primary does it once for its workers). */
export function removeStaleEchoSocket(socketPath: string): Promise<void> {
  return removeStaleSocket(socketPath, ECHO_COMPONENT_NAME);
}
