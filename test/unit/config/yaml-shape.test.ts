/** Shape checks on parsed YAML and bounded reads of config inputs (issue 15, items 6–8). */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { LineCounter, parseDocument } from 'yaml';
import { BoundedReadError, readBoundedFile } from '../../../src/config/bounded-read.js';
import { MAX_NESTING_DEPTH, findDuplicateKey, findShapeProblem } from '../../../src/config/yaml-shape.js';

const dir = mkdtempSync(path.join(tmpdir(), 'tcp-echo-shape-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function duplicateIn(text: string) {
  const lines = new LineCounter();
  return findDuplicateKey(parseDocument(text, { uniqueKeys: false, lineCounter: lines }), lines);
}

test('findDuplicateKey: the repeated key by line and column, at any depth; 1 and "1" differ', () => {
  assert.deepEqual(duplicateIn('a: 1\nb:\n  - c: 1\n    c: 2\n'), { where: 'line 4, column 5', problem: "Map keys must be unique ('c' repeats)" });
  assert.equal(duplicateIn('1: a\n"1": b\n'), undefined);
  assert.equal(duplicateIn('a: 1\nb: 2\n'), undefined);
});

test('findShapeProblem: a cycle names the alias path; nesting past the bound names where', () => {
  const cyclic: unknown[] = [];
  cyclic.push(cyclic);
  assert.deepEqual(findShapeProblem({ extra: cyclic }), {
    where: 'extra.0',
    problem: 'an alias refers to itself (a cycle); YAML aliases must not contain their anchor',
  });
  let deep: unknown = 1;
  for (let i = 0; i < MAX_NESTING_DEPTH + 5; i++) deep = { k: deep };
  const found = findShapeProblem(deep);
  assert.equal(found?.problem, `nested more than ${MAX_NESTING_DEPTH} levels deep`);
  assert.equal(found?.where.split('.').length, MAX_NESTING_DEPTH);
  // A shared (non-cyclic) alias is fine.
  const shared = { a: 1 };
  assert.equal(findShapeProblem({ x: shared, y: shared }), undefined);
});

test('readBoundedFile: regular files up to the bound; FIFOs, devices and larger files refused', () => {
  const small = path.join(dir, 'small.yaml');
  writeFileSync(small, 'port: 1\n');
  assert.equal(readBoundedFile(small, 1024), 'port: 1\n');
  const big = path.join(dir, 'big.yaml');
  writeFileSync(big, 'x'.repeat(2048));
  assert.throws(() => readBoundedFile(big, 1024), (e: unknown) => e instanceof BoundedReadError && e.reason === 'TOO_LARGE' && /larger than 1 KiB \(2048 bytes\)/.test(e.message));
  const fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  assert.throws(() => readBoundedFile(fifo, 1024), (e: unknown) => e instanceof BoundedReadError && e.reason === 'NOT_REGULAR' && /a FIFO/.test(e.message));
  assert.throws(() => readBoundedFile('/dev/zero', 1024), (e: unknown) => e instanceof BoundedReadError && /a character device/.test(e.message));
  assert.throws(() => readBoundedFile(path.join(dir, 'none'), 1024), (e: unknown) => e instanceof BoundedReadError && e.reason === 'ENOENT');
});
