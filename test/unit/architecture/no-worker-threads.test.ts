/**
 * No module of the service starts a worker thread. src/runtime/v8-heap.ts sets V8's
 * `--external-memory-accounted-in-global-limit` at run time (Node 22 refuses it on the command
 * line), and a run-time V8 setting loses its effect once a second isolate exists: the monitor
 * served from a worker thread halved throughput on Node 24 (docs/benchmarks.md, "Tenth pass").
 * No behavioural test sees that (the GC test stayed green with the thread), so the rule is checked
 * on the source until every launcher gives the flag on the command line.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { SRC, sourceFiles } from '../../helpers/source-files.js';

/** Whether `text` loads worker_threads: a static or dynamic import, or a require. */
function loadsWorkerThreads(text: string): boolean {
  return /(?:from\s+|import\(\s*|require\(\s*)['"](?:node:)?worker_threads['"]/.test(text);
}

test('the rule sees each way of loading worker_threads, and not the config key of the same name', () => {
  assert.ok(loadsWorkerThreads("import { Worker } from 'node:worker_threads';"));
  assert.ok(loadsWorkerThreads('const { Worker } = await import("worker_threads");'));
  assert.ok(loadsWorkerThreads("const wt = require('node:worker_threads');"));
  assert.ok(!loadsWorkerThreads("cm.task_processors['main-task-processor']?.worker_threads"));
});

test('no module under src/ loads worker_threads', () => {
  const files = sourceFiles(SRC);
  assert.ok(files.length > 40, `only ${files.length} files under src/`);
  const offenders = files.filter((file) => loadsWorkerThreads(readFileSync(file, 'utf8'))).map((file) => path.relative(SRC, file));
  assert.deepEqual(offenders, [], 'a worker thread would undo the run-time V8 setting of src/runtime/v8-heap.ts');
});
