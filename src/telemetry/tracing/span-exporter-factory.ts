/**
 * The one place the OTLP span exporter is built: the encoding (protobuf or JSON over HTTP) and the
 * options the tracer resolved. Everything else in the pipeline sees a SpanExporter, so a faster
 * export path can replace this function alone.
 */
import type { OtlpProtocol } from '../otlp/protocol.js';
import { ConnectionSpanOtlpExporter } from './connection-span-exporter.js';

/** What the span exporter is built from. */
export interface SpanExporterOptions {
  readonly protocol: OtlpProtocol;
  /** The traces URL from the config; absent: the exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT. */
  readonly url?: string;
  /** Bound on one request, retries included; absent: OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT. */
  readonly timeoutMillis?: number;
}

/**
 * An OTLP/HTTP span exporter for `options.protocol` (headers, compression: the OTEL_* variables).
 * Either way the SDK's export delegate with the one-pass encoder for connection spans; `http:`
 * collectors get our kept-open sender, `https:` ones the SDK's Node transport (issue 13).
 */
export function createOtlpSpanExporter(options: SpanExporterOptions): ConnectionSpanOtlpExporter {
  const config = {
    ...(options.url === undefined ? {} : { url: options.url }),
    ...(options.timeoutMillis === undefined ? {} : { timeoutMillis: options.timeoutMillis }),
  };
  return new ConnectionSpanOtlpExporter(config, options.protocol);
}
