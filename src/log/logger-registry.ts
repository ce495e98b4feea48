/**
 * The loggers of a process and the one configuration they share (level, format, sink).
 *
 * Speed: a logger's level methods are chosen when the level is set — a disabled level is a shared
 * no-op function, an enabled one writes — so a call never compares levels (pino's `lib/levels.js`).
 * Module loggers are few and live forever, so the registry keeps them and re-assigns their methods
 * on every level change. Child loggers (one per connection) are *not* kept: a child is
 * `Object.create(parent)` with its own precomputed field part (or, made by `bind`, fields written
 * as bytes when a line is), so it finds the level methods
 * through its prototype chain and follows level changes for free, and it is garbage once its
 * connection is gone.
 */
import { jsonEncoder } from './json-line.js';
import type { LineEncoder, LineLevel, LogFormat } from './line-encoder.js';
import { LOG_LEVELS, type BoundFields, type LogFields, type LogLevel, type LogMethod, type Logger } from './logger.js';
import { QueuedSink, type SinkCounters } from './queued-sink.js';
import { stderrTarget } from './sink-target.js';
import { logTimestamp, nowEpochMicros } from './timestamp.js';
import type { LineValue, PreparedLine } from './prepared-line.js';
import { writePreparedTskvLine, writeTskvLine } from './tskv-bytes.js';
import { tskvEncoder } from './tskv.js';

/** Levels that produce lines, lowest first. */
export const LINE_LEVELS = LOG_LEVELS.filter((l): l is LineLevel => l !== 'none');

const LEVEL_RANK: Readonly<Record<LogLevel, number>> = {
  trace: 0,
  debug: 1,
  info: 2,
  warning: 3,
  error: 4,
  critical: 5,
  none: 6,
};

/** Encoders by index; a logger keeps its precomputed parts at the same indexes. */
const ENCODERS: readonly LineEncoder[] = [tskvEncoder, jsonEncoder];
const FORMAT_INDEX: Readonly<Record<LogFormat, number>> = { tskv: 0, json: 1 };
const TSKV_INDEX = FORMAT_INDEX.tskv;

/** Bytes a tskv line may take when written straight into the queue (a connection's lines take ~250). */
const DIRECT_LINE_ROOM = 4096;

/** Default queue bound (userver's `message_queue_size` default). */
export const DEFAULT_QUEUE_LINES = 65_536;
/** Characters queued at most, whatever the line count: 64 Mi characters. */
export const DEFAULT_QUEUE_CHARS = 64 * 1024 * 1024;

/** What the logging subsystem has done since the process started. */
export interface LogStats {
  /** Lines a destination accepted completely. */
  readonly written: number;
  /** Lines discarded because the queue was full (`overflow_behavior: discard`) or left at shutdown. */
  readonly dropped: number;
  /** Lines lost because the destination failed (e.g. EPIPE, ENOSPC) or could not be formatted. */
  readonly failed: number;
  /** Lines waiting in the queue or being written now. */
  readonly queued: number;
  /** Lines produced per level (before the queue: written + dropped + failed + queued, summed). */
  readonly byLevel: Readonly<Record<LineLevel, number>>;
}

const noop: LogMethod = () => {};

/** A logger node: a module's root, or (through `Object.create`) a child of one. */
class LoggerNode implements Logger {
  declare trace: LogMethod;
  declare debug: LogMethod;
  declare info: LogMethod;
  declare warning: LogMethod;
  declare error: LogMethod;
  declare critical: LogMethod;
  /** Module part per encoder index. */
  declare moduleParts: readonly string[];
  declare registry: LoggerRegistry;
  /** The node this child was made from (`undefined` for a root). */
  declare parentNode: LoggerNode | undefined;
  /** The fields this child binds (`undefined` for a root). */
  declare fields: LogFields | undefined;
  /**
   * A child made by `bind`: its fields, written into tskv lines after the parent's bound part and
   * turned into text (`boundPart`) only for another format. Own on every node, never inherited.
   */
  declare boundFields: BoundFields | undefined;
  /**
   * All bound fields (this node's and its ancestors'), encoded in the format of `boundFormat`.
   * Only the format in use is encoded: a child lives as long as its connection, and a second
   * encoding per connection would be memory and work for a format no line is written in.
   */
  declare boundPart: string;
  declare boundFormat: number;

