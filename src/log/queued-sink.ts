/**
 * A bounded, never-blocking line queue in front of a SinkTarget (userver's async logger queue with
 * `overflow_behavior: discard`).
 *
 * `push()` only appends to a string and bumps counters: it never waits and never throws. Lines
 * collected during one turn of the event loop are written as one batch on `setImmediate`, one
 * write in flight at a time (backpressure: the next batch waits for the previous write). Lines
 * that are queued or in flight count against `maxLines`; past it, new lines are dropped and
 * counted. Write errors are counted (the lines are lost) and reported once per kind of error.
 */
import type { SinkTarget } from './sink-target.js';

/** Counters shared by every sink of the process (they survive sink swaps). */
export interface SinkCounters {
  /** Lines handed to a destination completely. */
  written: number;
  /** Lines discarded because the queue was full. */
  dropped: number;
  /** Lines lost because the destination failed (EPIPE, ENOSPC, EBADF...). */
  failed: number;
}

/** Bounds and accounting of one QueuedSink. */
export interface QueuedSinkOptions {
  /** Bound on lines queued or being written (userver's `message_queue_size`). */
  readonly maxLines: number;
  /** Bound on characters queued or being written, so a few huge lines cannot exhaust memory. */
  readonly maxChars: number;
  readonly counters: SinkCounters;
  /** Told about a write error (once per error code), e.g. to log a warning elsewhere. */
  readonly onError?: (error: NodeJS.ErrnoException) => void;
}

/** Characters per queued chunk: lines are appended to a chunk until it reaches this size. */
const CHUNK_CHARS = 64 * 1024;
/** Characters per write, roughly (whole chunks): bounds the encoding work done per write on the loop. */
const BATCH_CHARS = 1024 * 1024;

/** How long to wait before retrying a write the OS refused with EAGAIN (a non-blocking pipe is full). */
const EAGAIN_RETRY_MS = 10;

/** A bounded queue of lines written asynchronously to one target. */
export class QueuedSink {
  readonly target: SinkTarget;
  private readonly options: QueuedSinkOptions;
  /**
   * Lines not yet handed to the target: full chunks of about CHUNK_CHARS characters, then the
   * chunk being filled (`tail`; V8 ropes make `+=` cheap). Chunks keep each write, and so the
   * flattening and UTF-8 encoding done on the event loop, at about BATCH_CHARS whatever the backlog.
   */
  private readonly chunks: string[] = [];
  private readonly chunkLines: number[] = [];
  private tail = '';
  private tailLines = 0;
  private pendingLines = 0;
  private pendingChars = 0;
  /** The batch being written: its bytes, how far the target got, and its line count. */
  private inflight: Buffer | undefined;
  private inflightOffset = 0;
  private inflightLines = 0;
  private inflightChars = 0;
  private scheduled = false;
  private closed = false;
  private readonly reportedErrors = new Set<string>();
  private idleWaiters: Array<() => void> = [];

  constructor(target: SinkTarget, options: QueuedSinkOptions) {
    this.target = target;
    this.options = options;
  }

  /** Lines queued or being written now. */
  get queuedLines(): number {
    return this.pendingLines + this.inflightLines;
  }

  /**
   * Queues one complete line (ending in `\n`). Returns false when it was dropped (queue full or
   * sink closed). Never blocks, never throws.
   */
  push(line: string): boolean {
    const counters = this.options.counters;
    if (
      this.closed ||
      this.pendingLines + this.inflightLines >= this.options.maxLines ||
      this.pendingChars + this.inflightChars + line.length > this.options.maxChars
    ) {
      counters.dropped++;
      return false;
    }
    this.tail += line;
    this.tailLines++;
    this.pendingLines++;
    this.pendingChars += line.length;
    if (this.tail.length >= CHUNK_CHARS) {
      this.chunks.push(this.tail);
      this.chunkLines.push(this.tailLines);
      this.tail = '';
      this.tailLines = 0;
    }
    if (!this.scheduled && this.inflight === undefined) {
      this.scheduled = true;
      setImmediate(this.writeNext);
    }
    return true;
  }

