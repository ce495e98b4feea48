/**
 * The OTLP/HTTP span exporter: the SDK's own HTTP export delegate (every
 * OTEL_EXPORTER_OTLP_* / OTEL_EXPORTER_OTLP_TRACES_* setting: endpoint, headers, timeout,
 * compression, retries, agent), with our one-pass serializer for the protocol
 * ({@link ConnectionSpanJsonSerializer}, {@link ConnectionSpanProtobufSerializer}) in place of
 * the SDK's, which they still use for any batch that is not made of our connection spans.
 * What `OTLPTraceExporter` from `@opentelemetry/exporter-trace-otlp-http` / `-proto` builds,
 * minus the serializer.
 */
import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import {
  convertLegacyHttpOptions,
  createOtlpHttpExportDelegate,
  type OTLPExporterNodeConfigBase,
} from '@opentelemetry/otlp-exporter-base/node-http';
import { TraceExporterMetricsHelper } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import type { OtlpProtocol } from '../otlp/protocol.js';
import { ConnectionSpanProtobufSerializer } from './connection-span-protobuf.js';
import { ConnectionSpanJsonSerializer } from './connection-span-serializer.js';

/** The component type the SDK's exporter reports for its self-observability metrics. */
const COMPONENT_TYPE = 'otlp_http_span_exporter';

/** OTLP/HTTP exporter (protobuf or JSON) that encodes connection spans in one pass. */
export class ConnectionSpanOtlpExporter extends OTLPExporterBase<ReadableSpan[]> implements SpanExporter {
  constructor(config: OTLPExporterNodeConfigBase = {}, protocol: OtlpProtocol = 'http/json') {
    const json = protocol === 'http/json';
    super(
      createOtlpHttpExportDelegate(
        convertLegacyHttpOptions(config, 'TRACES', 'v1/traces', { 'Content-Type': json ? 'application/json' : 'application/x-protobuf' }),
        json ? ConnectionSpanJsonSerializer : ConnectionSpanProtobufSerializer,
        COMPONENT_TYPE,
        TraceExporterMetricsHelper,
        undefined,
      ),
    );
  }
}