  child(fields: LogFields): Logger {
    const node = Object.create(this) as LoggerNode;
    node.parentNode = this;
    node.fields = fields;
    node.boundFields = undefined;
    // Encoded once here, in the current format: a child is made once per connection, lines are many.
    const format = this.registry.formatIndex;
    node.boundPart = flatten(this.bound(format) + (ENCODERS[format] as LineEncoder).fieldsPart(fields));
    node.boundFormat = format;
    return node;
  }

  bind(bound: BoundFields): Logger {
    const node = Object.create(this) as LoggerNode;
    node.parentNode = this;
    node.fields = undefined;
    node.boundFields = bound;
    // Encoded when first needed, in a format other than the direct tskv bytes (see `bound`).
    node.boundPart = '';
    node.boundFormat = -1;
    return node;
  }

  /** The bound fields in format `format`, re-encoded (once) after the format changed. */
  bound(format: number): string {
    if (this.boundFormat === format) return this.boundPart;
    const parent = this.parentNode;
    const fields = this.boundFields === undefined ? this.fields : this.boundFields.fields();
    const part = parent === undefined ? '' : flatten(parent.bound(format) + (ENCODERS[format] as LineEncoder).fieldsPart(fields));
    this.boundPart = part;
    this.boundFormat = format;
    return part;
  }

  isEnabled(level: LogLevel): boolean {
    return this.registry.isEnabled(level);
  }

  line(prepared: PreparedLine, v0?: LineValue, v1?: LineValue, v2?: LineValue, v3?: LineValue, v4?: LineValue): void {
    this.registry.emitPrepared(this, prepared, v0, v1, v2, v3, v4);
  }
}

/**
 * The same text as one flat string. Encoding builds a bound part with `+=`, which V8 keeps as a
 * rope: a 32-byte node per piece plus each short piece, all alive as long as the child (that is,
 * as long as its connection). `slice` flattens the rope and `join` copies the two halves into one
 * sequential string: the same memory as a UTF-8 round trip through a Buffer (about 105 bytes
 * against 250 for a connection's trace_id, span_id and fd) at about half its cost, and exact for
 * any string (a lone surrogate included).
 */
function flatten(text: string): string {
  return text.length < 2 ? text : [text.slice(0, 1), text.slice(1)].join('');
}

/** The writing methods of one module's root, made once; assigned or replaced by no-ops on level changes. */
type LevelMethods = Record<LineLevel, LogMethod>;

/** Options for a registry; the process has one (see `index.ts`), tests make their own. */
export interface LoggerRegistryOptions {
  /** The sink used before `configure()` and after `reset()`; by default a queue in front of stderr. */
  readonly defaultSink?: () => QueuedSink;
}

/** The process's loggers and their shared configuration. */
export class LoggerRegistry {
  private level: LogLevel = 'info';
  /** LEVEL_RANK of `level`: a prepared line is written when its level's rank is at least this. */
  private levelRank = LEVEL_RANK.info;
  /** @internal The current format's index in ENCODERS (read by LoggerNode). */
  formatIndex = 0;
  private sink: QueuedSink | undefined;
  private tee: ((line: string) => void) | undefined;
  private defaultSinkInstance: QueuedSink | undefined;
  private readonly makeDefaultSink: () => QueuedSink;
  private readonly roots = new Map<string, { node: LoggerNode; methods: LevelMethods }>();
  /** Shared by every sink this registry creates, so totals survive sink swaps. */
  readonly counters: SinkCounters = { written: 0, dropped: 0, failed: 0 };
  private readonly byLevel: Record<LineLevel, number> = {
    trace: 0,
    debug: 0,
    info: 0,
    warning: 0,
    error: 0,
    critical: 0,
  };

