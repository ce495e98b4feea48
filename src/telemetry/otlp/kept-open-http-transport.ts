/**
 * The OTLP/HTTP sender for `http:` collectors: each export is one POST written to a connection
 * kept open between exports (issue 13). Node's HTTP client costs about 4% of the server's CPU at
 * full connection churn, though only one request goes out per 512 spans: the request, agent,
 * response stream and their listeners are built per export and make every later accept and close
 * dearer. This writes the request head and the body with one corked write and reads the answer
 * with {@link HttpResponseReader}.
 *
 * What it keeps of the SDK's transport (`sendWithHttp` in @opentelemetry/otlp-exporter-base):
 * - the headers the exporter's configuration resolves per export (OTEL_EXPORTER_OTLP_HEADERS,
 *   Content-Type), gzip (Content-Encoding set by us, as the SDK sets it over the user's);
 * - the outcome per status: 2xx success with the body (partial success is read by the SDK's
 *   delegate), 429/502/503/504 retryable with Retry-After, anything else a failure carrying the
 *   status and body; network errors retryable for the same codes;
 * - the 4 MiB bound on the response body, and a timeout that ends the attempt.
 * What it adds: the request is refused before anything is written when a header is not valid
 * HTTP; a kept-open connection that the collector closed while idle is replaced at once rather
 * than failing the export; idle connections never hold the process and are closed after
 * `idleMillis` (below the 5 s keep-alive of common servers, so a close rarely races a request).
 * `https:` collectors stay on the SDK's transport (span-exporter-factory.ts): TLS and its
 * certificate settings are Node's.
 */
import net from 'node:net';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { OTLPExporterError, type ExportResponse, type IExporterTransport } from '@opentelemetry/otlp-exporter-base';
import { otlpExporterVersion } from './exporter-version.js';
import { HttpResponseError, HttpResponseReader, type HttpResponse } from './http-response-reader.js';
import { retryAfterMillis } from './retry-after.js';

const gzipAsync = promisify(gzip);

/** The SDK's bound on a response body (MAX_RESPONSE_BODY_SIZE). */
export const MAX_RESPONSE_BODY_BYTES = 4 * 1024 * 1024;

/** How long an idle connection is kept: under Node's and most collectors' 5 s keep-alive. */
export const DEFAULT_IDLE_MILLIS = 4000;

/** The statuses the OTLP specification says to retry. */
const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/** Network errors worth retrying, as the SDK's transport lists them. */
const RETRYABLE_NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ENETUNREACH',
  'EHOSTUNREACH',
]);

/** Headers the sender owns: the body's framing and the connection's life. */
const OWNED_HEADERS: ReadonlySet<string> = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te']);

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE_CHAR = /[^\t\x20-\x7e\x80-\xff]/;

/** What the sender is built from: the exporter configuration the SDK resolved from OTEL_* and the config. */
export interface KeptOpenHttpOptions {
  /** An `http:` URL. */
  readonly url: string;
  /** Resolved per export, as the SDK does (a function may rotate a token). */
  readonly headers: () => Promise<Record<string, string>>;
  readonly compression: 'gzip' | 'none';
  /** Prepended to our User-Agent, as the SDK prepends its `userAgent` option. */
  readonly userAgent?: string | undefined;
  readonly maxResponseBytes?: number;
  readonly idleMillis?: number;
}

/** A request the sender refuses to write; not retryable. */
export class OtlpRequestError extends Error {
  constructor(
    readonly code: 'ERR_OTLP_BAD_URL' | 'ERR_OTLP_BAD_HEADER',
    message: string,
  ) {
    super(message);
    this.name = 'OtlpRequestError';
  }
}

/** An IExporterTransport that keeps its connections to one `http:` collector open. */
export class KeptOpenHttpTransport implements IExporterTransport {
  private readonly host: string;
  private readonly port: number;
  private readonly hostHeader: string;
  private readonly path: string;
  private readonly maxResponseBytes: number;
  private readonly idleMillis: number;
  private readonly userAgent: string;
  private readonly idle: CollectorConnection[] = [];
  private readonly open = new Set<CollectorConnection>();
  private closed = false;
  /** Connections opened so far (tests and the start line read it). */
  connectionsOpened = 0;

