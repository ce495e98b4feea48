/**
 * Every way of starting tcp-echo passes the same V8 flags. They matter for speed (see
 * docs/benchmarks.md: without them V8 runs full GCs while streaming), and NODE_OPTIONS cannot carry
 * `--initial-heap-size`, so each start command names them itself.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { shippedNodeFlags } from '../helpers/node-flags.js';
import { ROOT } from '../helpers/service.js';

const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

test('the flags are real V8 flags that node accepts', () => {
  const flags = shippedNodeFlags();
  assert.ok(flags.length > 0);
  for (const flag of flags) assert.match(flag, /^--[a-z-]+=\d+$/);
});

test('npm start passes the flags from package.json config.node_flags', () => {
  const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
  assert.match(pkg.scripts.start ?? '', /node \$npm_package_config_node_flags dist\/main\.js/);
});

test('the bin shebang of src/main.ts carries the same flags', () => {
  const shebang = read('src/main.ts').split('\n')[0];
  assert.equal(shebang, `#!/usr/bin/env -S node ${shippedNodeFlags().join(' ')}`);
});

test('the Dockerfile ENTRYPOINT carries the same flags', () => {
  const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(read('Dockerfile'));
  assert.ok(entrypoint, 'Dockerfile has an exec-form ENTRYPOINT');
  assert.deepEqual(JSON.parse(entrypoint[1]!), ['node', ...shippedNodeFlags(), 'dist/main.js']);
});

test("the pytest_userver service-binary wrapper execs node with the same flags", () => {
  const exec = read('scripts/tcp-echo-service-binary')
    .split('\n')
    .find((line) => line.startsWith('exec '));
  assert.equal(exec, `exec node ${shippedNodeFlags().join(' ')} "$here/dist/main.js" "$@"`);
});
