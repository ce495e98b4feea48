/**
 * The embedded default: finished spans written to the service's own log the way userver's
 * `tracing::Span` writes itself when it ends (`core/src/tracing/span_impl.cpp`): one info record
 * per span with `stopwatch_name`, `total_time` (ms), `span_ref_type`, `stopwatch_units=ms`,
 * `start_timestamp` (unix seconds with microseconds), the span's tags, and `trace_id`, `span_id`,
 * `parent_id`. So a user sees spans without running any collector.
 */
import { SpanStatusCode, TraceFlags, type AttributeValue } from '@opentelemetry/api';
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace';
import type { LogFields, Logger } from '../../log/logger.js';
import type { SpanCounters } from './span-counters.js';

/**
 * A SpanProcessor that logs each sampled span as it ends. It formats synchronously (the log sink
 * itself never blocks), so there is no queue to lose spans from, and does nothing at all when
 * the logger's info level is off.
 */
export class SpanLogProcessor implements SpanProcessor {
  constructor(
    private readonly logger: Logger,
    private readonly counters: SpanCounters,
  ) {}

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (!this.logger.isEnabled('info')) return;
    this.logger.info('', spanRecord(span));
    this.counters.exported++;
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** The log fields of one finished span, in userver's names. Exported for tests. */
export function spanRecord(span: ReadableSpan): LogFields {
  const context = span.spanContext();
  const [durationS, durationNs] = span.duration;
  const [startS, startNs] = span.startTime;
  const fields: Record<string, string | number | boolean> = {
    stopwatch_name: span.name,
    total_time: (durationS * 1e3 + durationNs / 1e6).toFixed(3),
    span_ref_type: 'child',
    stopwatch_units: 'ms',
    start_timestamp: `${startS}.${String(Math.floor(startNs / 1000)).padStart(6, '0')}`,
  };
  for (const [key, value] of Object.entries(span.attributes)) {
    const v = tagValue(value);
    if (v !== undefined) fields[key] = v;
  }
  if (span.status.code === SpanStatusCode.ERROR) {
    // userver's error tags: `error` and `error_msg`.
    fields.error = true;
    if (span.status.message) fields.error_msg = span.status.message;
  }
  fields.trace_id = context.traceId;
  fields.span_id = context.spanId;
  if (span.parentSpanContext) fields.parent_id = span.parentSpanContext.spanId;
  return fields;
}

function tagValue(value: AttributeValue | undefined): string | number | boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) return value.join(',');
  return value as string | number | boolean;
}
