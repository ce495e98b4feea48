/**
 * The one V8 setting tcp-echo applies to itself at start, because no start command can carry it
 * on every supported Node: `--external-memory-accounted-in-global-limit` exists from V8 13.6
 * (Node 24) and Node 22 refuses it on the command line ("bad option"), so the shebang, `npm start`
 * and the image could not name it in package.json `config.node_flags`.
 *
 * Why: every read of an echoed chunk is an ArrayBuffer outside the JS heap (external memory).
 * By default V8 13.6 starts a full mark-compact each time 64 MiB of it accumulates, whatever the heap
 * holds, so a streaming tcp-echo ran a full GC every ~100 ms over its ~12 MiB of live modules and
 * records (the bare echo's heap is 4 MiB, so the same GCs cost it a third). With the flag, external
 * memory counts toward V8's global limit instead, and the young read buffers are reclaimed by
 * scavenges: with --initial-heap-size=128, paired, 0.72x the CPU per GB echoed (docs/benchmarks.md,
 * "Fourth pass"). V8 12 (Node 22) needs none of it: it runs no such collections. A user who
 * passes `--no-external-memory-accounted-in-global-limit` keeps V8's default.
 */
import v8 from 'node:v8';

export const EXTERNAL_MEMORY_FLAG = '--external-memory-accounted-in-global-limit';

/** The first V8 known to have the flag (Node 24.0's); older ones print "unrecognized flag". */
const FIRST_V8_WITH_FLAG: readonly [number, number] = [13, 6];

export type HeapTuning = { applied: true } | { applied: false; reason: string };

/** `major.minor` of a V8 version string such as `13.6.233.17-node.63` is at least [major, minor]. */
export function v8AtLeast(version: string, [major, minor]: readonly [number, number]): boolean {
  const [maj = 0, min = 0] = version.split('.').map((part) => Number.parseInt(part, 10));
  return maj > major || (maj === major && min >= minor);
}

/** Applies the flag unless this V8 lacks it or the command line already decided it. */
export function tuneV8Heap(execArgv: readonly string[] = process.execArgv, v8Version: string = process.versions.v8): HeapTuning {
  const named = execArgv.find((arg) => arg === EXTERNAL_MEMORY_FLAG || arg === `--no-${EXTERNAL_MEMORY_FLAG.slice(2)}`);
  if (named !== undefined) return { applied: false, reason: `the command line gives ${named}` };
  if (!v8AtLeast(v8Version, FIRST_V8_WITH_FLAG)) {
    return { applied: false, reason: `V8 ${v8Version} has no ${EXTERNAL_MEMORY_FLAG} (it needs ${FIRST_V8_WITH_FLAG.join('.')}, Node 24)` };
  }
  v8.setFlagsFromString(EXTERNAL_MEMORY_FLAG);
  return { applied: true };
}
