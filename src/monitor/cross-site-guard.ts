/**
 * A guard against cross-site requests (CSRF) for state-changing monitor handlers (tests-control).
 * A browser lets any web page send a "simple" cross-origin POST (`text/plain`, form types, or no
 * body) without asking first; it cannot send `Content-Type: application/json` across origins
 * without a CORS preflight, which this server never grants. Browsers also mark their requests
 * with `Origin` and `Sec-Fetch-Site`, which non-browser clients (curl, userver's test client) do
 * not send. So: a request with an `Origin`, or with `Sec-Fetch-Site` other than `same-origin` or
 * `none`, is refused with 403, and one without `Content-Type: application/json` with 415.
 */
import { HttpCrossSiteError, HttpUnsupportedMediaTypeError } from '../errors.js';
import type { HttpHandler } from './http.js';

/** `Sec-Fetch-Site` values a browser sends for requests not started by another site. */
const SAME_SITE_FETCH = new Set(['same-origin', 'none']);

/** Wraps `handler` so that only non-browser (or same-origin) JSON requests reach it. */
export function crossSiteGuard(handler: HttpHandler): HttpHandler {
  return (request) => {
    const { origin, 'sec-fetch-site': fetchSite, 'content-type': contentType } = request.headers;
    if (origin !== undefined) {
      throw new HttpCrossSiteError(`cross-site request refused: tests-control takes no requests with an Origin header (${shorten(origin)})`);
    }
    if (typeof fetchSite === 'string' && !SAME_SITE_FETCH.has(fetchSite.trim().toLowerCase())) {
      throw new HttpCrossSiteError(`cross-site request refused: Sec-Fetch-Site is ${shorten(fetchSite)}`);
    }
    // The media type before any `;charset=...` parameter, compared case-insensitively (RFC 9110 §8.3.1).
    const mediaType = contentType?.split(';', 1)[0]?.trim().toLowerCase();
    if (mediaType !== 'application/json') {
      throw new HttpUnsupportedMediaTypeError(
        `Content-Type must be application/json, got ${contentType === undefined ? 'none' : shorten(contentType)}`,
      );
    }
    return handler(request);
  };
}

function shorten(text: string): string {
  return JSON.stringify(text.length <= 80 ? text : `${text.slice(0, 60)}...`);
}
