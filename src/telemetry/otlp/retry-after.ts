/**
 * A Retry-After header as the wait it asks for: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
 * Unparsable or absent: `undefined`, so the caller's backoff decides (the SDK retries at once on
 * a value it cannot read; a collector that sends garbage is better met with backoff).
 */
export function retryAfterMillis(header: string | undefined, now = Date.now()): number | undefined {
  if (header === undefined) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
