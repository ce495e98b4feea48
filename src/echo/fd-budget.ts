/**
 * How many echo connections the process's open-file limit allows. Each connection holds one
 * descriptor; when the echo takes the last one, accept() fails with EMFILE for every listener of
 * the process, and the monitor's `/ping` is refused along with it. So when `max_connections` is 0
 * the echo stops at the limit minus what is already open minus a reserve kept for the monitor, log
 * files, telemetry exports and worker pipes.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Descriptors kept free for everything but echo connections (the monitor's own cap is 128). */
export const FD_RESERVE = 64;

/** The soft RLIMIT_NOFILE of this process from /proc/self/limits; undefined when unknown or unlimited. */
export function openFileLimit(limitsText?: string): number | undefined {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      // Not Linux: no limit is derived, max_connections 0 stays unlimited.
      return undefined;
    }
  }
  const match = /^Max open files\s+(\S+)/m.exec(text);
  const soft = match ? Number(match[1]) : Number.NaN;
  return Number.isFinite(soft) && soft > 0 ? soft : undefined;
}

/**
 * Echo connections that fit: `limit` - `openNow` - FD_RESERVE, at least 1. Undefined when the
 * limit is unknown.
 */
export function connectionBudget(limit: number | undefined, openNow: number): number | undefined {
  if (limit === undefined) return undefined;
  return Math.max(1, limit - openNow - FD_RESERVE);
}

/** Descriptors open in this process now (Linux /proc); undefined elsewhere. */
export function openDescriptors(): number | undefined {
  try {
    // readdir holds one descriptor on the directory itself while listing it.
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return undefined;
  }
}
