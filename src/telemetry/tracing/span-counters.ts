/**
 * What happened to finished spans, as plain numbers the metrics read at collection time
 * (`tcp-echo.tracing.spans.exported` / `.dropped`), plus the two wrappers that keep them: one
 * bounds the export queue itself (so every queue-full drop is counted exactly), the other sees
 * each export's result.
 */
import { TraceFlags, type Context } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace';
import { ConnectionSpan } from './otel-connection-tracer.js';

/** Span fates since start. Only ever grow. */
export class SpanCounters {
  /** Spans delivered: accepted by the OTLP collector, or written to the span log (a span sent to both counts twice). */
  exported = 0;
  /** Spans lost: the export queue was full, or an export failed (collector down, 5xx, timeout). */
  dropped = 0;
  /** Of `dropped`, those refused because the queue was full. */
  droppedQueueFull = 0;
  /** Of `dropped`, those in failed exports. */
  droppedExportFailed = 0;
}

/**
 * Wraps an exporter to count each batch's outcome. Results arrive once per batch (the OTLP
 * exporter retries inside `export`), so nothing here runs per span.
 */
export class CountingSpanExporter implements SpanExporter {
  /** Spans handed to the inner exporter so far (successful, failed or still in flight). */
  handed = 0;

  constructor(
    private readonly inner: SpanExporter,
    private readonly counters: SpanCounters,
  ) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    const n = spans.length;
    this.handed += n;
    let settled = false;
    const done = (result: ExportResult): void => {
      if (settled) return;
      settled = true;
      if (result.code === ExportResultCode.SUCCESS) this.counters.exported += n;
      else {
        this.counters.dropped += n;
        this.counters.droppedExportFailed += n;
      }
      resultCallback(result);
    };
    try {
      this.inner.export(spans, done);
    } catch (error) {
      done({ code: ExportResultCode.FAILED, error: error instanceof Error ? error : new Error(String(error)) });
    }
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

/**
 * Sits in front of a BatchSpanProcessor and enforces its queue bound itself: the batch processor
 * drops silently when full (only a diag line), so the bound is applied here, where the drop can
 * be counted. Spans waiting = spans passed on − spans handed to the exporter; the batch
 * processor's own queue is never longer, so it never drops on its own.
 */
export class QueueBoundSpanProcessor implements SpanProcessor {
  private passed = 0;

  constructor(
    private readonly inner: SpanProcessor,
    private readonly exporter: CountingSpanExporter,
    private readonly maxQueueSize: number,
    private readonly counters: SpanCounters,
  ) {}

  onStart(span: Span, parentContext: Context): void {
    this.inner.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    // Unsampled spans never reach the queue (the batch processor skips them too). A connection
    // span is sampled by construction: no SpanContext is built to ask.
    if (!(span instanceof ConnectionSpan) && (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.passed - this.exporter.handed >= this.maxQueueSize) {
      this.counters.dropped++;
      this.counters.droppedQueueFull++;
      return;
    }
    this.passed++;
    this.inner.onEnd(span);
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}
