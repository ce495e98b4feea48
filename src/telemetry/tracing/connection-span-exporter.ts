/**
 * The OTLP/HTTP span exporter: the SDK's export delegate (every OTEL_EXPORTER_OTLP_* /
 * OTEL_EXPORTER_OTLP_TRACES_* setting: endpoint, headers, timeout, compression, concurrency,
 * certificates; its export metrics and partial-success handling), with our one-pass serializer
 * for the protocol ({@link ConnectionSpanJsonSerializer}, {@link ConnectionSpanProtobufSerializer})
 * in place of the SDK's, which they still use for any batch that is not made of our connection
 * spans. For an `http:` collector the bytes go out on a kept-open connection of our own
 * ({@link KeptOpenHttpTransport}, with the SDK's retry policy); for `https:` through the SDK's
 * Node HTTP transport, so TLS and its certificate settings stay Node's.
 */
import { OTLPExporterBase, createOtlpNetworkExportDelegate } from '@opentelemetry/otlp-exporter-base';
import {
  convertLegacyHttpOptions,
  createOtlpHttpExportDelegate,
  createOtlpHttpExporterMetrics,
  type OTLPExporterNodeConfigBase,
} from '@opentelemetry/otlp-exporter-base/node-http';
import { TraceExporterMetricsHelper } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { KeptOpenHttpTransport } from '../otlp/kept-open-http-transport.js';
import type { OtlpProtocol } from '../otlp/protocol.js';
import { RetryingTransport } from '../otlp/retrying-transport.js';
import { ConnectionSpanProtobufSerializer } from './connection-span-protobuf.js';
import { ConnectionSpanJsonSerializer } from './connection-span-serializer.js';

/** The component type the SDK's exporter reports for its self-observability metrics. */
const COMPONENT_TYPE = 'otlp_http_span_exporter';

/** Which HTTP client carries the exports (the tracer's start line says). */
export type SpanSender = 'kept-open' | 'node-http';

/** OTLP/HTTP exporter (protobuf or JSON) that encodes connection spans in one pass. */
export class ConnectionSpanOtlpExporter extends OTLPExporterBase<ReadableSpan[]> implements SpanExporter {
  readonly sender: SpanSender;
  readonly url: string;

  constructor(config: OTLPExporterNodeConfigBase = {}, protocol: OtlpProtocol = 'http/json') {
    const json = protocol === 'http/json';
    const options = convertLegacyHttpOptions(config, 'TRACES', 'v1/traces', { 'Content-Type': json ? 'application/json' : 'application/x-protobuf' });
    const serializer = json ? ConnectionSpanJsonSerializer : ConnectionSpanProtobufSerializer;
    const keptOpen = new URL(options.url).protocol === 'http:';
    super(
      keptOpen
        ? createOtlpNetworkExportDelegate(
            options,
            serializer,
            createOtlpHttpExporterMetrics(COMPONENT_TYPE, TraceExporterMetricsHelper, options.url, undefined),
            new RetryingTransport(
              new KeptOpenHttpTransport({ url: options.url, headers: options.headers, compression: options.compression, userAgent: options.userAgent }),
            ),
          )
        : createOtlpHttpExportDelegate(options, serializer, COMPONENT_TYPE, TraceExporterMetricsHelper, undefined),
    );
    this.sender = keptOpen ? 'kept-open' : 'node-http';
    this.url = options.url;
  }
}