  constructor(options: LoggerRegistryOptions = {}) {
    this.makeDefaultSink =
      options.defaultSink ??
      (() => new QueuedSink(stderrTarget(), { maxLines: DEFAULT_QUEUE_LINES, maxChars: DEFAULT_QUEUE_CHARS, counters: this.counters }));
  }

  /** The logger of `module` (one per module name; cheap to call again). */
  getLogger(module: string): Logger {
    const existing = this.roots.get(module);
    if (existing) return existing.node;
    const node = new LoggerNode();
    node.registry = this;
    node.moduleParts = ENCODERS.map((encoder) => encoder.modulePart(module));
    node.parentNode = undefined;
    node.fields = undefined;
    node.boundFields = undefined;
    node.boundPart = '';
    node.boundFormat = this.formatIndex;
    const methods = {} as LevelMethods;
    for (const level of LINE_LEVELS) {
      // `this` is the node the method was called on (a child inherits it); a detached call
      // (`const { info } = log`) still logs, through the module's root.
      methods[level] = function (this: unknown, text: string, fields?: LogFields) {
        node.registry.emit(this instanceof LoggerNode ? this : node, level, text, fields);
      };
    }
    this.roots.set(module, { node, methods });
    this.assign(node, methods);
    return node;
  }

  /** True when lines of `level` are written at the current level. */
  isEnabled(level: LogLevel): boolean {
    return level !== 'none' && this.level !== 'none' && LEVEL_RANK[level] >= LEVEL_RANK[this.level];
  }

  /** The current level, format and sink. */
  current(): { level: LogLevel; format: LogFormat; sink: QueuedSink } {
    return { level: this.level, format: (ENCODERS[this.formatIndex] as LineEncoder).format, sink: this.currentSink() };
  }

  /**
   * Switches every logger (existing ones included) to `level`, `format` and `sink`. Returns the
   * sink that was in use, for the caller to flush and close (unless it is the default one).
   */
  configure(settings: { level: LogLevel; format: LogFormat; sink: QueuedSink }): QueuedSink {
    const previous = this.currentSink();
    this.sink = settings.sink;
    this.formatIndex = FORMAT_INDEX[settings.format];
    this.setLevel(settings.level);
    return previous;
  }

  /** Back to the start-up configuration: stderr, tskv, info. Returns the sink that was in use. */
  reset(): QueuedSink {
    return this.configure({ level: 'info', format: 'tskv', sink: this.defaultSink() });
  }

  /** Changes the level of every logger, existing ones included. */
  setLevel(level: LogLevel): void {
    this.level = level;
    this.levelRank = LEVEL_RANK[level];
    for (const { node, methods } of this.roots.values()) this.assign(node, methods);
  }

  /** The sink used before configuration (created on first use). */
  defaultSink(): QueuedSink {
    return (this.defaultSinkInstance ??= this.makeDefaultSink());
  }

  /** Counters for metrics, read at collection time. */
  stats(): LogStats {
    return {
      written: this.counters.written,
      dropped: this.counters.dropped,
      failed: this.counters.failed,
      queued: this.currentSink().queuedLines,
      byLevel: { ...this.byLevel },
    };
  }

  /**
   * Also hands every line from now on, in tskv, to `tee` (the testsuite log capture); `undefined`
   * stops it. With the tskv format the tee gets the very line the sink got.
   */
  setTee(tee: ((line: string) => void) | undefined): void {
    this.tee = tee;
  }