  /** Resolves once everything queued so far is written (or lost), or after `timeoutMs`. True if idle. */
  flush(timeoutMs: number): Promise<boolean> {
    if (this.isIdle()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== onIdle);
        resolve(false);
      }, timeoutMs);
      const onIdle = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(onIdle);
    });
  }

  /**
   * Stops accepting lines, waits up to `timeoutMs` for the queue to drain, counts what is left as
   * dropped and closes the target. Safe to call twice.
   */
  async close(timeoutMs: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flush(timeoutMs);
    // Whatever did not make it in time is lost; an in-flight write may still finish and is then counted.
    this.options.counters.dropped += this.pendingLines;
    this.chunks.length = 0;
    this.chunkLines.length = 0;
    this.tail = '';
    this.tailLines = 0;
    this.pendingLines = 0;
    this.pendingChars = 0;
    this.target.close();
  }

  /** Opens the target's file again (logrotate); see SinkTarget.reopen. */
  reopen(): Promise<void> {
    return this.target.reopen();
  }

  private isIdle(): boolean {
    return this.pendingLines === 0 && this.inflight === undefined;
  }

  // An arrow property: passed to setImmediate/setTimeout without a per-call closure.
  private readonly writeNext = (): void => {
    this.scheduled = false;
    let batch = this.inflight;
    if (batch === undefined) {
      if (this.pendingLines === 0) return this.notifyIdle();
      batch = this.takeBatch();
    }
    const data = this.inflightOffset === 0 ? batch : batch.subarray(this.inflightOffset);
    try {
      this.target.write(data, this.onWritten);
    } catch (error) {
      // fs.write throws synchronously for an invalid descriptor; treat it like an async failure.
      this.onWritten(error as NodeJS.ErrnoException, 0);
    }
  };

  /** Moves the oldest pending lines, about BATCH_CHARS of them (whole lines), into `inflight`. */
  private takeBatch(): Buffer {
    let text = '';
    let lines = 0;
    while (this.chunks.length > 0 && text.length < BATCH_CHARS) {
      text += this.chunks.shift() as string;
      lines += this.chunkLines.shift() as number;
    }
    if (text.length < BATCH_CHARS && this.tailLines > 0) {
      text += this.tail;
      lines += this.tailLines;
      this.tail = '';
      this.tailLines = 0;
    }
    this.inflight = Buffer.from(text, 'utf8');
    this.inflightOffset = 0;
    this.inflightLines = lines;
    this.inflightChars = text.length;
    this.pendingLines -= lines;
    this.pendingChars -= text.length;
    return this.inflight;
  }

  private readonly onWritten = (error: NodeJS.ErrnoException | null, bytesWritten: number): void => {
    const batch = this.inflight;
    if (batch === undefined) return;
    if (error) {
      if (error.code === 'EAGAIN' || error.code === 'EWOULDBLOCK') {
        // A non-blocking pipe is full: try the same bytes again shortly, without spinning.
        this.scheduled = true;
        setTimeout(this.writeNext, EAGAIN_RETRY_MS);
        return;
      }
      this.options.counters.failed += this.inflightLines;
      this.report(error);
      return this.finishBatch();
    }
    this.inflightOffset += bytesWritten;
    if (this.inflightOffset < batch.length) {
      // A partial write (a pipe took part of the batch): write the rest before anything newer.
      this.scheduled = true;
      setImmediate(this.writeNext);
      return;
    }
    this.options.counters.written += this.inflightLines;
    this.finishBatch();
  };

  private finishBatch(): void {
    this.inflight = undefined;
    this.inflightOffset = 0;
    this.inflightLines = 0;
    this.inflightChars = 0;
    // Lines queued meanwhile go next (also while closing, until close()'s timeout gives up).
    if (this.pendingLines > 0) {
      this.scheduled = true;
      setImmediate(this.writeNext);
    } else {
      this.notifyIdle();
    }
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    if (waiters.length === 0) return;
    this.idleWaiters = [];
    for (const waiter of waiters) waiter();
  }

  private report(error: NodeJS.ErrnoException): void {
    const key = error.code ?? error.message;
    if (this.reportedErrors.has(key)) return;
    this.reportedErrors.add(key);
    try {
      this.options.onError?.(error);
    } catch {
      // A reporting hook must not break the sink.
    }
  }
}
