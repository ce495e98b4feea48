/**
 * Hostile config input (issue 15, items 6–9): odd files behind `-c` and `#file`, self-referencing
 * aliases and deep nesting, huge mappings, and durations no timer can honour. Each exits 1 with
 * one stderr line naming the file and the key path (or line/column), quickly, without a stack trace.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { baseComponents, runCli, tempFiles } from '../helpers/service.js';

const { dir, write: writeFile } = tempFiles('tcp-echo-hardening-');

/** The shipped shape on port 0 (nothing should get as far as binding), as YAML text. */
function configText(edit: (components: Record<string, Record<string, unknown>>) => void = () => {}): string {
  const components = baseComponents(0, 0);
  edit(components);
  return stringify({ components_manager: { components } });
}

/** Runs the CLI and expects exit 1 with exactly one stderr line starting `tcp-echo: <file>: <where>`. */
async function expectOneLine(args: string[], file: string, where: RegExp, problem: RegExp, timeoutMs = 10_000): Promise<string> {
  const result = await runCli(args, { timeoutMs });
  assert.equal(result.code, 1, `exit code; stderr:\n${result.stderr.slice(0, 2000)}`);
  const lines = result.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, `one line on stderr, got:\n${result.stderr.slice(0, 2000)}`);
  const line = lines[0]!;
  const prefix = `tcp-echo: ${file}: `;
  assert.ok(line.startsWith(prefix), `expected prefix ${JSON.stringify(prefix)}, got ${JSON.stringify(line.slice(0, 300))}`);
  assert.match(line.slice(prefix.length), where);
  assert.match(line, problem);
  assert.ok(line.length <= 4096, `a ${line.length}-character line`);
  return line;
}

