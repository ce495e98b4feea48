/**
 * Generated static configs for the config fuzz test: a seeded PRNG (so a failing case reproduces
 * from its seed and index), mutations driven by the service's own schema (`--print-config-schema`:
 * wrong types, out-of-range values, unknown keys, valid values) and text-level faults (broken YAML,
 * anchor/alias bombs, deep nesting, huge strings). Each case says what the service must do with it.
 */
import { stringify } from 'yaml';
import { looksLikeStackTrace } from './monitor-client.js';
import { baseComponents } from './service.js';

/** mulberry32: a small, fast, seeded PRNG; good enough to pick mutations reproducibly. */
export class Prng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.int(0, items.length - 1)] as T;
  }
  /** A lowercase identifier of `length` letters. */
  word(length: number): string {
    let s = '';
    for (let i = 0; i < length; i++) s += String.fromCharCode(97 + this.int(0, 25));
    return s;
  }
}

/** A node of the schema document `--print-config-schema` prints (userver's schema shape). */
export interface SchemaDoc {
  type?: string;
  description?: string;
  properties?: Record<string, SchemaDoc>;
  additionalProperties?: SchemaDoc | false;
  enum?: string[];
  minimum?: number;
  maximum?: number;
  format?: string;
  items?: SchemaDoc;
  oneOf?: SchemaDoc[];
}

/** A leaf option of the schema and its dotted path (map entries get a concrete name). */
export interface Leaf {
  readonly path: string[];
  readonly schema: SchemaDoc;
}

/** Every leaf (non-object) option under `components_manager`, maps entered with `mapKey`. */
export function schemaLeaves(root: SchemaDoc, mapKey = 'main-task-processor'): Leaf[] {
  const leaves: Leaf[] = [];
  const walk = (node: SchemaDoc, path: string[], depth: number): void => {
    if (depth > 8) return;
    if (node.type === 'object') {
      for (const [key, child] of Object.entries(node.properties ?? {})) walk(child, [...path, key], depth + 1);
      if (node.additionalProperties && Object.keys(node.properties ?? {}).length === 0) {
        walk(node.additionalProperties, [...path, mapKey], depth + 1);
      }
      return;
    }
    leaves.push({ path, schema: node });
  };
  walk(root, [], 0);
  return leaves.filter((l) => l.path[0] === 'components_manager');
}

/** Object schemas (where an unknown key is an error), with their paths. */
export function schemaObjects(root: SchemaDoc): string[][] {
  const out: string[][] = [];
  const walk = (node: SchemaDoc, path: string[], depth: number): void => {
    if (node.type !== 'object' || depth > 8) return;
    if (node.additionalProperties === false) out.push(path);
    for (const [key, child] of Object.entries(node.properties ?? {})) walk(child, [...path, key], depth + 1);
  };
  walk(root, [], 0);
  return out.filter((p) => p[0] === 'components_manager');
}

/** What the service must do with a generated config. */
export type Expectation =
  /** Exit non-zero with one stderr line naming the file and this key path (or a path it starts with). */
  | { readonly kind: 'error'; readonly keyPath: string }
  /** Exit non-zero with a message naming the file (syntax-level faults). */
  | { readonly kind: 'file-error' }
  /** Start and serve (then exit 0 on SIGTERM). */
  | { readonly kind: 'start' }
  /** Either start, or exit non-zero naming the file and some key path. */
  | { readonly kind: 'either' };

/** One generated config. */
export interface FuzzCase {
  readonly index: number;
  /** What was done to the base config, for failure messages. */
  readonly label: string;
  readonly text: string | Buffer;
  readonly expect: Expectation;
  /** Extra environment for the process. */
  readonly env?: Record<string, string>;
  /** Which listeners a started service must have. */
  readonly probe: { echo: boolean; ping: boolean };
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Config = { components_manager: { [key: string]: Json; components: Record<string, Record<string, Json>> } };

/**
 * Keys whose valid values would move or break the listeners the probe needs, point at files, or
 * start worker processes (`worker_threads` maps onto `workers`: 1024 would fork 1024 processes;
 * the cluster tests cover that mode).
 */
const NO_VALID_MUTATION = new Set([
  'worker_threads',
  'port',
  'address',
  'file_path',
  'config_vars',
  'endpoint',
  'path',
  'method',
  'workers',
  'default_task_processor',
  'fs_task_processor',
]);

function baseConfig(echoPort: number, monitorPort: number): Config {
  return {
    components_manager: {
      task_processors: { 'main-task-processor': { worker_threads: 1 } },
      components: baseComponents(echoPort, monitorPort) as Record<string, Record<string, Json>>,
    },
  };
}

function setPath(root: Record<string, Json>, path: readonly string[], value: Json): void {
  let node: Record<string, Json> = root;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, Json>;
  }
  node[path[path.length - 1] as string] = value;
}

