/**
 * The GC setting tcp-echo applies to itself (src/runtime/v8-heap.ts), seen from outside: a real
 * service, started with its shipped flags, streams 320 MiB back over one connection while V8
 * traces its collections. By default V8 starts a full one per 64 MiB of read buffers ("external
 * memory pressure") on V8 13.6 (Node 24); with the setting, as on V8 12 (Node 22) without it,
 * the read buffers are reclaimed by scavenges and no full collection runs at all.
 * Counts of collections follow the bytes allocated, not the clock, so a loaded machine does not
 * change them (the memory reducer, which is time-driven, is off in both runs).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect, PatternReceiver, writePattern } from '../helpers/echo-client.js';
import { shippedNodeFlags } from '../helpers/node-flags.js';
import { startServiceFor } from '../helpers/service.js';
import { EXTERNAL_MEMORY_FLAG, v8AtLeast } from '../../src/runtime/v8-heap.js';

const STREAMED = 320 * 1024 * 1024;
const TRACE = ['--trace-gc', '--trace-incremental-marking', '--no-memory-reducer'];
const HAS_FLAG = v8AtLeast(process.versions.v8, [13, 6]);

interface Collections {
  /** Full collections started because of external memory. */
  pressureStarts: number;
  /** Full collections run, for any reason. */
  markCompacts: number;
}

/** What V8 collected while `STREAMED` bytes were echoed. */
async function collectionsWhileStreaming(t: import('node:test').TestContext, nodeFlags: string[]): Promise<Collections> {
  const service = await startServiceFor(t, { nodeFlags: [...shippedNodeFlags(), ...TRACE, ...nodeFlags] });
  const before = count(service.stdout());
  const socket = await connect(service.echoPort);
  t.after(() => socket.destroy());
  const receiver = new PatternReceiver(socket);
  const sent = await writePattern(socket, STREAMED, { chunkSize: 65_536, timeoutMs: 240_000 });
  assert.equal(sent, STREAMED, 'the whole stream was written');
  assert.ok(await receiver.until(STREAMED, 240_000), `echoed ${receiver.received} of ${STREAMED} bytes`);
  assert.equal(receiver.mismatchAt, undefined, 'the echo is byte-exact');
  const after = count(service.stdout());
  return { pressureStarts: after.pressureStarts - before.pressureStarts, markCompacts: after.markCompacts - before.markCompacts };
}

function count(trace: string): Collections {
  return {
    pressureStarts: trace.match(/\[IncrementalMarking\] Start \(external memory pressure\)/g)?.length ?? 0,
    markCompacts: trace.match(/ Mark-Compact /g)?.length ?? 0,
  };
}

test('tcp-echo streams 320 MiB with no full collection; on V8 13.6+ its setting is what does it', { timeout: 600_000 }, async (t) => {
  // V8 12 (Node 22) reclaims read buffers by scavenges by default; V8 13.6 (Node 24) needs the setting.
  assert.deepEqual(await collectionsWhileStreaming(t, []), { pressureStarts: 0, markCompacts: 0 }, 'no full collection ran');
  if (!HAS_FLAG) return;
  // The user's own `--no-...` wins over tcp-echo's setting, and V8 13.6's default comes back.
  const defaults = await collectionsWhileStreaming(t, [`--no-${EXTERNAL_MEMORY_FLAG.slice(2)}`]);
  assert.ok(defaults.pressureStarts >= 2, `V8 default: ${JSON.stringify(defaults)} for 320 MiB of read buffers`);
});
