/**
 * A bounded, never-blocking line queue in front of a SinkTarget (userver's async logger queue with
 * `overflow_behavior: discard`).
 *
 * `push()` only copies the line's bytes into a buffer and bumps counters: it never waits and never
 * throws. An encoder can also write a line's bytes in place (`lineBuffer`, `commitLine`): tskv
 * lines are written that way, with no line string at all (tskv-bytes.ts). Lines are written in
 * batches, one write in flight at a time (backpressure: the next batch waits for the previous
 * write). A line after a quiet spell is written on `setImmediate`; while
 * lines keep coming, a batch starts at most every MIN_WRITE_INTERVAL_MS (or as soon as a full chunk
 * waits), because each write is a thread-pool round trip costing some 20 µs of CPU whatever its
 * size: written per loop turn, two lines per connection cost more than the connection's echo. Lines that are queued or in flight count against `maxLines`; past it, new lines
 * are dropped and counted. Write errors are counted (the lines are lost) and reported at most once a minute
 * per kind of error.
 *
 * Why bytes at once rather than strings until the write: a line is built by concatenation, which
 * V8 keeps as a rope (a node per piece, several hundred bytes of heap for a 200-character line),
 * and appending lines to a pending string makes a rope of ropes. Lines that wait for a write in
 * flight survive young-generation collections that way, get promoted, and grow the heap (and the
 * process RSS) for every connection that logs. Copied into a reused chunk at once, a line is
 * garbage before the next collection and the queue holds only plain bytes.
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
  /** Told about a write error (at most once a minute per error code), e.g. to log a warning elsewhere. */
  readonly onError?: (error: NodeJS.ErrnoException) => void;
}

/** Least time between two reports of the same kind of write error. */
const ERROR_REPORT_INTERVAL_MS = 60_000;

/** Bytes per queued chunk: lines are copied into a chunk until the next one would not fit. */
const CHUNK_BYTES = 64 * 1024;
/** Bytes per write, roughly (whole chunks): bounds the copying done per write on the loop. */
const BATCH_BYTES = 1024 * 1024;
/** UTF-8 takes at most 3 bytes per UTF-16 code unit: a line this short surely fits. */
const MAX_UTF8_PER_UNIT = 3;

/** Least time between the starts of two batches while lines keep coming (see the file comment). */
const MIN_WRITE_INTERVAL_MS = 10;

/** How long to wait before retrying a write the OS refused with EAGAIN (a non-blocking pipe is full). */
const EAGAIN_RETRY_MS = 10;

/** Queued lines as bytes. */
interface Chunk {
  readonly buf: Buffer;
  /** Bytes filled. */
  used: number;
  lines: number;
  chars: number;
}

