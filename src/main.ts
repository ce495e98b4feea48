#!/usr/bin/env -S node --initial-heap-size=128 --max-semi-space-size=8
/** tcp-echo: argv → component list → run (userver's `DaemonMain`), or an echo worker in cluster mode. */
import { isEchoWorker, runEchoWorker } from './cluster/worker-main.js';
import { COMPONENTS, WORKER_COMPONENTS } from './component-list.js';
import { daemonMain } from './components/daemon-main.js';
import { tuneV8Heap } from './runtime/v8-heap.js';

// Before any socket exists: the GC setting is about the echo's read buffers (src/runtime/v8-heap.ts).
tuneV8Heap();
process.exitCode = isEchoWorker()
  ? await runEchoWorker(COMPONENTS, WORKER_COMPONENTS)
  : await daemonMain(process.argv.slice(2), COMPONENTS);
