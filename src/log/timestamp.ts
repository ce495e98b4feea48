/**
 * Log timestamps as userver writes them: `2026-11-28T08:00:00.123456` (UTC here, microseconds,
 * no zone suffix). The `YYYY-MM-DDTHH:MM:SS` part is cached per second, so a line costs one
 * `performance.now()` and a six-digit pad.
 */
import { performance } from 'node:perf_hooks';

let cachedSecond = -1;
let cachedPrefix = '';

/** `YYYY-MM-DDTHH:MM:SS.` of `second` (seconds since the Unix epoch), cached for the current second. */
export function timestampSecondPart(second: number): string {
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 19) + '.';
  }
  return cachedPrefix;
}

/** `epochMicros` (microseconds since the Unix epoch) as a userver timestamp in UTC. */
export function formatLogTimestamp(epochMicros: number): string {
  const second = Math.floor(epochMicros / 1_000_000);
  const micros = epochMicros - second * 1_000_000;
  return timestampSecondPart(second) + (micros < 100_000 ? String(micros).padStart(6, '0') : String(micros));
}

// Wall clock = monotonic clock + offset. The offset is re-read from Date.now() every few seconds so
// that NTP steps and slews reach the logs; between re-reads microseconds come from the monotonic clock.
const RESYNC_MS = 5_000;
/** A reading of Date.now() counts when the monotonic clock moved at most this much around it. */
const TIGHT_READING_MS = 1;

/**
 * Date.now() minus performance.now(). The two reads must be taken together: a process preempted
 * between them (a busy machine) would skew every timestamp until the next re-read (a 12 ms skew
 * was seen under load). So Date.now() is bracketed by two monotonic reads and read again, a few
 * times at most, until the bracket is tight; the tightest reading wins.
 */
function wallClockOffsetMs(): number {
  let best = Infinity;
  let offset = 0;
  for (let attempt = 0; attempt < 5 && best > TIGHT_READING_MS; attempt++) {
    const before = performance.now();
    const wall = Date.now();
    const after = performance.now();
    if (after - before < best) {
      best = after - before;
      // Date.now() truncates: the true time lies within [wall, wall + 1).
      offset = wall + 0.5 - (before + after) / 2;
    }
  }
  return offset;
}

let offsetMs = wallClockOffsetMs();
let syncedAt = performance.now();

/** Microseconds since the Unix epoch, now. */
export function nowEpochMicros(): number {
  const now = performance.now();
  if (now - syncedAt > RESYNC_MS) {
    syncedAt = now;
    offsetMs = wallClockOffsetMs();
  }
  return Math.floor((offsetMs + now) * 1000);
}

/** The current time as a userver timestamp. */
export function logTimestamp(): string {
  return formatLogTimestamp(nowEpochMicros());
}