/** A bounded queue of lines written asynchronously to one target. */
export class QueuedSink {
  readonly target: SinkTarget;
  private readonly options: QueuedSinkOptions;
  /** Full chunks not yet handed to the target, oldest first; then `current`, being filled. */
  private readonly chunks: Chunk[] = [];
  private current: Chunk | undefined;
  /** A chunk buffer whose write has finished, kept for the next chunk (two alternate when steady). */
  private spare: Buffer | undefined;
  private pendingLines = 0;
  private pendingChars = 0;
  /** The batch being written: its bytes, how far the target got, its chunks and line count. */
  private inflight: Buffer | undefined;
  private inflightChunks: Chunk[] = [];
  private inflightOffset = 0;
  private inflightLines = 0;
  private inflightChars = 0;
  private scheduled = false;
  /** `performance.now()` when the last batch was handed to the target. */
  private lastWriteAt = -Infinity;
  private closed = false;
  /** When each kind of write error was last reported (performance.now() ms). */
  private readonly reportedErrors = new Map<string, number>();
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
    this.append(line);
    this.pendingLines++;
    this.pendingChars += line.length;
    if (!this.scheduled && this.inflight === undefined) this.scheduleWrite();
    return true;
  }

  /**
   * For a line its encoder writes straight into the queue's bytes (see tskv-bytes.ts): the buffer
   * of the chunk being filled, with at least `room` bytes free from `writeAt` on; undefined when
   * the line is dropped (queue full or sink closed: counted). `commitLine(end)` queues what was
   * written up to `end`; without it nothing is queued. `room` is at most CHUNK_BYTES.
   */
  lineBuffer(room: number): Buffer | undefined {
    if (this.closed || this.pendingLines + this.inflightLines >= this.options.maxLines || this.pendingChars + this.inflightChars >= this.options.maxChars) {
      this.options.counters.dropped++;
      return undefined;
    }
    let chunk = this.current;
    if (chunk === undefined || CHUNK_BYTES - chunk.used < room) {
      if (chunk !== undefined) this.chunks.push(chunk);
      chunk = { buf: this.spare ?? Buffer.allocUnsafeSlow(CHUNK_BYTES), used: 0, lines: 0, chars: 0 };
      this.spare = undefined;
      this.current = chunk;
    }
    return chunk.buf;
  }

  /** Where the line asked for by `lineBuffer` starts. */
  get writeAt(): number {
    return (this.current as Chunk).used;
  }

  /** Queues the line written from `writeAt` up to `end` (its bytes count as its characters). */
  commitLine(end: number): void {
    const chunk = this.current as Chunk;
    const bytes = end - chunk.used;
    chunk.used = end;
    chunk.lines++;
    chunk.chars += bytes;
    this.pendingLines++;
    this.pendingChars += bytes;
    if (!this.scheduled && this.inflight === undefined) this.scheduleWrite();
  }

  /** Copies `line` (UTF-8) behind the queued ones. */
  private append(line: string): void {
    let chunk = this.current;
    const free = chunk === undefined ? 0 : CHUNK_BYTES - chunk.used;
    if (chunk === undefined || line.length * MAX_UTF8_PER_UNIT > free) {
      // Possibly too long for what is left: measure it exactly before deciding.
      const bytes = Buffer.byteLength(line, 'utf8');
      if (chunk === undefined || bytes > free) {
        if (chunk !== undefined) this.chunks.push(chunk);
        if (bytes > CHUNK_BYTES) {
          // A line longer than a chunk gets its own.
          this.chunks.push({ buf: Buffer.from(line, 'utf8'), used: bytes, lines: 1, chars: line.length });
          this.current = undefined;
          return;
        }
        chunk = { buf: this.spare ?? Buffer.allocUnsafeSlow(CHUNK_BYTES), used: 0, lines: 0, chars: 0 };
        this.spare = undefined;
        this.current = chunk;
      }
    }
    chunk.used += chunk.buf.write(line, chunk.used, 'utf8');
    chunk.lines++;
    chunk.chars += line.length;
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
    this.current = undefined;
    this.spare = undefined;
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

  /** Starts the next batch on `setImmediate`, or later to keep MIN_WRITE_INTERVAL_MS between batches. */
  private scheduleWrite(): void {
    this.scheduled = true;
    const wait = this.lastWriteAt + MIN_WRITE_INTERVAL_MS - performance.now();
    // A full chunk waiting is written at once: the interval saves small writes, not throughput.
    if (wait <= 0 || this.chunks.length > 0) setImmediate(this.writeNext);
    // Whole milliseconds: Node keeps one timer list per duration, and a fractional wait would
    // create (and free) a list for nearly every batch.
    else setTimeout(this.writeNext, Math.ceil(wait));
  }

  // An arrow property: passed to setImmediate/setTimeout without a per-call closure.
  private readonly writeNext = (): void => {
    this.scheduled = false;
    let batch = this.inflight;
    if (batch === undefined) {
      if (this.pendingLines === 0) return this.notifyIdle();
      batch = this.takeBatch();
      this.lastWriteAt = performance.now();
    }
    const data = this.inflightOffset === 0 ? batch : batch.subarray(this.inflightOffset);
    try {
      this.target.write(data, this.onWritten);
    } catch (error) {
      // fs.write throws synchronously for an invalid descriptor; treat it like an async failure.
      this.onWritten(error as NodeJS.ErrnoException, 0);
    }
  };

  /** Moves the oldest pending lines, about BATCH_BYTES of them (whole chunks), into `inflight`. */
  private takeBatch(): Buffer {
    const taken: Chunk[] = [];
    let bytes = 0;
    while (this.chunks.length > 0 && bytes < BATCH_BYTES) {
      const chunk = this.chunks.shift() as Chunk;
      taken.push(chunk);
      bytes += chunk.used;
    }
    if (bytes < BATCH_BYTES && this.current !== undefined) {
      taken.push(this.current);
      bytes += this.current.used;
      this.current = undefined;
    }
    let lines = 0;
    let chars = 0;
    for (const chunk of taken) {
      lines += chunk.lines;
      chars += chunk.chars;
    }
    const first = taken[0] as Chunk;
    // One chunk (the usual case: the lines of one loop turn) is written in place; a backlog is
    // joined into one write.
    this.inflight =
      taken.length === 1 ? first.buf.subarray(0, first.used) : Buffer.concat(taken.map((c) => c.buf.subarray(0, c.used)), bytes);
    this.inflightChunks = taken;
    this.inflightOffset = 0;
    this.inflightLines = lines;
    this.inflightChars = chars;
    this.pendingLines -= lines;
    this.pendingChars -= chars;
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
    // The target is done with these bytes: a chunk buffer can take new lines.
    if (this.spare === undefined && !this.closed) {
      for (const chunk of this.inflightChunks) {
        if (chunk.buf.length === CHUNK_BYTES) {
          this.spare = chunk.buf;
          break;
        }
      }
    }
    this.inflightChunks = [];
    this.inflight = undefined;
    this.inflightOffset = 0;
    this.inflightLines = 0;
    this.inflightChars = 0;
    // Lines queued meanwhile go next (also while closing, until close()'s timeout gives up).
    if (this.pendingLines > 0) {
      this.scheduleWrite();
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
    // A full disk fails every write: one note a minute says it is still happening, not one per batch.
    const now = performance.now();
    const last = this.reportedErrors.get(key);
    if (last !== undefined && now - last < ERROR_REPORT_INTERVAL_MS) return;
    this.reportedErrors.set(key, now);
    try {
      this.options.onError?.(error);
    } catch {
      // A reporting hook must not break the sink.
    }
  }
}
