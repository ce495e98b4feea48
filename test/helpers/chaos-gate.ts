/**
 * A chaos TCP gate for tests (after userver's `pytest_userver.chaos.TcpGate`): a loopback proxy
 * between clients and a server whose two directions can each be told to pass, delay, coalesce,
 * split, drop, stall, close or reset. Rules apply to open and future connections at once; switching
 * back to `pass()` releases whatever a rule was holding, in order.
 *
 *   const gate = await ChaosGate.start({ port: service.echoPort });
 *   t.after(() => gate.stop());
 *   gate.toClient.delay(10_000);        // the echo comes back 10 s late
 *   net.connect(gate.port, '127.0.0.1')
 *   gate.toClient.pass();               // ...or now
 */
import { once } from 'node:events';
import net from 'node:net';

/** What a direction does with the bytes it receives. */
export type GateRule =
  | { readonly kind: 'pass' }
  /** Forward each chunk `ms` after it arrived. */
  | { readonly kind: 'delay'; readonly ms: number }
  /** Hold bytes until at least `bytes` are pending, then forward them as one write. */
  | { readonly kind: 'concat'; readonly bytes: number }
  /** Forward in writes of at most `size` bytes, one per event-loop turn (separate segments). */
  | { readonly kind: 'split'; readonly size: number }
  /** Discard everything (userver's `noop`). */
  | { readonly kind: 'drop' }
  /** Hold everything and stop reading once `highWaterMark` bytes are held: a one-way stall. */
  | { readonly kind: 'stall'; readonly highWaterMark: number }
  /** On the next data, close both sides (FIN). */
  | { readonly kind: 'close' }
  /** On the next data, reset both sides (RST). */
  | { readonly kind: 'reset' };

/** Sets the rule of one direction (client→server or server→client) for every connection. */
export class DirectionControl {
  #rule: GateRule = { kind: 'pass' };
  readonly #onChange: () => void;

  constructor(onChange: () => void) {
    this.#onChange = onChange;
  }

  get rule(): GateRule {
    return this.#rule;
  }

  pass(): void {
    this.#set({ kind: 'pass' });
  }
  delay(ms: number): void {
    this.#set({ kind: 'delay', ms });
  }
  concat(bytes: number): void {
    this.#set({ kind: 'concat', bytes });
  }
  split(size: number): void {
    if (!(size >= 1)) throw new RangeError('split size must be >= 1');
    this.#set({ kind: 'split', size });
  }
  drop(): void {
    this.#set({ kind: 'drop' });
  }
  stall(highWaterMark = 64 * 1024): void {
    this.#set({ kind: 'stall', highWaterMark });
  }
  closeOnData(): void {
    this.#set({ kind: 'close' });
  }
  resetOnData(): void {
    this.#set({ kind: 'reset' });
  }

  #set(rule: GateRule): void {
    this.#rule = rule;
    this.#onChange();
  }
}

interface Held {
  readonly data: Buffer;
  readonly arrivedAt: number;
}

/** One direction of one proxied connection. */
class Pipe {
  readonly #from: net.Socket;
  readonly #to: net.Socket;
  readonly #control: DirectionControl;
  readonly #abort: (how: 'close' | 'reset') => void;
  #held: Held[] = [];
  #heldBytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #splitting = false;
  #ended = false;
  #finished = false;

