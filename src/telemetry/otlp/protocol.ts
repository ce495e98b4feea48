/**
 * Which OTLP encoding a signal is exported with: OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL, else
 * OTEL_EXPORTER_OTLP_PROTOCOL, else the config, else `http/protobuf` (the specification's default).
 *
 * `grpc` is refused, never silently replaced: the gRPC exporters (@opentelemetry/exporter-*-otlp-grpc
 * with @grpc/grpc-js and protobufjs, which has an install script) take the production install from
 * 15 packages / 22 MB to 51 / 36 MB, and loading them takes ~340 ms instead of ~170 ms and 8 MB
 * more RSS (medians of 5 runs on a busy 2-core machine), for an encoding every collector also
 * accepts over HTTP (port 4318). The signal is then not exported over OTLP,
 * and the caller logs the returned warning once at start.
 */
import type { Env } from '../tracing/settings.js';

/** The OTLP encodings tcp-echo exports with. */
export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/** The spec's default. */
export const DEFAULT_OTLP_PROTOCOL: OtlpProtocol = 'http/protobuf';

/** A protocol to export with, or the reason the signal is not exported (one warning line). */
export type ProtocolChoice =
  | { readonly protocol: OtlpProtocol; readonly source: string }
  | { readonly refused: string };

/** Resolves the protocol of `signal` (`traces` or `metrics`). */
export function resolveOtlpProtocol(signal: 'traces' | 'metrics', fromConfig: OtlpProtocol | undefined, env: Env): ProtocolChoice {
  const specific = `OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_PROTOCOL`;
  const name = nonEmpty(env[specific]) ? specific : nonEmpty(env.OTEL_EXPORTER_OTLP_PROTOCOL) ? 'OTEL_EXPORTER_OTLP_PROTOCOL' : undefined;
  if (name === undefined) return { protocol: fromConfig ?? DEFAULT_OTLP_PROTOCOL, source: fromConfig ? 'config' : 'default' };
  const value = (env[name] ?? '').trim().toLowerCase();
  if ((OTLP_PROTOCOLS as readonly string[]).includes(value)) return { protocol: value as OtlpProtocol, source: name };
  if (value === 'grpc') {
    return {
      refused:
        `${name}=grpc is not supported (the gRPC exporters would triple the production install); ` +
        `${signal} are not exported over OTLP: use http/protobuf or http/json (collector port 4318)`,
    };
  }
  return { refused: `${name}=${env[name]} is not one of http/protobuf, http/json; ${signal} are not exported over OTLP` };
}

function nonEmpty(value: string | undefined): value is string {
  return value !== undefined && value.trim() !== '';
}
