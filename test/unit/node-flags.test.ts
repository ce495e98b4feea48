/**
 * Every way of starting tcp-echo passes the same V8 flags. They matter for speed (see
 * docs/benchmarks.md: without them V8 runs full GCs while streaming), and NODE_OPTIONS cannot carry
 * `--initial-heap-size`, so each start command names them itself.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { shippedNodeFlags } from '../helpers/node-flags.js';
import { ROOT } from '../helpers/service.js';

const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

/** What a node started with `flags` reports about itself. */
const HEAP_SCRIPT =
  'const v8 = require("node:v8"); process.stdout.write(JSON.stringify({ execArgv: process.execArgv, heapSizeLimit: v8.getHeapStatistics().heap_size_limit }))';

function heapOf(flags: readonly string[]): { execArgv: string[]; heapSizeLimit: number } {
  return JSON.parse(execFileSync(process.execPath, [...flags, '-e', HEAP_SCRIPT], { encoding: 'utf8' })) as {
    execArgv: string[];
    heapSizeLimit: number;
  };
}

test('the flags are real V8 flags that node accepts, and they take effect', () => {
  const flags = shippedNodeFlags();
  assert.ok(flags.length > 0);
  for (const flag of flags) assert.match(flag, /^--[a-z-]+=\d+$/);
  // node refuses a flag neither it nor V8 knows ("bad option", exit 9): the check below can fail.
  const bogus = spawnSync(process.execPath, ['--no-such-v8-flag=4', '-e', '0'], { encoding: 'utf8' });
  assert.equal(bogus.status, 9);
  assert.match(bogus.stderr, /bad option/);

  const shipped = heapOf(flags);
  assert.deepEqual(shipped.execArgv, [...flags, '-e', HEAP_SCRIPT], 'node runs with exactly the shipped flags');
  // V8 sizes the young generation as 3 semi-spaces inside heap_size_limit: doubling
  // --max-semi-space-size adds 3 × its value, so the shipped value is the one in effect.
  const semi = flags.find((f) => f.startsWith('--max-semi-space-size='));
  assert.ok(semi, 'the flags set --max-semi-space-size');
  const mib = Number(semi.split('=')[1]);
  const doubled = heapOf(flags.map((f) => (f === semi ? `--max-semi-space-size=${2 * mib}` : f)));
  assert.equal(doubled.heapSizeLimit - shipped.heapSizeLimit, 3 * mib * 1024 * 1024);
});

test('npm start passes the flags from package.json config.node_flags', () => {
  const start = read('scripts/start.sh');
  assert.match(start, /flags=\$\{npm_package_config_node_flags:-\$\(node -p 'require\("\.\/package\.json"\)\.config\.node_flags'\)\}/);
  assert.match(start, /^exec node \$flags dist\/main\.js -c config\/static_config\.yaml/m);
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