  constructor(private readonly options: KeptOpenHttpOptions) {
    const url = new URL(options.url);
    if (url.protocol !== 'http:') throw new OtlpRequestError('ERR_OTLP_BAD_URL', `the kept-open OTLP sender takes http: URLs, not ${url.protocol}`);
    this.host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    this.port = url.port === '' ? 80 : Number(url.port);
    this.hostHeader = url.host;
    this.path = (url.pathname || '/') + url.search;
    this.maxResponseBytes = options.maxResponseBytes ?? MAX_RESPONSE_BODY_BYTES;
    this.idleMillis = options.idleMillis ?? DEFAULT_IDLE_MILLIS;
    const agent = senderAgent();
    this.userAgent = options.userAgent ? `${options.userAgent} ${agent}` : agent;
  }

  async send(data: Uint8Array, timeoutMillis: number): Promise<ExportResponse> {
    const deadline = Date.now() + timeoutMillis;
    let head: Buffer;
    let body: Uint8Array;
    try {
      const gzipped = this.options.compression === 'gzip';
      body = gzipped ? await gzipAsync(data) : data;
      head = this.requestHead(await this.options.headers(), body.length, gzipped);
    } catch (error) {
      return { status: 'failure', error: asError(error) };
    }
    if (this.closed) return { status: 'failure', error: new Error('the OTLP sender is shut down') };
    // A connection the collector closed while idle can fail before any answer: that is not the
    // collector refusing this export, so it is sent again at once on a new connection.
    for (;;) {
      const reused = this.idle.pop();
      const connection = reused ?? this.connect();
      const outcome = await connection.exchange(head, body, Math.max(1, deadline - Date.now()), this.maxResponseBytes);
      if (outcome.kind === 'response') {
        if (outcome.response.keepAlive && !this.closed) this.park(connection);
        else connection.destroy();
        return toExportResponse(outcome.response);
      }
      connection.destroy();
      if (reused !== undefined && !outcome.answered && !outcome.timedOut && Date.now() < deadline) continue;
      return toFailure(outcome.error, outcome.timedOut);
    }
  }

  shutdown(): void {
    this.closed = true;
    for (const connection of this.open) if (!connection.busy) connection.destroy();
    this.idle.length = 0;
  }

  private connect(): CollectorConnection {
    this.connectionsOpened++;
    const connection = new CollectorConnection(this.host, this.port, this.idleMillis, (gone) => {
      this.open.delete(gone);
      const at = this.idle.indexOf(gone);
      if (at >= 0) this.idle.splice(at, 1);
    });
    this.open.add(connection);
    return connection;
  }

  private park(connection: CollectorConnection): void {
    connection.rest();
    this.idle.push(connection);
  }

  /** The request head; throws OtlpRequestError for a header Node's client would refuse. */
  private requestHead(headers: Record<string, string>, bodyLength: number, gzipped: boolean): Buffer {
    let host = this.hostHeader;
    let lines = '';
    for (const name in headers) {
      const value = String(headers[name]);
      const lower = name.toLowerCase();
      if (!TOKEN.test(name)) throw new OtlpRequestError('ERR_OTLP_BAD_HEADER', `OTLP export header name ${JSON.stringify(name)} is not a valid HTTP token`);
      if (BAD_VALUE_CHAR.test(value)) throw new OtlpRequestError('ERR_OTLP_BAD_HEADER', `OTLP export header ${name} has a character HTTP does not allow`);
      if (OWNED_HEADERS.has(lower) || lower === 'user-agent' || (gzipped && lower === 'content-encoding')) continue;
      if (lower === 'host') {
        host = value;
        continue;
      }
      lines += `${name}: ${value}\r\n`;
    }
    return Buffer.from(
      `POST ${this.path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: ${this.userAgent}\r\n${lines}` +
        `${gzipped ? 'Content-Encoding: gzip\r\n' : ''}Content-Length: ${bodyLength}\r\n\r\n`,
      'latin1',
    );
  }
}

/**
 * The sender's own User-Agent: the SDK transport's `OTel-OTLP-Exporter-JavaScript/<version>`,
 * then a token that says which sender wrote the request.
 */
function senderAgent(): string {
  return `OTel-OTLP-Exporter-JavaScript/${otlpExporterVersion()} tcp-echo-kept-open-sender`;
}

