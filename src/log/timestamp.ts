/**
 * Log timestamps as userver writes them: `2026-11-28T08:00:00.123456` (UTC here, microseconds,
 * no zone suffix). The `YYYY-MM-DDTHH:MM:SS` part is cached per second, so a line costs one
 * `performance.now()` and a six-digit pad.
 */
import { performance } from 'node:perf_hooks';

let cachedSecond = -1;
let cachedPrefix = '';

/** `epochMicros` (microseconds since the Unix epoch) as a userver timestamp in UTC. */
export function formatLogTimestamp(epochMicros: number): string {
  const second = Math.floor(epochMicros / 1_000_000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 19) + '.';
  }
  const micros = epochMicros - second * 1_000_000;
  return cachedPrefix + (micros < 100_000 ? String(micros).padStart(6, '0') : String(micros));
}

// Wall clock = monotonic clock + offset. The offset is re-read from Date.now() every few seconds so
// that NTP steps and slews reach the logs; between re-reads microseconds come from the monotonic clock.
const RESYNC_MS = 5_000;
let offsetMs = Date.now() - performance.now();
let syncedAt = performance.now();

/** Microseconds since the Unix epoch, now. */
export function nowEpochMicros(): number {
  const now = performance.now();
  if (now - syncedAt > RESYNC_MS) {
    syncedAt = now;
    offsetMs = Date.now() - now;
  }
  return Math.floor((offsetMs + now) * 1000);
}

/** The current time as a userver timestamp. */
export function logTimestamp(): string {
  return formatLogTimestamp(nowEpochMicros());
}