  /** Formats and queues one line. Never throws: a logging call must not break its caller. */
  emit(node: LoggerNode, level: LineLevel, text: string, fields: LogFields | undefined): void {
    this.byLevel[level]++;
    try {
      const i = this.formatIndex;
      const body = typeof text === 'string' ? text : String(text);
      if (i === TSKV_INDEX && this.tee === undefined) {
        // Straight into the queue's bytes; a line longer than the room goes the string way below.
        const sink = this.currentSink();
        const buf = sink.lineBuffer(DIRECT_LINE_ROOM);
        if (buf === undefined) return; // dropped (counted)
        const at = sink.writeAt;
        // A `bind` child writes its fields as bytes after its parent's bound part.
        const boundFields = node.boundFields;
        const boundPart = boundFields === undefined ? node.bound(i) : (node.parentNode as LoggerNode).bound(i);
        const end = writeTskvLine(buf, at, at + DIRECT_LINE_ROOM, nowEpochMicros(), level, node.moduleParts[i] as string, body, boundPart, fields, boundFields);
        if (end >= 0) {
          sink.commitLine(end);
          return;
        }
      }
      const timestamp = logTimestamp();
      const line = (ENCODERS[i] as LineEncoder).line(timestamp, level, node.moduleParts[i] as string, body, node.bound(i), fields);
      this.currentSink().push(line);
      const tee = this.tee;
      if (tee !== undefined) {
        tee(i === TSKV_INDEX ? line : tskvEncoder.line(timestamp, level, node.moduleParts[TSKV_INDEX] as string, body, node.bound(TSKV_INDEX), fields));
      }
    } catch {
      // E.g. a field whose toString throws (possible from untyped callers).
      this.counters.failed++;
    }
  }

  /**
   * A prepared line (prepared-line.ts): straight into the queue's bytes as tskv, from its prepared
   * bytes and the values; in any other case (JSON, the testsuite tee, a line longer than the
   * room) the values become the fields object `emit` takes, so every format writes what the
   * level method would have.
   */
  emitPrepared(node: LoggerNode, prepared: PreparedLine, v0: LineValue, v1: LineValue, v2: LineValue, v3: LineValue, v4: LineValue): void {
    const level = prepared.level;
    // One comparison instead of a method per level: a prepared line names its level itself.
    if (LEVEL_RANK[level] < this.levelRank) return;
    if (this.formatIndex === TSKV_INDEX && this.tee === undefined) {
      try {
        const sink = this.currentSink();
        const buf = sink.lineBuffer(DIRECT_LINE_ROOM);
        if (buf === undefined) {
          this.byLevel[level]++;
          return; // dropped (counted)
        }
        const at = sink.writeAt;
        const boundFields = node.boundFields;
        const boundPart = boundFields === undefined ? node.bound(TSKV_INDEX) : (node.parentNode as LoggerNode).bound(TSKV_INDEX);
        const modulePart = node.moduleParts[TSKV_INDEX] as string;
        const end = writePreparedTskvLine(buf, at, at + DIRECT_LINE_ROOM, nowEpochMicros(), prepared, modulePart, boundPart, boundFields, v0, v1, v2, v3, v4);
        if (end >= 0) {
          this.byLevel[level]++;
          sink.commitLine(end);
          return;
        }
      } catch {
        this.byLevel[level]++;
        this.counters.failed++;
        return;
      }
    }
    this.emit(node, level, prepared.text, prepared.fields(v0, v1, v2, v3, v4));
  }

  /**
   * Writes one tskv line to the start-up sink (stderr) whatever the configuration: for news about
   * the configured destination itself (it failing), which cannot travel through it.
   */
  emitFallback(level: LineLevel, module: string, text: string, fields?: LogFields): void {
    this.byLevel[level]++;
    try {
      this.defaultSink().push(tskvEncoder.line(logTimestamp(), level, tskvEncoder.modulePart(module), text, '', fields));
    } catch {
      this.counters.failed++;
    }
  }

  private currentSink(): QueuedSink {
    return this.sink ?? this.defaultSink();
  }

  private assign(node: LoggerNode, methods: LevelMethods): void {
    for (const level of LINE_LEVELS) node[level] = this.isEnabled(level) ? methods[level] : noop;
  }
}