/** How one request on one connection ended. */
type Outcome =
  | { readonly kind: 'response'; readonly response: HttpResponse }
  | { readonly kind: 'error'; readonly error: Error; readonly answered: boolean; readonly timedOut: boolean };

/** One connection to the collector: at most one request at a time, idle between them. */
class CollectorConnection {
  private readonly socket: net.Socket;
  private current: { reader: HttpResponseReader; settle: (outcome: Outcome) => void; timer: NodeJS.Timeout } | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private gone = false;

  constructor(
    host: string,
    port: number,
    private readonly idleMillis: number,
    private readonly onGone: (connection: CollectorConnection) => void,
  ) {
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('end', () => this.onEnd());
    this.socket.on('error', (error) => this.fail(error));
    this.socket.on('close', () => {
      this.fail(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
      this.markGone();
    });
  }

  get busy(): boolean {
    return this.current !== undefined;
  }

  exchange(head: Buffer, body: Uint8Array, timeoutMillis: number, maxResponseBytes: number): Promise<Outcome> {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.gone) return Promise.resolve({ kind: 'error', error: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), answered: false, timedOut: false });
    this.socket.ref();
    return new Promise<Outcome>((resolve) => {
      const timer = setTimeout(() => {
        this.settle({ kind: 'error', error: new Error('Request timed out'), answered: this.current?.reader.started ?? false, timedOut: true });
        this.destroy();
      }, timeoutMillis);
      timer.unref();
      this.current = { reader: new HttpResponseReader(maxResponseBytes), settle: resolve, timer };
      this.socket.cork();
      this.socket.write(head);
      this.socket.write(body);
      this.socket.uncork();
    });
  }

  /** Between requests: the connection never holds the process, and closes after idleMillis. */
  rest(): void {
    this.socket.unref();
    this.idleTimer = setTimeout(() => this.destroy(), this.idleMillis);
    this.idleTimer.unref();
  }

  destroy(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.socket.destroy();
    this.markGone();
  }

  private onData(chunk: Buffer): void {
    const current = this.current;
    if (current === undefined) {
      this.destroy(); // bytes nobody asked for: the connection is not fit for the next request
      return;
    }
    try {
      const response = current.reader.push(chunk);
      if (response !== undefined) this.settle({ kind: 'response', response });
    } catch (error) {
      this.settle({ kind: 'error', error: asError(error), answered: true, timedOut: false });
      this.destroy();
    }
  }

  private onEnd(): void {
    const current = this.current;
    if (current === undefined) {
      this.destroy();
      return;
    }
    try {
      this.settle({ kind: 'response', response: { ...current.reader.end(), keepAlive: false } });
    } catch (error) {
      this.settle({ kind: 'error', error: asError(error), answered: current.reader.started, timedOut: false });
    }
    this.destroy();
  }

  private fail(error: Error): void {
    const current = this.current;
    if (current !== undefined) this.settle({ kind: 'error', error, answered: current.reader.started, timedOut: false });
  }

  private settle(outcome: Outcome): void {
    const current = this.current;
    if (current === undefined) return;
    this.current = undefined;
    clearTimeout(current.timer);
    current.settle(outcome);
  }

  private markGone(): void {
    if (this.gone) return;
    this.gone = true;
    this.onGone(this);
  }
}

function toExportResponse(response: HttpResponse): ExportResponse {
  if (response.status <= 299) return { status: 'success', data: response.body };
  const error = new OTLPExporterError(`${response.status} ${response.reason}`.trim(), response.status, response.body.toString('utf8'));
  if (RETRYABLE_STATUSES.has(response.status)) {
    const retryInMillis = retryAfterMillis(response.headers.get('retry-after'));
    return retryInMillis === undefined ? { status: 'retryable', error } : { status: 'retryable', error, retryInMillis };
  }
  return { status: 'failure', error };
}

function toFailure(error: Error, timedOut: boolean): ExportResponse {
  if (timedOut) return { status: 'retryable', error };
  if (error instanceof HttpResponseError) {
    return error.code === 'ERR_OTLP_RESPONSE_TRUNCATED' ? { status: 'retryable', error } : { status: 'failure', error };
  }
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === 'string' && RETRYABLE_NETWORK_CODES.has(code) ? { status: 'retryable', error } : { status: 'failure', error };
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
