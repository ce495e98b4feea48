/** What monitor handlers receive and return: plain data, no Node streams (handlers stay testable). */
import type { IncomingHttpHeaders } from 'node:http';
import { EchoError, HTTP_INTERNAL_ERROR_CODE, HttpError } from '../errors.js';

/** One parsed HTTP request, body fully read (bounded by the listener's `max_body_size`). */
export interface HttpRequest {
  /** Upper-case method; `HEAD` requests reach `GET` handlers. */
  readonly method: string;
  /** The decoded-as-sent path, without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Values of the route's `{name}` segments, percent-decoded. */
  readonly pathParams: Readonly<Record<string, string>>;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** A handler's answer. */
export interface HttpResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: string | Buffer;
}

/** Serves one route. May throw an HttpError (answered with its status), e.g. HttpBadRequestError (400). */
export type HttpHandler = (request: HttpRequest) => HttpResponse | Promise<HttpResponse>;

/** Where a handler is mounted. */
export interface RouteSpec {
  /** One method, a comma-separated list (`GET,POST`, userver's form), or a list. */
  readonly method: string | readonly string[];
  /** A path template: `/ping`, `/tests/{action}`. */
  readonly path: string;
  /** Who registers it (a component name), for conflict messages. */
  readonly owner?: string;
}

/** A JSON response. */
export function jsonResponse(status: number, value: unknown): HttpResponse {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(value) };
}

/** The JSON body of every error answer: `{"code": "ECHO_ERR_...", "message": "..."}`. */
function errorResponse(status: number, code: string, message: string): HttpResponse {
  return jsonResponse(status, { code, message });
}

/**
 * The answer to any thrown value: an HttpError with its status and code, another EchoError as a
 * 500 with its code, anything else as a bare 500 that carries no detail.
 */
export function responseForError(error: unknown): HttpResponse {
  if (error instanceof HttpError) return errorResponse(error.status, error.code, error.message);
  if (error instanceof EchoError) return errorResponse(500, error.code, error.message);
  return errorResponse(500, HTTP_INTERNAL_ERROR_CODE, 'internal error (see the service log)');
}
