/**
 * `npm start` builds before it starts (~15 s of tsc): its first step says so, so the wait is not
 * silent. It runs scripts/start.sh under scripts/with-node.sh (a machine whose node is older than
 * engines gets Node 24). The announcement is run as the script runs it, without the build and start.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../../helpers/service.js';

test('npm start runs scripts/start.sh through with-node.sh, which announces the build before it runs it', () => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.equal(pkg.scripts.start, 'bash scripts/with-node.sh any bash scripts/start.sh');
  const lines = readFileSync(path.join(ROOT, 'scripts', 'start.sh'), 'utf8').split('\n');
  const build = lines.findIndex((l) => l.trim().startsWith('npm run build'));
  const announce = lines.findIndex((l) => l.trim().startsWith('echo '));
  assert.ok(announce >= 0 && announce < build, 'the announcement comes before the build');
  const before = spawnSync('sh', ['-c', lines[announce]!], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(before.status, 0, before.stderr);
  assert.match(before.stdout + before.stderr, /^tcp-echo: building .*then starting/m);
});
