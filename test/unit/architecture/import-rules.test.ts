/**
 * The folder rules of docs/architecture.md, enforced on the source: every relative import of
 * every file under src/ is read and checked against what its folder may import. Lower folders
 * never import higher ones: telemetry knows neither the echo nor the monitor; the cluster runs
 * echoes, so it imports echo, never the reverse.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { SRC, sourceFiles } from '../../helpers/source-files.js';

/** What each top-level folder (or file) of src/ may import, besides itself and `errors.ts`. */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  'errors.ts': [],
  config: [],
  net: [],
  runtime: [],
  log: ['components', 'config'],
  components: ['cli', 'config', 'log'],
  cli: ['config'],
  telemetry: ['components', 'config', 'log'],
  echo: ['components', 'config', 'log', 'net', 'telemetry'],
  monitor: ['components', 'config', 'log', 'net', 'telemetry'],
  cluster: ['components', 'config', 'log', 'echo', 'telemetry'],
  'component-list.ts': ['cluster', 'components', 'log', 'monitor', 'telemetry'],
  'main.ts': ['cluster', 'component-list.ts', 'components', 'runtime'],
};

/** The top-level folder (or file) of src/ a path belongs to. */
function area(file: string): string {
  return path.relative(SRC, file).split(path.sep)[0] as string;
}

/** Relative module specifiers of `text`: static imports and re-exports, and dynamic `import()`. */
function relativeImports(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g)) {
    found.push((match[1] ?? match[2]) as string);
  }
  return found;
}

const files = sourceFiles(SRC);

test('the scan sees the source: files and imports of every folder', () => {
  assert.ok(files.length > 40, `only ${files.length} files under src/`);
  for (const folder of Object.keys(MAY_IMPORT)) {
    assert.ok(files.some((f) => area(f) === folder), `no file in src/${folder}`);
  }
  const echo = readFileSync(path.join(SRC, 'echo/echo-component.ts'), 'utf8');
  assert.ok(relativeImports(echo).includes('../net/listen.js'), 'the scan reads the echo component imports');
});

test('every src/ import stays within what its folder may import (docs/architecture.md)', () => {
  const violations: string[] = [];
  for (const file of files) {
    const from = area(file);
    const allowed = MAY_IMPORT[from];
    assert.ok(allowed, `src/${from} has no import rule in this test and docs/architecture.md`);
    for (const specifier of relativeImports(readFileSync(file, 'utf8'))) {
      const target = path.resolve(path.dirname(file), specifier);
      assert.ok(target.startsWith(SRC + path.sep), `${path.relative(SRC, file)} imports outside src/: ${specifier}`);
      const to = area(target).replace(/\.js$/, '.ts');
      if (to === from || to === 'errors.ts' || allowed.includes(to)) continue;
      violations.push(`src/${path.relative(SRC, file)} → src/${path.relative(SRC, target)}`);
    }
  }
  assert.deepEqual(violations, []);
});

test('the rules the issue names: telemetry imports neither echo nor monitor; echo never imports cluster', () => {
  for (const [from, forbidden] of [
    ['telemetry', ['echo', 'monitor', 'cluster']],
    ['echo', ['cluster', 'monitor']],
  ] as const) {
    for (const to of forbidden) assert.ok(!MAY_IMPORT[from]?.includes(to), `${from} may not import ${to}`);
  }
});
