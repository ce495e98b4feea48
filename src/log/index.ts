/**
 * The process's logging entry points. Every module logs through `getLogger(module)`; until the
 * `logging` component starts (and after it stops) lines go to stderr in tskv at level info.
 */
import type { Logger } from './logger.js';
import { LoggerRegistry, type LogStats } from './logger-registry.js';

export type { LogFields, LogLevel, LogMethod, Logger } from './logger.js';
export { LOG_LEVELS } from './logger.js';
export type { LogStats } from './logger-registry.js';

/** The one registry of this process (the logging component configures it). */
export const registry = new LoggerRegistry();

/** The logger of one module (e.g. `getLogger('echo')`). May be called at module load time. */
export function getLogger(module: string): Logger {
  return registry.getLogger(module);
}

/**
 * Logging counters for metrics, read at collection time: lines `written`, `dropped` (queue full
 * or left at shutdown), `failed` (destination error), `queued` now, and `byLevel` (lines produced).
 */
export function getLogStats(): LogStats {
  return registry.stats();
}

/**
 * Waits until the lines queued so far are written, at most `timeoutMs`. For the last moments
 * before the process exits (e.g. after a fatal start error). True if everything was written.
 */
export function flushLogs(timeoutMs = 1000): Promise<boolean> {
  return registry.current().sink.flush(timeoutMs);
}
