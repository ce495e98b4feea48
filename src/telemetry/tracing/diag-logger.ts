/**
 * OpenTelemetry's own diagnostics (`diag`: export failures, bad env values, dropped spans) routed
 * to our log instead of the console, and rate-limited: a dead collector reports a failure per
 * batch, and that must not flood the log or cost the echo anything.
 */
import { DiagLogLevel, diag, type DiagLogger } from '@opentelemetry/api';
import { loggingErrorHandler, setGlobalErrorHandler } from '@opentelemetry/core';
import { inspect } from 'node:util';
import type { Logger } from '../../log/logger.js';

/** How many diag lines may be written per window before the rest are counted and summarised. */
export interface RateLimit {
  /** Lines allowed per window. @default 10 */
  readonly lines: number;
  /** Window length in milliseconds. @default 60000 */
  readonly windowMs: number;
}

const DEFAULT_LIMIT: RateLimit = { lines: 10, windowMs: 60_000 };
const MAX_TEXT = 1000;

/**
 * A DiagLogger writing to `logger`: errors and warnings at `warning` (the SDK's trouble is never
 * ours to crash on), info at `info`, debug and verbose at `debug`. At most `limit.lines` lines per
 * window; the first line after a window with suppressed lines carries `suppressed=<count>`.
 */
export class RateLimitedDiagLogger implements DiagLogger {
  private windowStart = Number.NEGATIVE_INFINITY;
  private writtenInWindow = 0;
  private suppressed = 0;
  /** Lines dropped by the rate limit since start. */
  suppressedTotal = 0;

  constructor(
    private readonly logger: Logger,
    private readonly limit: RateLimit = DEFAULT_LIMIT,
    private readonly now: () => number = Date.now,
  ) {}

  error = (message: string, ...args: unknown[]): void => this.write('warning', message, args);
  warn = (message: string, ...args: unknown[]): void => this.write('warning', message, args);
  info = (message: string, ...args: unknown[]): void => this.write('info', message, args);
  debug = (message: string, ...args: unknown[]): void => this.write('debug', message, args);
  verbose = (message: string, ...args: unknown[]): void => this.write('debug', message, args);

  private write(level: 'warning' | 'info' | 'debug', message: string, args: unknown[]): void {
    if (!this.logger.isEnabled(level)) return;
    const now = this.now();
    if (now - this.windowStart >= this.limit.windowMs) {
      this.windowStart = now;
      this.writtenInWindow = 0;
    }
    if (this.writtenInWindow >= this.limit.lines) {
      this.suppressed++;
      this.suppressedTotal++;
      return;
    }
    this.writtenInWindow++;
    const fields = this.suppressed > 0 ? { suppressed: this.suppressed } : undefined;
    this.suppressed = 0;
    this.logger[level](format(message, args), fields);
  }
}

function format(message: string, args: unknown[]): string {
  let text = String(message);
  for (const arg of args) {
    text += ' ' + (arg instanceof Error ? describeError(arg) : typeof arg === 'string' ? arg : inspect(arg, { depth: 2, breakLength: Infinity }));
    if (text.length > MAX_TEXT) break;
  }
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 3)}...` : text;
}

function describeError(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code ? `${error.name}: ${error.message} (${code})` : `${error.name}: ${error.message}`;
}

const DIAG_LEVELS: Readonly<Record<string, DiagLogLevel>> = {
  none: DiagLogLevel.NONE,
  error: DiagLogLevel.ERROR,
  warn: DiagLogLevel.WARN,
  info: DiagLogLevel.INFO,
  debug: DiagLogLevel.DEBUG,
  verbose: DiagLogLevel.VERBOSE,
  all: DiagLogLevel.ALL,
};

/**
 * The diag level from OTEL_LOG_LEVEL (`none`, `error`, `warn`, `info`, `debug`, `verbose`, `all`,
 * any case). `warn` when unset; `undefined` when the value is not one of those (the caller warns
 * and uses `warn`).
 */
export function diagLevelFromEnv(value: string | undefined): DiagLogLevel | undefined {
  if (value === undefined || value.trim() === '') return DiagLogLevel.WARN;
  return DIAG_LEVELS[value.trim().toLowerCase()];
}

/**
 * Installs `diagLogger` as OpenTelemetry's global diag logger at `level`. Returns a function that
 * removes it again (for stop()).
 */
export function installDiagLogger(diagLogger: DiagLogger, level: DiagLogLevel): () => void {
  // suppressOverrideMessage: replacing an earlier logger (a restarted component in tests) is expected.
  diag.setLogger(diagLogger, { logLevel: level, suppressOverrideMessage: true });
  // The SDK's default error handler (failed batch exports) JSON-dumps the error with its stack
  // into one diag line; through diag the error is one readable line: message and code.
  setGlobalErrorHandler((error) => diag.error('OpenTelemetry error:', error));
  return () => {
    setGlobalErrorHandler(loggingErrorHandler());
    diag.disable();
  };
}