const isDuration = (s: SchemaDoc): boolean => (s.format ?? '').startsWith('duration');
const isSize = (s: SchemaDoc): boolean => (s.format ?? '').startsWith('size');

/** A value the schema node must reject. */
function invalidValue(rng: Prng, s: SchemaDoc): Json {
  const common: Json[] = [[1, 2], { nested: { deeper: true } }];
  if (isDuration(s) || isSize(s)) {
    const bad: Json[] = ['5 parsecs', '12 bananas', 'abc', '-1s', -1, true, ...common];
    if (s.maximum !== undefined && s.maximum < 1e12) bad.push(s.maximum + 1);
    if (isSize(s)) bad.push(1.5);
    return rng.pick(bad);
  }
  switch (s.type) {
    case 'integer':
    case 'number': {
      const bad: Json[] = ['abc', '', true, ...common, 'x'.repeat(rng.int(100, 1 << 20))];
      if (s.type === 'integer') bad.push(1.5);
      if (s.minimum !== undefined) bad.push(s.minimum - 1);
      if (s.maximum !== undefined) bad.push(s.maximum + 1);
      return rng.pick(bad);
    }
    case 'boolean':
      return rng.pick<Json>(['yes', 'on', 1, 0, 'true', ...common]);
    case 'string':
      if (s.enum) return rng.pick<Json>([`${rng.pick(s.enum)}x`, 'X'.repeat(rng.int(100, 1 << 20)), 7, ...common]);
      return rng.pick<Json>([7, false, ...common]);
    case 'array':
      return rng.pick<Json>(['x', { a: 1 }]);
    default:
      // oneOf and other scalar unions: no list or mapping is ever one of their variants.
      return rng.pick<Json>(common);
  }
}

/** A value the schema node accepts (kept small and fast: short durations, modest sizes). */
function validValue(rng: Prng, s: SchemaDoc): Json {
  const lo = s.minimum ?? 0;
  if (isDuration(s)) return rng.pick<Json>([`${Math.max(lo, rng.int(0, 2000))}ms`, Math.max(lo, rng.int(0, 2000)), `${Math.max(1, Math.ceil(lo / 1000))}s`]);
  if (isSize(s)) {
    const bytes = Math.max(lo, rng.int(1024, 1 << 20));
    return rng.pick<Json>([bytes, `${Math.max(1, Math.ceil(bytes / 1024))}KiB`]);
  }
  switch (s.type) {
    case 'integer': {
      const hi = Math.min(s.maximum ?? lo + 100_000, lo + 100_000);
      return rng.pick([lo, hi, rng.int(lo, hi)]);
    }
    case 'number': {
      const hi = s.maximum ?? lo + 1000;
      return rng.pick([lo, hi, lo + rng.next() * (hi - lo)]);
    }
    case 'boolean':
      return rng.next() < 0.5;
    case 'string':
      return s.enum ? rng.pick(s.enum) : rng.pick([rng.word(8), 'x'.repeat(rng.int(1000, 1 << 20))]);
    default:
      return null;
  }
}

/** `depth` levels of nested mappings under random keys, ending in a scalar. */
function nested(rng: Prng, depth: number): Json {
  let value: Json = rng.word(4);
  for (let i = 0; i < depth; i++) value = { [rng.word(3)]: value };
  return value;
}

const dotted = (path: readonly string[]): string => path.join('.');

/**
 * Case `index` of the fuzz run for `seed`. Ports are the caller's free ports; the schema document
 * drives the structured mutations. The mix: ~50% invalid values, unknown keys, wrong-shaped sections
 * and missing vars; ~20% syntax and resource faults; ~30% configs that should (or may) start.
 */