describe('#file and -c read only bounded regular files (item 6)', () => {
  test('#file: /dev/zero is refused as not a regular file, at once', async () => {
    const file = writeFile(configText((c) => (c['tcp-echo'] = { 'port#file': '/dev/zero', address: '127.0.0.1' })));
    await expectOneLine(['-c', file], file, /^components_manager\.components\.tcp-echo\.port#file: /, /\/dev\/zero.*not a regular file/);
  });

  test('#file: a FIFO with no writer does not hang start-up', async () => {
    const fifo = path.join(dir, 'port.fifo');
    execFileSync('mkfifo', [fifo]);
    const file = writeFile(configText((c) => (c['tcp-echo'] = { 'port#file': fifo, address: '127.0.0.1' })));
    await expectOneLine(['-c', file], file, /^components_manager\.components\.tcp-echo\.port#file: /, /not a regular file/);
  });

  test('-c on a FIFO with no writer does not hang start-up', async () => {
    const fifo = path.join(dir, 'config.fifo');
    execFileSync('mkfifo', [fifo]);
    await expectOneLine(['-c', fifo], fifo, /^--config: /, /not a regular file/);
  });

  test('-c /dev/zero is refused, not read', async () => {
    await expectOneLine(['-c', '/dev/zero'], '/dev/zero', /^--config: /, /not a regular file/);
  });

  test('#file larger than the bound is refused with the size and the bound', async () => {
    const big = writeFile(`# ${'x'.repeat(2 * 1024 * 1024)}\n8181\n`, 'big-port.yaml');
    const file = writeFile(configText((c) => (c['tcp-echo'] = { 'port#file': big, address: '127.0.0.1' })));
    await expectOneLine(['-c', file], file, /^components_manager\.components\.tcp-echo\.port#file: /, /larger than .*1 MiB/);
  });
});

describe('aliases and nesting give one line, never a stack trace (item 7)', () => {
  test('a self-referencing alias', async () => {
    const file = writeFile(`${configText()}  extra: &a [*a]\n`);
    await expectOneLine(['-c', file], file, /^components_manager\.extra/, /refers to itself/);
  });

  test('a self-referencing alias inside a mapping', async () => {
    const file = writeFile(`${configText()}  extra: &m\n    again: *m\n`);
    await expectOneLine(['-c', file], file, /^components_manager\.extra\.again/, /refers to itself/);
  });

  test('3,000 nested block sequences in a 6 KB file', async () => {
    const file = writeFile(`${configText()}  extra:\n    ${'- '.repeat(3000)}1\n`);
    await expectOneLine(['-c', file], file, /^line \d+, column \d+: /, /nested (more|too)/);
  });

  test('a 10,000-level mapping', async () => {
    const file = writeFile(`${configText()}  extra: ${'{a: '.repeat(10_000)}1${'}'.repeat(10_000)}\n`);
    await expectOneLine(['-c', file], file, /^line \d+, column \d+: /, /nested (more|too)/);
  });

  test('a 3,000-level block mapping (4.5 MB of indentation)', async () => {
    let block = '';
    for (let i = 0; i < 3000; i++) block += `${' '.repeat(i + 4)}k${i}:\n`;
    const file = writeFile(`${configText()}  extra:\n${block}`);
    await expectOneLine(['-c', file], file, /^line \d+, column \d+: /, /nested (more|too)/);
  });

  test('800 levels of block nesting that the parser accepts still gives the key path', async () => {
    let block = '';
    for (let i = 0; i < 800; i++) block += `${'  '.repeat(i + 2)}k${i}:\n`;
    const file = writeFile(`${configText()}  extra:\n${block}${'  '.repeat(802)}v\n`);
    await expectOneLine(['-c', file], file, /^(components_manager\.extra\.k0\.k1|line \d+, column \d+)/, /nested more than/);
  });
});

describe('large mappings and files (item 8)', () => {
  test('40,000 keys in one mapping: the duplicate is found quickly', async () => {
    let keys = '';
    for (let i = 0; i < 40_000; i++) keys += `      k${i}: 1\n`;
    keys += '      k17: 2\n';
    const file = writeFile(configText().replace('  components:\n', `  x-many:\n    inner:\n${keys}  components:\n`));
    const started = performance.now();
    // Generous for a busy machine; the quadratic check took over 10 s on a quiet one.
    await expectOneLine(['-c', file], file, /^line 40004, column 7: /, /Map keys must be unique.*k17/, 30_000);
    const ms = performance.now() - started;
    assert.ok(ms < 30_000, `${Math.round(ms)} ms`);
  });

  test('40,000 distinct keys are accepted as far as validation (unknown key named)', async () => {
    let keys = '';
    for (let i = 0; i < 40_000; i++) keys += `      k${i}: 1\n`;
    const file = writeFile(configText().replace('  components:\n', `  x-many:\n    inner:\n${keys}  components:\n`));
    await expectOneLine(['-c', file], file, /^components_manager\.x-many/, /unknown/, 30_000);
  });

  test('a config file over the size bound is refused without parsing', async () => {
    const file = writeFile(`${configText()}# ${'x'.repeat(9 * 1024 * 1024)}\n`);
    await expectOneLine(['-c', file], file, /^--config: /, /larger than .*8 MiB/);
  });
});

describe('durations have a maximum timers can honour (item 9)', () => {
  test('every duration in the printed schema has a maximum <= 2^31-1 ms', async () => {
    const printed = await runCli(['--print-config-schema']);
    assert.equal(printed.code, 0, printed.stderr);
    const found: string[] = [];
    const walk = (node: Record<string, unknown>, at: string): void => {
      if (typeof node.format === 'string' && node.format.startsWith('duration')) {
        found.push(at);
        assert.equal(typeof node.maximum, 'number', `${at} has no maximum`);
        assert.ok((node.maximum as number) <= 2 ** 31 - 1, `${at}: maximum ${String(node.maximum)}`);
      }
      for (const [key, value] of Object.entries(node)) {
        if (value !== null && typeof value === 'object') walk(value as Record<string, unknown>, `${at}.${key}`);
      }
    };
    walk(parse(printed.stdout) as Record<string, unknown>, '');
    assert.ok(found.length >= 9, `only ${found.length} durations found`);
  });

  for (const option of ['schedule-delay', 'export-timeout']) {
    test(`tracer.${option}: 720h is refused`, async () => {
      const file = writeFile(configText((c) => (c.tracer = { 'service-name': 'x', [option]: '720h' })));
      await expectOneLine(['-c', file], file, new RegExp(`^components_manager\\.components\\.tracer\\.${option}: `), /2147483647/);
    });
  }
});
