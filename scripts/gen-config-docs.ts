/**
 * Writes docs/configuration.md from the built service's schema (`dist/main.js
 * --print-config-schema`), so the reference lists exactly the components main.ts runs.
 * `--check` exits 1 instead of writing when the committed file is out of date.
 *
 * Usage: npm run build && tsx scripts/gen-config-docs.ts [--check]
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { renderConfigurationDoc, type SchemaDocument } from '../src/config/schema-markdown.js';
import { renderOtelVariablesTable } from '../src/telemetry/otel-env.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const target = path.join(root, 'docs', 'configuration.md');
const schema = parse(
  execFileSync(process.execPath, [path.join(root, 'dist', 'main.js'), '--print-config-schema'], { encoding: 'utf8' }),
) as SchemaDocument;
// The OTEL_* variables are configuration too; their table lives beside the code that reads them.
const text = renderConfigurationDoc(schema, [renderOtelVariablesTable()]);

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // A missing file is simply out of date.
  }
  if (current !== text) {
    process.stderr.write(`${path.relative(root, target)} is out of date: run npm run docs:config\n`);
    process.exit(1);
  }
} else {
  writeFileSync(target, text);
  process.stdout.write(`wrote ${path.relative(root, target)}\n`);
}
