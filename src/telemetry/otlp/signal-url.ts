/**
 * The OTLP/HTTP URL of one signal from a configured endpoint, as the specification builds it from
 * OTEL_EXPORTER_OTLP_ENDPOINT: `http://host:4318` → `http://host:4318/v1/<signal>`; a URL that
 * already ends in the signal's path is kept.
 */
import { describeValue } from '../../config/schema.js';
import { ConfigValueError, type ConfigLocation } from '../../errors.js';

/** The signals tcp-echo exports over OTLP. */
export type OtlpSignal = 'traces' | 'metrics';

/** `endpoint` with `/v1/<signal>` appended; a config error at `at` when it is not an http(s) URL. */
export function otlpSignalUrl(endpoint: string, signal: OtlpSignal, at: ConfigLocation): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new ConfigValueError(at, `${describeValue(endpoint)} is not a URL: expected e.g. http://localhost:4318`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigValueError(at, `${describeValue(endpoint)} is not an http(s) URL: OTLP/HTTP needs http:// or https://`);
  }
  const path = `/v1/${signal}`;
  if (url.pathname.endsWith(path)) return url.href;
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
  return url.href;
}
