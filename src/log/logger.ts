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