export function fuzzCase(seed: number, index: number, schema: SchemaDoc, echoPort: number, monitorPort: number): FuzzCase {
  const rng = new Prng(seed * 7919 + index);
  const config = baseConfig(echoPort, monitorPort);
  const leaves = schemaLeaves(schema);
  const objects = schemaObjects(schema);
  const probe = { echo: true, ping: true };
  const yaml = (c: unknown): string => stringify(c, { lineWidth: 0 });
  const roll = rng.next();

  if (roll < 0.3) {
    // A wrong type or an out-of-range value at one option.
    const leaf = rng.pick(leaves);
    const value = invalidValue(rng, leaf.schema);
    setPath(config as unknown as Record<string, Json>, leaf.path, value);
    const shown = typeof value === 'string' && value.length > 40 ? `"${value.slice(0, 10)}..." (${value.length} chars)` : JSON.stringify(value);
    return { index, label: `${dotted(leaf.path)} = ${shown}`, text: yaml(config), expect: { kind: 'error', keyPath: dotted(leaf.path) }, probe };
  }
  if (roll < 0.45) {
    // An unknown key somewhere a schema forbids one; sometimes with a deeply nested value.
    const at = rng.pick(objects);
    const key = rng.next() < 0.2 ? `x${rng.word(rng.int(100, 300))}` : `x${rng.word(rng.int(2, 10))}`;
    const value = rng.next() < 0.3 ? nested(rng, rng.int(50, 500)) : rng.pick<Json>([1, 'v', true, [1, 2], { a: 1 }]);
    setPath(config as unknown as Record<string, Json>, [...at, key], value);
    return { index, label: `unknown key ${dotted(at)}.${key.slice(0, 20)}`, text: yaml(config), expect: { kind: 'error', keyPath: dotted([...at, key]) }, probe };
  }
  if (roll < 0.5) {
    // A whole section of the wrong shape, or a config var that does not exist.
    const section = rng.pick(Object.keys(config.components_manager.components));
    if (rng.next() < 0.5) {
      config.components_manager.components[section] = rng.pick<Json>([5, 'on', [1, 2]]) as never;
      return { index, label: `section ${section} is a scalar/list`, text: yaml(config), expect: { kind: 'error', keyPath: `components_manager.components.${section}` }, probe };
    }
    (config.components_manager.components['tcp-echo'] as Record<string, Json>).port = `$no_such_var_${rng.word(5)}`;
    return { index, label: 'port from a missing config var', text: yaml(config), expect: { kind: 'error', keyPath: 'components_manager.components.tcp-echo.port' }, probe };
  }
  if (roll < 0.7) return syntaxCase(rng, index, config, yaml, probe);
  if (roll < 0.95) {
    // One to three valid values at options that do not move the listeners.
    const usable = leaves.filter((l) => !NO_VALID_MUTATION.has(l.path[l.path.length - 1] as string));
    const labels: string[] = [];
    for (let i = rng.int(1, 3); i > 0; i--) {
      const leaf = rng.pick(usable);
      const value = validValue(rng, leaf.schema);
      let shown = JSON.stringify(value);
      if (shown.length > 40) shown = `${shown.slice(0, 10)}... (${shown.length} chars)`;
      setPath(config as unknown as Record<string, Json>, leaf.path, value);
      labels.push(`${dotted(leaf.path)} = ${shown}`);
      const last = leaf.path[leaf.path.length - 1];
      const section = leaf.path[2];
      if (last === 'load-enabled' && value === false) {
        if (section === 'tcp-echo') probe.echo = false;
        if (section === 'server' || section === 'handler-ping') probe.ping = false;
      }
    }
    // Cross-key rules (request_timeout >= headers_timeout, ...) may reject a combination: either is fine.
    return { index, label: labels.join('; '), text: yaml(config), expect: { kind: 'either' }, probe };
  }
  return substitutionCase(rng, index, config, yaml, probe, echoPort);
}

function syntaxCase(
  rng: Prng,
  index: number,
  config: Config,
  yaml: (c: unknown) => string,
  probe: FuzzCase['probe'],
): FuzzCase {
  const text = yaml(config);
  const fileError = { kind: 'file-error' } as const;
  const n = rng.int(0, 13);
  switch (n) {
    case 0:
      return { index, label: 'unclosed flow sequence', text: `${text}\n  extra: [1, 2\n`, expect: fileError, probe };
    case 1:
      return { index, label: 'tab indentation', text: `${text}\n\tbad: tab\n`, expect: fileError, probe };
    case 2:
      return { index, label: 'unterminated quote', text: text.replace('tskv', "'tskv"), expect: fileError, probe };
    case 3:
      return { index, label: 'duplicate top-level key', text: `${text}components_manager: {}\n`, expect: fileError, probe };
    case 4: {
      // The billion laughs: each level refers to the one before ten times.
      const levels = rng.int(6, 12);
      let bomb = 'a0: &a0 ["lol"]\n';
      for (let i = 1; i < levels; i++) bomb += `a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(', ')}]\n`;
      const body = bomb.split('\n').filter(Boolean).map((l) => `    ${l}`).join('\n');
      return {
        index,
        label: `alias bomb, ${levels} levels`,
        text: text.replace('components_manager:\n', `components_manager:\n  x-bomb:\n${body}\n`),
        expect: fileError,
        probe,
      };
    }
    case 5: {
      const depth = rng.int(1000, 30_000);
      return { index, label: `flow nesting ${depth} deep`, text: `${text}deep: ${'['.repeat(depth)}${']'.repeat(depth)}\n`, expect: fileError, probe };
    }
    case 6: {
      const depth = rng.int(200, 800);
      let block = '';
      for (let i = 0; i < depth; i++) block += `${'  '.repeat(i)}k${i}:\n`;
      return { index, label: `block nesting ${depth} deep`, text: `${text}${block}${'  '.repeat(depth)}v\n`, expect: fileError, probe };
    }
    case 7:
      return { index, label: 'empty file', text: '', expect: fileError, probe };
    case 8:
      return { index, label: 'only a comment', text: '# nothing here\n', expect: fileError, probe };
    case 9:
      return { index, label: 'top-level scalar', text: rng.pick(['42\n', 'hello\n', 'null\n', '~\n']), expect: fileError, probe };
    case 10:
      return { index, label: 'top-level list', text: '- components_manager\n- 1\n', expect: fileError, probe };
    case 11:
      return { index, label: 'invalid UTF-8 and NUL bytes', text: Buffer.concat([Buffer.from(text), Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x0a])]), expect: fileError, probe };
    case 12:
      return { index, label: 'unknown tag', text: text.replace('level: info', 'level: !!binary info'), expect: fileError, probe };
    default:
      return { index, label: 'huge flow mapping key', text: `${text}{${'k'.repeat(rng.int(1 << 16, 1 << 21))}: 1}\n`, expect: fileError, probe };
  }
}

