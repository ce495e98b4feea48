/**
 * Carries what the workers write on stdout/stderr to the primary's own stdout/stderr, whole lines
 * at a time. Several processes writing one pipe can split each other's lines (a write larger than
 * PIPE_BUF, 4 KiB, is not atomic, and the log sink writes batches); for a pipe, socket or terminal
 * the workers therefore get pipes of their own and the primary re-queues every complete line into
 * the one queue that writes its stream, so each stream has a single writer and lines never
 * interleave. A regular file or /dev/null is shared as it is: Linux serialises writes to one open
 * file (each write lands whole at the current end), so the relay would only cost CPU there.
 */
import { fstatSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { isatty } from 'node:tty';
import { registry } from '../log/index.js';
import { DEFAULT_QUEUE_CHARS, DEFAULT_QUEUE_LINES } from '../log/logger-registry.js';
import { QueuedSink } from '../log/queued-sink.js';
import { openSinkTarget } from '../log/sink-target.js';

/** A line longer than this without a newline is passed on in pieces (bounds the memory a worker can pin). */
export const MAX_PARTIAL_LINE_CHARS = 1024 * 1024;

/** Which standard stream, by the logging config's name for it. */
export type StdStream = '@stdout' | '@stderr';

/**
 * How a worker's stdout (fd 1) or stderr (fd 2) is set up: `inherit` shares the primary's
 * descriptor (a regular file, or a character device that is not a terminal, e.g. /dev/null);
 * `pipe` gives the worker a pipe that the primary relays line by line. `ignore` when the primary
 * has no such descriptor.
 */
export function workerStdio(fd: 1 | 2): 'inherit' | 'pipe' | 'ignore' {
  try {
    const stat = fstatSync(fd);
    if (stat.isFile() || (stat.isCharacterDevice() && !isatty(fd))) return 'inherit';
    return 'pipe';
  } catch {
    return 'ignore';
  }
}

/**
 * Splits a stream of text into complete lines. `push` returns the complete lines (each ending in
 * `\n`, possibly several concatenated) found so far; the incomplete rest waits for the next chunk.
 */
export class LineSplitter {
  #partial = '';

  /** The complete lines in `partial + chunk`, as one string ('' when none is complete yet). */
  push(chunk: string): string {
    const text = this.#partial + chunk;
    const end = text.lastIndexOf('\n');
    if (end === -1) {
      if (text.length >= MAX_PARTIAL_LINE_CHARS) {
        this.#partial = '';
        return `${text}\n`;
      }
      this.#partial = text;
      return '';
    }
    this.#partial = text.slice(end + 1);
    return text.slice(0, end + 1);
  }

  /** What is left without a newline, terminated (at the stream's end). */
  end(): string {
    const rest = this.#partial;
    this.#partial = '';
    return rest === '' ? '' : `${rest}\n`;
  }
}

/**
 * The primary's side: one queue per standard stream. A stream the logging config writes to is
 * served by the logging sink itself (the one writer of that descriptor); the other by a queue of
 * the relay's own. Lines the queue cannot take are dropped and counted (`logger.lines.dropped`).
 */
export class LogRelay {
  readonly #own = new Map<StdStream, Promise<QueuedSink>>();
  readonly #sinks: QueuedSink[] = [];

  /** Relays `stream` (a worker's stdout or stderr) into `target` until it ends. */
  attach(stream: Readable | null | undefined, target: StdStream): void {
    if (!stream) return;
    const splitter = new LineSplitter();
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => this.#write(target, splitter.push(chunk)));
    stream.on('end', () => this.#write(target, splitter.end()));
    // A broken pipe from a killed worker is the end of its output, nothing more.
    stream.on('error', () => {});
  }

  /** Waits (bounded) until relayed lines are written, then releases the relay's own queues. */
  async close(timeoutMs: number): Promise<void> {
    await Promise.all(this.#sinks.map((sink) => sink.close(timeoutMs)));
  }

  #write(target: StdStream, lines: string): void {
    if (lines === '') return;
    const current = registry.current().sink;
    if (current.target.name === target) {
      current.push(lines);
      return;
    }
    void this.#ownSink(target).then((sink) => sink.push(lines));
  }

  #ownSink(target: StdStream): Promise<QueuedSink> {
    let sink = this.#own.get(target);
    if (!sink) {
      sink = openSinkTarget(target).then((opened) => {
        const queued = new QueuedSink(opened, { maxLines: DEFAULT_QUEUE_LINES, maxChars: DEFAULT_QUEUE_CHARS, counters: registry.counters });
        this.#sinks.push(queued);
        return queued;
      });
      this.#own.set(target, sink);
    }
    return sink;
  }
}
