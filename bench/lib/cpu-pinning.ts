/**
 * Which cores the server under test and the load run on. Unpinned on 2 cores, the scheduler moves
 * the single-threaded server, the generator and the OTLP sink between the cores as it likes: when
 * the server shares a core with the generator, loopback packet processing and cache misses land on
 * it, and the same build measured 39 or 83 µs of CPU per connection from one run to the next.
 * Pinned (the server on core 0; generator, sink and this runner on the others) the same runs agree
 * within a few percent. Needs `taskset` (util-linux) and at least 2 cores; cluster mode, whose
 * point is one worker per core, is never pinned.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';

/** The cores of each side, as taskset lists them ("0", "1-3"). */
export interface Pinning {
  readonly server: string;
  readonly load: string;
}

/** The pinning to use, or why there is none. */
export function planPinning(disabled: boolean): { pinning: Pinning } | { reason: string } {
  if (disabled) return { reason: 'disabled with --no-pin' };
  const cores = os.availableParallelism();
  if (cores < 2) return { reason: `only ${cores} core available` };
  const probe = spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
  if (probe.error !== undefined || probe.status !== 0) return { reason: 'taskset (util-linux) is not available' };
  return { pinning: { server: '0', load: cores === 2 ? '1' : `1-${cores - 1}` } };
}

/** The command line that runs `command args` on `cpus` (taskset execs it: the PID is the command's). */
export function onCores(cpus: string | undefined, command: string, args: readonly string[]): [string, string[]] {
  return cpus === undefined ? [command, [...args]] : ['taskset', ['-c', cpus, command, ...args]];
}

/** Moves every thread of this process onto `cpus`, so the runner's own work stays off the server's core. */
export function pinSelf(cpus: string): void {
  spawnSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { stdio: 'ignore' });
}
