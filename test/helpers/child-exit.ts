/**
 * A child's exit, once its output has been read. Node emits 'exit' as soon as the process ends,
 * possibly before the parent has read what the child wrote last to its pipes (the docs say the
 * stdio streams may still be open), so output read on 'exit' can miss the final lines. This waits
 * for 'exit' and then for the piped streams to end, at most `graceMs` more: a grandchild that
 * inherited a pipe (a cluster worker, a shell's background job) can hold it open past the exit.
 */
import type { ChildProcess } from 'node:child_process';
import { finished } from 'node:stream/promises';

/** How long after the exit the pipes may take to end before the exit is reported anyway. */
const OUTPUT_GRACE_MS = 10_000;

/** The exit code, or the signal's name, once the child exited and its piped output was read. */
export function exitedWithOutput(child: ChildProcess, graceMs = OUTPUT_GRACE_MS): Promise<number | string> {
  return exitWithOutput(child, graceMs).then(({ code, signal }) => code ?? signal ?? -1);
}

/** `exitedWithOutput`, with the code and the signal apart. */
export function exitWithOutput(
  child: ChildProcess,
  graceMs = OUTPUT_GRACE_MS,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const streams = [child.stdout, child.stderr].filter((s) => s !== null);
  // Listening from the start: a stream that ends before 'exit' is seen still counts as ended.
  const drained = Promise.all(streams.map((s) => finished(s).catch(() => undefined)));
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      const timer = setTimeout(() => resolve({ code, signal }), graceMs);
      void drained.then(() => {
        clearTimeout(timer);
        resolve({ code, signal });
      });
    });
  });
}
