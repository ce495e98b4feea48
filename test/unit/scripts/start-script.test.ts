/**
 * `npm start` builds before it starts (~15 s of tsc): its first step says so, so the wait is not
 * silent. The step is run as npm runs it (sh), without the build and start that follow.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../../helpers/service.js';

test('npm start announces the build before it runs it', () => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const steps = pkg.scripts.start!.split('&&').map((s) => s.trim());
  const build = steps.findIndex((s) => s.startsWith('npm run build'));
  assert.ok(build > 0, `a step before the build: ${pkg.scripts.start}`);
  const before = spawnSync('sh', ['-c', steps.slice(0, build).join(' && ')], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(before.status, 0, before.stderr);
  assert.match(before.stdout + before.stderr, /^tcp-echo: building .*then starting/m);
});
