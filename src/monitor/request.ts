/**
 * Turning a node:http request into the plain `HttpRequest` handlers receive: the origin-form
 * target split into path and query, `{name}` segments percent-decoded, and the body read whole
 * within `max_body_size`. Every malformed part is an HttpError with its 4xx status.
 */
import type { IncomingMessage } from 'node:http';
import { isMapping } from '../config/mapping.js';
import { HttpBadRequestError, HttpPayloadTooLargeError } from '../errors.js';

/** An origin-form target (`/path?query`) split in two. */
export interface RequestTarget {
  readonly pathname: string;
  readonly query: URLSearchParams;
}

/**
 * Splits `target`; throws HttpBadRequestError for anything but origin-form (absolute-form and
 * `*` targets are not served here).
 */
export function parseTarget(target: string): RequestTarget {
  if (!target.startsWith('/')) throw new HttpBadRequestError('malformed request target: expected /path?query');
  const q = target.indexOf('?');
  return { pathname: q < 0 ? target : target.slice(0, q), query: new URLSearchParams(q < 0 ? '' : target.slice(q + 1)) };
}

/** The route's `{name}` values percent-decoded; throws HttpBadRequestError for bad encoding. */
export function decodeParams(params: Readonly<Record<string, string>>): Record<string, string> {
  const decoded: Record<string, string> = {};
  for (const [name, value] of Object.entries(params)) {
    try {
      decoded[name] = decodeURIComponent(value);
    } catch {
      throw new HttpBadRequestError(`path segment '${value}' is not valid percent-encoding`);
    }
  }
  return decoded;
}

/** Reads the whole body, or rejects with HttpPayloadTooLargeError (413) as soon as it would exceed `limit`. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    return Promise.reject(new HttpPayloadTooLargeError(`request body of ${declared} bytes exceeds max_body_size ${limit}`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (chunk: Buffer) => {
      length += chunk.length;
      if (length <= limit) {
        chunks.push(chunk);
        return;
      }
      // Keep the stream flowing with no listener: the rest is discarded until the 413 (sent with
      // `Connection: close`) ends the connection. Destroying now could lose the 413 itself.
      cleanup();
      reject(new HttpPayloadTooLargeError(`request body exceeds max_body_size ${limit} bytes`));
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/** True when the request announces a body (chunked, or a non-zero Content-Length). */
export function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/** An empty body is `{}`; otherwise the body must be a JSON object (HttpBadRequestError if not). */
export function parseJsonObjectBody(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpBadRequestError('request body is not valid JSON');
  }
  if (!isMapping(parsed)) throw new HttpBadRequestError('request body must be a JSON object');
  return parsed;
}
