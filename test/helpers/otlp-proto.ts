/**
 * The OTLP v1 protobuf messages an OTLP/HTTP receiver needs (opentelemetry-proto: common, resource,
 * trace, metrics and the two collector export requests), stated in .proto syntax with the
 * specification's field numbers and parsed by protobufjs. Fields tcp-echo never sends (events,
 * links, exemplars, exponential histograms, summaries) are left out: protobufjs skips unknown
 * fields. Decoded messages are turned into the OTLP/JSON shape (camelCase, int64 as strings,
 * bytes as base64), so one code path reads both encodings.
 */
import protobuf from 'protobufjs';

const OTLP_PROTO = `
syntax = "proto3";
package opentelemetry.proto;

message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope {
  string name = 1;
  string version = 2;
  repeated KeyValue attributes = 3;
  uint32 dropped_attributes_count = 4;
}
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }

message Status { string message = 2; int32 code = 3; }
message Span {
  bytes trace_id = 1;
  bytes span_id = 2;
  string trace_state = 3;
  bytes parent_span_id = 4;
  fixed32 flags = 16;
  string name = 5;
  int32 kind = 6;
  fixed64 start_time_unix_nano = 7;
  fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9;
  uint32 dropped_attributes_count = 10;
  uint32 dropped_events_count = 12;
  uint32 dropped_links_count = 14;
  Status status = 15;
}
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }

message NumberDataPoint {
  repeated KeyValue attributes = 7;
  fixed64 start_time_unix_nano = 2;
  fixed64 time_unix_nano = 3;
  oneof value {
    double as_double = 4;
    sfixed64 as_int = 6;
  }
  uint32 flags = 8;
}
message HistogramDataPoint {
  repeated KeyValue attributes = 9;
  fixed64 start_time_unix_nano = 2;
  fixed64 time_unix_nano = 3;
  fixed64 count = 4;
  optional double sum = 5;
  repeated fixed64 bucket_counts = 6;
  repeated double explicit_bounds = 7;
  uint32 flags = 10;
  optional double min = 11;
  optional double max = 12;
}
message Gauge { repeated NumberDataPoint data_points = 1; }
message Sum { repeated NumberDataPoint data_points = 1; int32 aggregation_temporality = 2; bool is_monotonic = 3; }
message Histogram { repeated HistogramDataPoint data_points = 1; int32 aggregation_temporality = 2; }
message Metric {
  string name = 1;
  string description = 2;
  string unit = 3;
  oneof data {
    Gauge gauge = 5;
    Sum sum = 7;
    Histogram histogram = 9;
  }
}
message ScopeMetrics { InstrumentationScope scope = 1; repeated Metric metrics = 2; string schema_url = 3; }
message ResourceMetrics { Resource resource = 1; repeated ScopeMetrics scope_metrics = 2; string schema_url = 3; }
message ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }
`;

const root = protobuf.parse(OTLP_PROTO).root;
const traceRequest = root.lookupType('opentelemetry.proto.ExportTraceServiceRequest');
const metricsRequest = root.lookupType('opentelemetry.proto.ExportMetricsServiceRequest');
const TO_JSON_SHAPE = { longs: String, bytes: String, enums: Number, defaults: false, oneofs: false } as const;

/** An ExportTraceServiceRequest body → its OTLP/JSON shape. Throws on a body that is not one. */
export function decodeTraceRequest(body: Uint8Array): Record<string, unknown> {
  return traceRequest.toObject(traceRequest.decode(body), TO_JSON_SHAPE);
}

/** An ExportMetricsServiceRequest body → its OTLP/JSON shape. Throws on a body that is not one. */
export function decodeMetricsRequest(body: Uint8Array): Record<string, unknown> {
  return metricsRequest.toObject(metricsRequest.decode(body), TO_JSON_SHAPE);
}
