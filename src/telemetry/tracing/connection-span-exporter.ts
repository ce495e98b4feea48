/**
 * The OTLP/HTTP JSON span exporter: the SDK's own HTTP export delegate (every
 * OTEL_EXPORTER_OTLP_* / OTEL_EXPORTER_OTLP_TRACES_* setting: endpoint, headers, timeout,
 * compression, retries, agent), with {@link ConnectionSpanJsonSerializer} in place of the SDK's
 * JsonTraceSerializer, which it still uses for any batch that is not made of our connection spans.
 * What `OTLPTraceExporter` from `@opentelemetry/exporter-trace-otlp-http` builds, minus the serializer.
 */
import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import {
  convertLegacyHttpOptions,
  createOtlpHttpExportDelegate,
  type OTLPExporterNodeConfigBase,
} from '@opentelemetry/otlp-exporter-base/node-http';
import { TraceExporterMetricsHelper } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { ConnectionSpanJsonSerializer } from './connection-span-serializer.js';

/** The component type the SDK's exporter reports for its self-observability metrics. */
const COMPONENT_TYPE = 'otlp_http_span_exporter';

/** OTLP/HTTP JSON exporter that encodes connection spans in one pass. */
export class ConnectionSpanOtlpExporter extends OTLPExporterBase<ReadableSpan[]> implements SpanExporter {
  constructor(config: OTLPExporterNodeConfigBase = {}) {
    super(
      createOtlpHttpExportDelegate(
        convertLegacyHttpOptions(config, 'TRACES', 'v1/traces', { 'Content-Type': 'application/json' }),
        ConnectionSpanJsonSerializer,
        COMPONENT_TYPE,
        TraceExporterMetricsHelper,
        undefined,
      ),
    );
  }
}
