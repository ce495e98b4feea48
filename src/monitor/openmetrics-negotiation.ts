/**
 * Content negotiation for `/metrics` (RFC 9110 §12.5.1 Accept): OpenMetrics text only for a
 * client that names `application/openmetrics-text` (version 1.0.0 or 0.0.1, or none) with a
 * quality at least that of `text/plain`; everyone else, wildcards included, gets the classic
 * Prometheus text. Prometheus asks for OpenMetrics first by default.
 */

/** OpenMetrics versions whose text ours satisfies (0.0.1 is the same text under its draft name). */
const OPENMETRICS_VERSIONS: ReadonlySet<string> = new Set(['1.0.0', '0.0.1']);

/** True when the `Accept` header prefers OpenMetrics text to the classic format. */
export function prefersOpenMetrics(accept: string | readonly string[] | undefined): boolean {
  if (accept === undefined) return false;
  const header = typeof accept === 'string' ? accept : accept.join(',');
  let openMetrics = 0;
  let text = 0;
  for (const range of header.split(',')) {
    const [type = '', ...params] = range.split(';').map((part) => part.trim());
    let q = 1;
    let version: string | undefined;
    for (const param of params) {
      const eq = param.indexOf('=');
      if (eq < 0) continue;
      const name = param.slice(0, eq).trim().toLowerCase();
      const value = param.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
      if (name === 'q') q = Number.isFinite(Number(value)) ? Number(value) : 0;
      else if (name === 'version') version = value;
    }
    const mediaType = type.toLowerCase();
    if (mediaType === 'application/openmetrics-text') {
      if (version === undefined || OPENMETRICS_VERSIONS.has(version)) openMetrics = Math.max(openMetrics, q);
    } else if (mediaType === 'text/plain') {
      text = Math.max(text, q);
    }
  }
  return openMetrics > 0 && openMetrics >= text;
}