function substitutionCase(
  rng: Prng,
  index: number,
  config: Config,
  yaml: (c: unknown) => string,
  probe: FuzzCase['probe'],
  echoPort: number,
): FuzzCase {
  const echo = config.components_manager.components['tcp-echo'] as Record<string, Json>;
  const n = rng.int(0, 3);
  if (n === 0) {
    // Anchors and aliases used the ordinary way: valid, must start.
    const plain = yaml(config);
    const text = plain.replace(
      '    main-task-processor:\n      worker_threads: 1\n',
      '    main-task-processor: &tp\n      worker_threads: 1\n    monitor-task-processor: *tp\n',
    );
    if (text === plain) throw new Error('the base config no longer has the task processor this case aliases');
    return { index, label: 'anchors and aliases, ordinary use', text, expect: { kind: 'start' }, probe };
  }
  delete echo.port;
  if (n === 1) {
    echo['port#env'] = 'FUZZ_UNSET_VARIABLE';
    echo['port#fallback'] = echoPort;
    return { index, label: 'port#env unset, #fallback used', text: yaml(config), expect: { kind: 'start' }, probe };
  }
  if (n === 2) {
    echo['port#env'] = 'FUZZ_PORT';
    return {
      index,
      label: 'port#env holding garbage',
      text: yaml(config),
      env: { FUZZ_PORT: rng.pick(['abc', '-1', '70000', '1.5', '']) },
      expect: { kind: 'error', keyPath: 'components_manager.components.tcp-echo.port' },
      probe,
    };
  }
  echo['port#file'] = `/nonexistent/${rng.word(6)}`;
  return { index, label: 'port#file missing, no fallback', text: yaml(config), expect: { kind: 'error', keyPath: 'components_manager.components.tcp-echo.port' }, probe };
}

/**
 * What is wrong with the way a config was rejected, or undefined when the rejection is as the
 * contract says: one short line naming the file and (for a key-level fault) the key path, never a
 * stack trace. `message` is what the service prints on stderr (or the error it would print).
 */
export function rejectionProblem(c: FuzzCase, message: string, file: string): string | undefined {
  const head = `case ${c.index} (${c.label}): `;
  const lines = message.split('\n').filter((l) => l.trim() !== '');
  if (looksLikeStackTrace(message)) return `${head}stack trace in the message:\n${message.slice(0, 1500)}`;
  if (c.expect.kind === 'start') return `${head}should start but was rejected: ${message.slice(0, 500)}`;
  if (!message.includes(file)) return `${head}the message does not name the file ${file}: ${message.slice(0, 500)}`;
  // Config errors of every kind (schema, cross-key rules, component wiring) are one short line.
  if (lines.length !== 1) return `${head}expected one line, got ${lines.length}: ${message.slice(0, 800)}`;
  if (message.length > 4096) return `${head}a ${message.length}-character message (huge values must be shortened): ${message.slice(0, 300)}`;
  if (c.expect.kind === 'either' && !/components_manager\.|: <root>:|--config/.test(message)) {
    return `${head}the message names no key path: ${message.slice(0, 500)}`;
  }
  if (c.expect.kind === 'error' && !message.includes(c.expect.keyPath)) {
    return `${head}the message does not name ${c.expect.keyPath}: ${message.slice(0, 500)}`;
  }
  return undefined;
}
