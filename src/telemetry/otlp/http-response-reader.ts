/**
 * Reads one HTTP/1.x response from the bytes of a connection, as they arrive: the status line,
 * the headers, and a body framed by Content-Length, chunked transfer coding, or the end of the
 * connection. Built for the OTLP sender (kept-open-http-transport.ts), whose responses are small,
 * so every bound is a hard failure rather than a stream: a head over 64 KiB, a body over the
 * caller's limit (the SDK's 4 MiB), or bytes that are not HTTP end the response with an error and
 * the connection is not reused. Interim 1xx responses are skipped.
 */

/** What a finished response gives the transport. */
export interface HttpResponse {
  readonly status: number;
  readonly reason: string;
  /** Lower-case names; a repeated header keeps its last value (we read Retry-After and Connection only). */
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Buffer;
  /** False when the server closes after this response (Connection: close, HTTP/1.0, body to the end). */
  readonly keepAlive: boolean;
}

/** Why a response could not be read; `code` is stable for logs and tests. */
export class HttpResponseError extends Error {
  constructor(
    readonly code: 'ERR_OTLP_RESPONSE_HEAD' | 'ERR_OTLP_RESPONSE_TOO_LARGE' | 'ERR_OTLP_RESPONSE_MALFORMED' | 'ERR_OTLP_RESPONSE_TRUNCATED',
    message: string,
  ) {
    super(message);
    this.name = 'HttpResponseError';
  }
}

/** The most a response head (status line and headers) may take. */
export const MAX_RESPONSE_HEAD_BYTES = 64 * 1024;

const CRLF_CRLF = Buffer.from('\r\n\r\n', 'latin1');
const CRLF = Buffer.from('\r\n', 'latin1');
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/;

type Framing = { readonly kind: 'length'; remaining: number } | { readonly kind: 'chunked' } | { readonly kind: 'close' };

/**
 * One response's reader. `push` each chunk the connection reads and `end` when it ends; either
 * returns the response once it is complete, `undefined` while more is needed, or throws an
 * {@link HttpResponseError}. Bytes after the response (a server that pipelines garbage) make the
 * connection unfit for reuse: `trailing` says so.
 */
export class HttpResponseReader {
  private pending: Buffer = Buffer.alloc(0);
  private head: { status: number; reason: string; headers: Map<string, string>; keepAlive: boolean; framing: Framing } | undefined;
  private readonly bodyParts: Buffer[] = [];
  private bodyBytes = 0;
  /** Chunked coding: the data left in the current chunk, or -1 between chunks. */
  private chunkLeft = -1;
  private inTrailers = false;
  /** Bytes that arrived after the complete response. */
  trailing = 0;

  constructor(private readonly maxBodyBytes: number) {}

  push(chunk: Buffer): HttpResponse | undefined {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    return this.advance();
  }

  /** The connection ended: a body read to the end is complete; anything else was cut short. */
  end(): HttpResponse {
    if (this.head?.framing.kind === 'close') return this.finish();
    throw new HttpResponseError('ERR_OTLP_RESPONSE_TRUNCATED', 'the collector closed the connection before the response was complete');
  }

  /** True once the status line and headers are in (the server has started to answer). */
  get started(): boolean {
    return this.head !== undefined || this.pending.length > 0;
  }

  private advance(): HttpResponse | undefined {
    for (;;) {
      if (this.head === undefined) {
        if (!this.readHead()) return undefined;
        continue;
      }
      const { framing } = this.head;
      if (framing.kind === 'length') {
        const take = Math.min(framing.remaining, this.pending.length);
        this.addBody(this.pending.subarray(0, take));
        this.pending = this.pending.subarray(take);
        framing.remaining -= take;
        return framing.remaining === 0 ? this.finish() : undefined;
      }
      if (framing.kind === 'close') {
        this.addBody(this.pending);
        this.pending = Buffer.alloc(0);
        return undefined;
      }
      const done = this.readChunks();
      return done ? this.finish() : undefined;
    }
  }

