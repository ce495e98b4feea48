/**
 * The benchmark pins the server under test to one core and its load to the others
 * (bench/lib/cpu-pinning.ts): checked against the kernel's own view of a pinned process.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { test } from 'node:test';
import { onCores, planPinning } from '../../bench/lib/cpu-pinning.js';

/** The CPU list the kernel lets a process started with `command args` run on. */
function allowedCpus(command: string, args: string[]): string {
  const status = execFileSync(command, args, { encoding: 'utf8' });
  return /^Cpus_allowed_list:\s*(\S+)$/m.exec(status)?.[1] ?? '(none)';
}

test('the plan puts the server on core 0 and the load on every other core', () => {
  const cores = os.availableParallelism();
  // This machine has 2 cores and util-linux; a machine with one core gets a reason instead.
  assert.ok(cores >= 2, `${cores} core(s)`);
  const plan = planPinning(false);
  assert.ok('pinning' in plan, 'reason' in plan ? plan.reason : '');
  assert.deepEqual(plan.pinning, { server: '0', load: cores === 2 ? '1' : `1-${cores - 1}` });
  assert.deepEqual(planPinning(true), { reason: 'disabled with --no-pin' });
});

test('a command started on a core list runs only there, and one started without a list where this process may', () => {
  const [command, args] = onCores('1', 'cat', ['/proc/self/status']);
  assert.equal(allowedCpus(command, args), '1');
  const [free, freeArgs] = onCores(undefined, 'cat', ['/proc/self/status']);
  const ours = /^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  assert.equal(allowedCpus(free, freeArgs), ours);
});
