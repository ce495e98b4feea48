/**
 * When tcp-echo applies its GC setting to itself (src/runtime/v8-heap.ts). Whether the setting
 * does what it is for is test/integration/v8-heap-tuning.test.ts; this runs the decision in a
 * child node so the test process keeps V8's defaults.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../helpers/service.js';
import { EXTERNAL_MEMORY_FLAG, tuneV8Heap, v8AtLeast } from '../../src/runtime/v8-heap.js';

test('v8AtLeast compares major and minor of a V8 version string', () => {
  assert.equal(v8AtLeast('13.6.233.17-node.63', [13, 6]), true);
  assert.equal(v8AtLeast('13.10.1', [13, 6]), true);
  assert.equal(v8AtLeast('14.0.0', [13, 6]), true);
  assert.equal(v8AtLeast('13.5.9', [13, 6]), false);
  assert.equal(v8AtLeast('12.4.254.21-node.33', [13, 6]), false);
  assert.equal(v8AtLeast('', [13, 6]), false);
});

test('the setting is left alone on an older V8 and when the command line names the flag either way', () => {
  const old = tuneV8Heap([], '12.4.254.21-node.33');
  assert.equal(old.applied, false);
  assert.match(old.applied ? '' : old.reason, /^V8 12\.4\.254\.21-node\.33 has no --external-memory-accounted-in-global-limit/);
  for (const named of [EXTERNAL_MEMORY_FLAG, '--no-external-memory-accounted-in-global-limit']) {
    const given = tuneV8Heap(['--initial-heap-size=128', named], '13.6.233.17-node.63');
    assert.deepEqual(given, { applied: false, reason: `the command line gives ${named}` });
  }
});

test('on this node the setting is applied exactly when its V8 has the flag, without a word on stderr', () => {
  const script = `import { tuneV8Heap } from ${JSON.stringify(path.join(ROOT, 'dist', 'runtime', 'v8-heap.js'))};
process.stdout.write(JSON.stringify(tuneV8Heap()));`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stderr, '', 'V8 printed nothing (an unknown flag prints "unrecognized flag")');
  const result = JSON.parse(child.stdout) as { applied: boolean; reason?: string };
  assert.equal(result.applied, v8AtLeast(process.versions.v8, [13, 6]), JSON.stringify(result));
});
