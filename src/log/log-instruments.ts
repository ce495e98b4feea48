/**
 * The logger's metrics, `logger.lines.*`: lines produced per level (written, or still queued) and
 * lines lost: dropped because the sink could not keep up, or failed to write (a full disk, a closed
 * pipe). Observable: read at collection time.
 */
import type { BatchObservableCallback, Meter } from '@opentelemetry/api';
import { getLogStats } from './index.js';

/** Counters of the logger. */
export interface LogCounters {
  /** Lines written, by level name. */
  readonly written: Readonly<Record<string, number>>;
  /** Lines lost: dropped because the sink was slow, or failed to write. */
  readonly dropped: number;
}

/** The process's logger registry as LogCounters. */
function logCountersFromRegistry(): LogCounters {
  const stats = getLogStats();
  return { written: stats.byLevel, dropped: stats.dropped + stats.failed };
}

/** Registers `logger.lines.written` and `logger.lines.dropped` on `meter`; returns the undo. */
export function registerLogInstruments(meter: Meter, logCounters: () => LogCounters = logCountersFromRegistry): () => void {
  const written = meter.createObservableCounter('logger.lines.written', {
    description: 'Log lines produced, by level (handed to the sink queue; see logger.lines.dropped).',
  });
  const dropped = meter.createObservableCounter('logger.lines.dropped', {
    description:
      'Log lines lost: dropped because the sink could not keep up (overflow_behavior: discard), ' +
      'or failed to write (a full disk, a closed pipe).',
  });
  // Label objects are cached per level: observe() would otherwise get a fresh object each time.
  const levelAttributes = new Map<string, { level: string }>();
  const callback: BatchObservableCallback = (result) => {
    const counters = logCounters();
    for (const [level, count] of Object.entries(counters.written)) {
      let attributes = levelAttributes.get(level);
      if (!attributes) levelAttributes.set(level, (attributes = Object.freeze({ level })));
      result.observe(written, count, attributes);
    }
    result.observe(dropped, counters.dropped);
  };
  meter.addBatchObservableCallback(callback, [written, dropped]);
  return () => meter.removeBatchObservableCallback(callback, [written, dropped]);
}