  constructor(from: net.Socket, to: net.Socket, control: DirectionControl, abort: (how: 'close' | 'reset') => void) {
    this.#from = from;
    this.#to = to;
    this.#control = control;
    this.#abort = abort;
    from.on('data', (chunk: Buffer) => this.#onData(chunk));
    from.on('end', () => {
      this.#ended = true;
      this.#pump();
    });
  }

  /** Re-applies the current rule to what is held (called when a rule changes). */
  ruleChanged(): void {
    if (this.#control.rule.kind === 'drop') {
      this.#held = [];
      this.#heldBytes = 0;
    }
    if (this.#control.rule.kind !== 'stall' && this.#from.isPaused() && this.#to.writableLength === 0) this.#from.resume();
    this.#pump();
  }

  dispose(): void {
    clearTimeout(this.#timer);
    this.#held = [];
  }

  #onData(chunk: Buffer): void {
    const rule = this.#control.rule;
    if (rule.kind === 'drop') return;
    if (rule.kind === 'close' || rule.kind === 'reset') {
      this.#abort(rule.kind);
      return;
    }
    this.#held.push({ data: chunk, arrivedAt: Date.now() });
    this.#heldBytes += chunk.length;
    this.#pump();
  }

  /** Forwards what the current rule allows now and schedules the rest. */
  #pump(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#to.destroyed) return;
    const rule = this.#control.rule;
    switch (rule.kind) {
      case 'pass':
      case 'close':
      case 'reset':
        this.#forward(this.#held.length);
        break;
      case 'delay': {
        const now = Date.now();
        let due = 0;
        while (due < this.#held.length && (this.#held[due] as Held).arrivedAt + rule.ms <= now) due++;
        this.#forward(due);
        const next = this.#held[0];
        if (next) this.#timer = setTimeout(() => this.#pump(), next.arrivedAt + rule.ms - now);
        break;
      }
      case 'concat':
        if (this.#heldBytes >= rule.bytes || this.#ended) this.#forward(this.#held.length, true);
        break;
      case 'split':
        this.#split(rule.size);
        return;
      case 'drop':
        break;
      case 'stall':
        if (this.#heldBytes >= rule.highWaterMark) this.#from.pause();
        return;
    }
    this.#maybeEnd();
  }

  #forward(count: number, asOne = false): void {
    if (count === 0) return;
    const items = this.#held.splice(0, count);
    for (const item of items) this.#heldBytes -= item.data.length;
    if (asOne) this.#write(Buffer.concat(items.map((i) => i.data)));
    else for (const item of items) this.#write(item.data);
    if (this.#from.isPaused() && this.#control.rule.kind !== 'stall' && this.#to.writableLength === 0) this.#from.resume();
  }

  #split(size: number): void {
    if (this.#splitting) return;
    const first = this.#held[0];
    if (!first) {
      this.#maybeEnd();
      return;
    }
    this.#splitting = true;
    const piece = first.data.subarray(0, size);
    if (first.data.length <= size) this.#held.shift();
    else this.#held[0] = { data: first.data.subarray(size), arrivedAt: first.arrivedAt };
    this.#heldBytes -= piece.length;
    this.#write(piece);
    setTimeout(() => {
      this.#splitting = false;
      if (this.#control.rule.kind === 'split') this.#pump();
      else this.ruleChanged();
    }, 1);
  }

  #write(data: Buffer): void {
    if (this.#to.destroyed) return;
    if (!this.#to.write(data)) {
      // Backpressure crosses the gate: stop reading until the other side drains.
      this.#from.pause();
      this.#to.once('drain', () => {
        if (this.#control.rule.kind !== 'stall') this.#from.resume();
      });
    }
  }

  #maybeEnd(): void {
    if (this.#ended && this.#held.length === 0 && !this.#finished && !this.#to.destroyed) {
      this.#finished = true;
      this.#to.end();
    }
  }
}

/** One proxied connection: the client's socket, the gate's socket to the server, two pipes. */
class Connection {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  readonly #pipes: Pipe[];
  readonly closed: Promise<void>;

  constructor(client: net.Socket, target: { host: string; port: number }, toServer: DirectionControl, toClient: DirectionControl) {
    this.client = client;
    // Half-open on both legs, so a FIN travels through the gate and the echo still in flight comes back.
    this.upstream = net.connect({ port: target.port, host: target.host, allowHalfOpen: true });
    for (const s of [client, this.upstream]) {
      s.setNoDelay(true);
      // Errors end the pair below; a test gate must never crash the test process.
      s.on('error', () => {});
    }
    const abort = (how: 'close' | 'reset') => this.abort(how);
    this.#pipes = [new Pipe(client, this.upstream, toServer, abort), new Pipe(this.upstream, client, toClient, abort)];
    // A reset or failure on one side is passed on as a reset of the other.
    client.on('close', (hadError) => hadError && this.abort('reset'));
    this.upstream.on('close', (hadError) => hadError && this.abort('reset'));
    this.closed = Promise.all([once(client, 'close'), once(this.upstream, 'close')]).then(() => {
      for (const pipe of this.#pipes) pipe.dispose();
    });
  }

  ruleChanged(): void {
    for (const pipe of this.#pipes) pipe.ruleChanged();
  }

  abort(how: 'close' | 'reset'): void {
    for (const s of [this.client, this.upstream]) {
      if (s.destroyed) continue;
      if (how === 'reset' && typeof s.resetAndDestroy === 'function' && s.readyState !== 'opening') s.resetAndDestroy();
      else s.destroy();
    }
  }
}

/** Options of a gate. */
export interface GateOptions {
  /** The server to forward to. */
  readonly port: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
}

/** A running chaos gate on a free loopback port. */
export class ChaosGate {
  /** Rule of bytes from clients to the server. */
  readonly toServer: DirectionControl;
  /** Rule of bytes from the server back to clients. */
  readonly toClient: DirectionControl;
  readonly #server: net.Server;
  readonly #connections = new Set<Connection>();
  #stopped: Promise<void> | undefined;

  private constructor(server: net.Server, target: { host: string; port: number }) {
    this.#server = server;
    const changed = () => {
      for (const c of this.#connections) c.ruleChanged();
    };
    this.toServer = new DirectionControl(changed);
    this.toClient = new DirectionControl(changed);
    server.on('connection', (client) => {
      const connection = new Connection(client, target, this.toServer, this.toClient);
      this.#connections.add(connection);
      void connection.closed.then(() => this.#connections.delete(connection));
    });
  }

  /** Starts a gate forwarding to `options.port` on loopback. */
  static async start(options: GateOptions): Promise<ChaosGate> {
    const server = net.createServer({ allowHalfOpen: true });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return new ChaosGate(server, { host: options.host ?? '127.0.0.1', port: options.port });
  }

  /** The port clients connect to (on 127.0.0.1). */
  get port(): number {
    return (this.#server.address() as net.AddressInfo).port;
  }

  /** Connections with at least one side still open (userver's `connections_count`). */
  connectionsCount(): number {
    return this.#connections.size;
  }

  /** Closes both sides of every connection (userver's `sockets_close`); resolves when all are closed. */
  async closeAll(): Promise<void> {
    await this.#abortAll('close');
  }

  /** Resets (RST) both sides of every connection; resolves when all are closed. */
  async resetAll(): Promise<void> {
    await this.#abortAll('reset');
  }

  async #abortAll(how: 'close' | 'reset'): Promise<void> {
    const connections = [...this.#connections];
    for (const c of connections) c.abort(how);
    await Promise.all(connections.map((c) => c.closed));
  }

  /** Stops listening and closes every connection. Safe to call twice. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      await this.closeAll();
      await closed;
    })();
    return this.#stopped;
  }
}