  /** Parses the head once it is all in; skips 1xx heads. False: more bytes needed. */
  private readHead(): boolean {
    const end = this.pending.indexOf(CRLF_CRLF);
    if (end < 0) {
      if (this.pending.length > MAX_RESPONSE_HEAD_BYTES) throw new HttpResponseError('ERR_OTLP_RESPONSE_HEAD', `the collector's response head exceeded ${MAX_RESPONSE_HEAD_BYTES} bytes`);
      return false;
    }
    if (end > MAX_RESPONSE_HEAD_BYTES) throw new HttpResponseError('ERR_OTLP_RESPONSE_HEAD', `the collector's response head exceeded ${MAX_RESPONSE_HEAD_BYTES} bytes`);
    const lines = this.pending.toString('latin1', 0, end).split('\r\n');
    this.pending = this.pending.subarray(end + 4);
    const statusLine = STATUS_LINE.exec(lines[0] ?? '');
    if (statusLine === null) throw new HttpResponseError('ERR_OTLP_RESPONSE_MALFORMED', `the collector did not answer HTTP/1.x (status line ${JSON.stringify((lines[0] ?? '').slice(0, 80))})`);
    const status = Number(statusLine[2]);
    const headers = new Map<string, string>();
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] ?? '';
      const colon = line.indexOf(':');
      if (colon <= 0) throw new HttpResponseError('ERR_OTLP_RESPONSE_MALFORMED', `the collector sent a header line without a name: ${JSON.stringify(line.slice(0, 80))}`);
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    if (status >= 100 && status < 200) return true; // interim (100 Continue, 103): the real head follows
    const connection = (headers.get('connection') ?? '').toLowerCase();
    const http11 = statusLine[1] === '1';
    let keepAlive = http11 ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
    let framing: Framing;
    const transferEncoding = headers.get('transfer-encoding');
    const contentLength = headers.get('content-length');
    if (NO_BODY.has(status)) framing = { kind: 'length', remaining: 0 };
    else if (transferEncoding !== undefined && /\bchunked\s*$/i.test(transferEncoding)) framing = { kind: 'chunked' };
    else if (transferEncoding !== undefined) {
      framing = { kind: 'close' };
      keepAlive = false;
    } else if (contentLength !== undefined) {
      if (!/^\d{1,15}$/.test(contentLength)) throw new HttpResponseError('ERR_OTLP_RESPONSE_MALFORMED', `the collector sent Content-Length ${JSON.stringify(contentLength.slice(0, 40))}`);
      const length = Number(contentLength);
      if (length > this.maxBodyBytes) throw tooLarge(this.maxBodyBytes);
      framing = { kind: 'length', remaining: length };
    } else {
      framing = { kind: 'close' };
      keepAlive = false;
    }
    this.head = { status, reason: statusLine[3] ?? '', headers, keepAlive, framing };
    return true;
  }

  /** Consumes chunked coding from `pending`; true once the last chunk and trailers are in. */
  private readChunks(): boolean {
    for (;;) {
      if (this.inTrailers) {
        const lineEnd = this.pending.indexOf(CRLF);
        if (lineEnd < 0) return this.boundPending();
        const empty = lineEnd === 0;
        this.pending = this.pending.subarray(lineEnd + 2);
        if (empty) return true;
        continue;
      }
      if (this.chunkLeft < 0) {
        const lineEnd = this.pending.indexOf(CRLF);
        if (lineEnd < 0) return this.boundPending();
        const sizeText = this.pending.toString('latin1', 0, lineEnd).split(';')[0]?.trim() ?? '';
        if (!/^[0-9a-fA-F]{1,12}$/.test(sizeText)) throw new HttpResponseError('ERR_OTLP_RESPONSE_MALFORMED', `the collector sent a chunk size ${JSON.stringify(sizeText.slice(0, 40))}`);
        this.pending = this.pending.subarray(lineEnd + 2);
        const size = parseInt(sizeText, 16);
        if (size === 0) {
          this.inTrailers = true;
          continue;
        }
        if (this.bodyBytes + size > this.maxBodyBytes) throw tooLarge(this.maxBodyBytes);
        this.chunkLeft = size;
      }
      if (this.chunkLeft > 0) {
        const take = Math.min(this.chunkLeft, this.pending.length);
        this.addBody(this.pending.subarray(0, take));
        this.pending = this.pending.subarray(take);
        this.chunkLeft -= take;
        if (this.chunkLeft > 0) return false;
      }
      // The CRLF after the chunk's data.
      if (this.pending.length < 2) return false;
      if (this.pending[0] !== 0x0d || this.pending[1] !== 0x0a) throw new HttpResponseError('ERR_OTLP_RESPONSE_MALFORMED', 'the collector sent a chunk without its closing CRLF');
      this.pending = this.pending.subarray(2);
      this.chunkLeft = -1;
    }
  }

  /** A chunk-size or trailer line that never ends is bounded like a head. */
  private boundPending(): false {
    if (this.pending.length > MAX_RESPONSE_HEAD_BYTES) throw new HttpResponseError('ERR_OTLP_RESPONSE_HEAD', `the collector sent a chunk line over ${MAX_RESPONSE_HEAD_BYTES} bytes`);
    return false;
  }

  private addBody(part: Buffer): void {
    if (part.length === 0) return;
    this.bodyBytes += part.length;
    if (this.bodyBytes > this.maxBodyBytes) throw tooLarge(this.maxBodyBytes);
    this.bodyParts.push(part);
  }

  private finish(): HttpResponse {
    const head = this.head;
    if (head === undefined) throw new HttpResponseError('ERR_OTLP_RESPONSE_TRUNCATED', 'the collector closed the connection before answering');
    this.trailing = this.pending.length;
    return {
      status: head.status,
      reason: head.reason,
      headers: head.headers,
      body: this.bodyParts.length === 1 ? (this.bodyParts[0] as Buffer) : Buffer.concat(this.bodyParts),
      keepAlive: head.keepAlive && this.trailing === 0,
    };
  }
}

/** Statuses that never carry a body, whatever the headers say. */
const NO_BODY: ReadonlySet<number> = new Set([204, 304]);

function tooLarge(limit: number): HttpResponseError {
  return new HttpResponseError('ERR_OTLP_RESPONSE_TOO_LARGE', `OTLP export response body exceeded size limit of ${limit} bytes`);
}
