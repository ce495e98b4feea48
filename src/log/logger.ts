/**
 * The logger API every module uses: `getLogger(module)` from `./index.js` returns a `Logger`;
 * `logger.child({ trace_id, span_id, fd })` binds fields once. The `logging` component decides
 * where lines go and in which format; until it starts, lines go to stderr in tskv at level info.
 *
 * Implementation (this folder): `logger-registry.ts` (level methods chosen when the level is set:
 * disabled levels are a shared no-op, never a comparison per call), `tskv.ts` and `json-line.ts`
 * (pure encoders: a line is one concatenation of precomputed parts), `queued-sink.ts` (bounded,
 * never-blocking queue; drops and counts past the bound), `sink-target.ts` (stderr, stdout, null,
 * files reopened on SIGUSR1), `logging-component.ts` (the `logging` config section).
 *
 * Call the level methods on the logger (`log.info(...)`): a detached method (`const { info } = log`)
 * still logs, but through the module's logger, without a child's bound fields.
 */

import type { LineValue, PreparedLine } from './prepared-line.js';

/** userver's levels, lowest first; `none` turns logging off. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warning', 'error', 'critical', 'none'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Extra tskv fields / JSON keys of one line. Values are written as they are (tskv-escaped). */
export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

export type LogMethod = (text: string, fields?: LogFields) => void;

/**
 * How a {@link BoundFields} writes its values into a tskv line's bytes (`tskv-bytes.ts`): each
 * call appends, and returns false when the line is out of room.
 */
export interface TskvFieldWriter {
  /** Text already in its final tskv form (a `\tkey=` part, a value that needs no escape). */
  text(part: string): boolean;
  /** `bytes[from, to)` as lowercase hex. */
  hex(bytes: Uint8Array, from: number, to: number): boolean;
  /** A number as `String()` writes it (digits only, no string, for a non-negative integer). */
  number(n: number): boolean;
}

/**
 * Fields a child binds without encoding them at bind time: a connection's trace_id, span_id and
 * fd, which tskv lines take straight from the id bytes and the number (no hex string, no bound
 * text per connection). Other encoders (JSON, the testsuite tee) ask for `fields()` once.
 */
export interface BoundFields {
  /** The same fields as a record, in the order `writeTskv` writes them. */
  fields(): LogFields;
  /** Appends `\tkey=value` for each field, exactly as the tskv encoder writes `fields()`; false when out of room. */
  writeTskv(out: TskvFieldWriter): boolean;
}

/** One module's logger. Methods of disabled levels are no-ops. */
export interface Logger {
  readonly trace: LogMethod;
  readonly debug: LogMethod;
  readonly info: LogMethod;
  readonly warning: LogMethod;
  readonly error: LogMethod;
  readonly critical: LogMethod;
  /** A logger whose every line also carries `fields` (e.g. trace_id, span_id, fd), formatted once here. */
  child(fields: LogFields): Logger;
  /** A child binding `bound`, encoded only when a line is written (the per-connection case). */
  bind(bound: BoundFields): Logger;
  /** True when lines of `level` would be written. */
  isEnabled(level: LogLevel): boolean;
  /**
   * Writes a prepared line (prepared-line.ts): the same line as `this[prepared.level](prepared.text,
   * { [keys[0]]: v0, ... })`, with the values in the order of the prepared keys.
   */
  line(prepared: PreparedLine, v0?: LineValue, v1?: LineValue, v2?: LineValue, v3?: LineValue, v4?: LineValue): void;
}
