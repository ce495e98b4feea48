/**
 * The logger API every module uses. The `logging` component decides where lines go and in which
 * format; until it starts, lines go to stderr in tskv at level info.
 *
 * Implementation lives in this folder (see log/README in the architecture doc): disabled levels
 * are no-op functions chosen when the level is set, and a line is built from precomputed parts.
 */

/** userver's levels, lowest first; `none` turns logging off. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warning', 'error', 'critical', 'none'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Extra tskv fields / JSON keys of one line. Values are written as they are (tskv-escaped). */
export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

export type LogMethod = (text: string, fields?: LogFields) => void;

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
  /** True when lines of `level` would be written. */
  isEnabled(level: LogLevel): boolean;
}
