import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { renderConfigurationDoc, type SchemaDocument } from '../../../src/config/schema-markdown.js';
import { renderOtelVariablesTable } from '../../../src/telemetry/otel-env.js';
import { duration, integer, object, optional, size, string, toSchemaDocument } from '../../../src/config/schema.js';
import { MAIN, ROOT } from '../../helpers/service.js';

describe('docs/configuration.md', () => {
  test('is up to date with the schemas (regenerate: npm run docs:config)', () => {
    const printed = execFileSync(process.execPath, [MAIN, '--print-config-schema'], { encoding: 'utf8' });
    const expected = renderConfigurationDoc(parse(printed) as SchemaDocument, [renderOtelVariablesTable()]);
    const committed = readFileSync(path.join(ROOT, 'docs', 'configuration.md'), 'utf8');
    assert.ok(committed === expected, 'docs/configuration.md is out of date: run `npm run build && npm run docs:config`');
  });

  test('renders one table row per key: nested paths, types with ranges, defaults in units, required keys', () => {
    const section = object({
      description: 'the section',
      properties: {
        port: integer({ description: 'the port | with a pipe', minimum: 0, maximum: 65535 }),
        timeout: duration({ description: 'a timeout', default: '90s' }),
        buffer: size({ description: 'a buffer', default: '64KiB' }),
        mode: optional(string({ description: 'a mode', enum: ['a', 'b'] })),
        listener: object({ description: 'nested', properties: { address: string({ description: 'addr', default: '::' }) } }),
      },
    });
    const root = object({
      description: 'root',
      properties: {
        components_manager: object({
          description: 'manager',
          properties: { components: object({ description: 'sections', properties: { echo: section } }) },
        }),
      },
    });
    const text = renderConfigurationDoc(toSchemaDocument(root) as unknown as SchemaDocument);
    assert.match(text, /\n## `echo`\n\nthe section\n/);
    assert.match(text, /\| `port` \| integer 0\.\.65535 \| \*\*required\*\* \| the port \\\| with a pipe \|/);
    assert.match(text, /\| `timeout` \| duration ≤ 2147483647 ms \| `90s` \| a timeout \|/);
    assert.match(text, /\| `buffer` \| size \| `64KiB` \| a buffer \|/);
    assert.match(text, /\| `mode` \| string: `a`, `b` \|  \| a mode \|/);
    assert.match(text, /\| `listener\.address` \| string \| `::` \| addr \|/);
  });
});
