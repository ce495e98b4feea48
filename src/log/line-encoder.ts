/**
 * What a line format provides. Encoders are pure: a logger asks for its constant parts (module,
 * bound fields) once, when it is created, and every line is one concatenation of precomputed parts
 * plus the timestamp, the text and the call's own fields (pino's `lib/tools.js` idea).
 */
import type { LogFields, LogLevel } from './logger.js';

/** The levels a line can have (`none` only turns logging off). */
export type LineLevel = Exclude<LogLevel, 'none'>;

/** The line formats of the `logging` component. */
export const LOG_FORMATS = ['tskv', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** One line format. */
export interface LineEncoder {
  readonly format: LogFormat;
  /** The encoded module name with what follows it up to the text; computed once per logger. */
  modulePart(module: string): string;
  /** The encoded bound fields (a child's trace_id, span_id, fd); computed once per child logger. */
  fieldsPart(fields: LogFields | undefined): string;
  /** One whole line, ending in `\n`. `timestamp` is already formatted. */
  line(
    timestamp: string,
    level: LineLevel,
    modulePart: string,
    text: string,
    boundPart: string,
    fields: LogFields | undefined,
  ): string;
}
