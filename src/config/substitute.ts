/**
 * userver's config substitution: `$name` values come from config vars; a key's `#env`, `#file`
 * and `#fallback` siblings supply the value when the var is not defined or the key is absent.
 * Precedence for one key: literal value, then config var, then env, then file, then fallback.
 */
import { parse } from 'yaml';
import { ConfigFileError, ConfigUnknownKeyError, ConfigValueError, ConfigVarMissingError, type ConfigLocation } from '../errors.js';
import { BoundedReadError, MAX_VALUE_FILE_BYTES, readBoundedFile } from './bounded-read.js';
import { isMapping } from './mapping.js';
import { nearest } from './nearest.js';
import { describeValue } from './schema.js';
import { MAX_ALIAS_COUNT, describeFsError, parseYaml } from './yaml-file.js';

/** Where substituted values come from. */
export interface SubstitutionSources {
  /** Config vars (`--config_vars` overridden by `--config_vars_override`). */
  readonly vars: Readonly<Record<string, unknown>>;
  /** The vars files that were read, for "not defined in ..." messages. */
  readonly varsFiles: readonly string[];
  /** The environment for `#env` (process.env in production). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /**
   * Filled with where each substituted value came from, by dotted key path (e.g.
   * `components_manager.components.tcp-echo.port` → `environment variable ECHO_PORT`), so a later
   * validation error can say so.
   */
  readonly origins?: Map<string, string>;
}

const SUFFIXES = ['env', 'file', 'fallback'] as const;
type Suffix = (typeof SUFFIXES)[number];
const SUFFIX_KEYS = SUFFIXES.map((s) => `#${s}`);
// userver takes everything after `$` as the name; requiring a name-like tail keeps values such
// as `$` or `$5` literal instead of turning them into confusing "var not defined" errors.
const VAR_REF = /^\$([A-Za-z_][\w.-]*)$/;

/**
 * Returns `value` with every `$name` resolved and every `key#env` / `key#file` / `key#fallback`
 * consumed, at every depth (lists included). Throws ConfigVarMissingError naming the key path and
 * the var when nothing supplies a `$name`.
 */
export function substitute(value: unknown, sources: SubstitutionSources, at: ConfigLocation): unknown {
  if (Array.isArray(value)) return value.map((item, i) => substituteValue(item, sources, child(at, String(i)), undefined));
  if (isMapping(value)) return substituteMapping(value, sources, at);
  return substituteValue(value, sources, at, undefined);
}

/** The `$name` in a value, if it is a var reference. */
function varReference(value: unknown): string | undefined {
  return typeof value === 'string' ? VAR_REF.exec(value)?.[1] : undefined;
}

type Siblings = Partial<Record<Suffix, unknown>>;

function substituteMapping(input: Record<string, unknown>, sources: SubstitutionSources, at: ConfigLocation) {
  // Group `key#suffix` entries by key first, so a key's siblings are known whatever their order;
  // a key takes the place of its first appearance (plain or suffixed) in the output.
  const siblings = new Map<string, Siblings>();
  const order = new Set<string>();
  for (const [key, raw] of Object.entries(input)) {
    const hash = key.lastIndexOf('#');
    if (hash <= 0) {
      order.add(key);
      continue;
    }
    const base = key.slice(0, hash);
    const suffix = key.slice(hash);
    if (!SUFFIX_KEYS.includes(suffix)) {
      const hint = nearest(suffix, SUFFIX_KEYS);
      throw new ConfigUnknownKeyError(
        child(at, key),
        `unknown substitution '${suffix}'` +
          (hint ? `; did you mean '${base}${hint}'?` : '') +
          ` (allowed: ${SUFFIX_KEYS.join(', ')})`,
      );
    }
    order.add(base);
    const group = siblings.get(base) ?? {};
    group[suffix.slice(1) as Suffix] = raw;
    siblings.set(base, group);
  }
  const out: Record<string, unknown> = {};
  for (const key of order) {
    const resolved = substituteValue(input[key], sources, child(at, key), siblings.get(key), Object.hasOwn(input, key));
    if (resolved !== ABSENT) out[key] = resolved;
  }
  return out;
}

const ABSENT = Symbol('absent');

function substituteValue(
  value: unknown,
  sources: SubstitutionSources,
  at: ConfigLocation,
  siblings: Siblings | undefined,
  present = true,
): unknown {
  const name = present ? varReference(value) : undefined;
  if (present && name === undefined) {
    // A literal wins over its siblings; containers are substituted inside.
    return Array.isArray(value) || isMapping(value) ? substitute(value, sources, at) : value;
  }
  if (name !== undefined && Object.hasOwn(sources.vars, name)) {
    sources.origins?.set(at.keyPath, `config var '${name}'`);
    return sources.vars[name];
  }
  const fromSiblings = siblings ? resolveSiblings(siblings, sources, at) : ABSENT;
  if (fromSiblings !== ABSENT || name === undefined) return fromSiblings;
  const where = sources.varsFiles.length
    ? `not defined in ${sources.varsFiles.join(' or ')}`
    : 'not defined (no --config_vars file was given)';
  const leaf = at.keyPath.split('.').at(-1) ?? '';
  const hint = /^\d+$/.test(leaf) ? '' : `; define it, or add '${leaf}#env', '${leaf}#file' or '${leaf}#fallback'`;
  throw new ConfigVarMissingError(at, `config var '${name}' (from '$${name}') is ${where}${hint}`);
}

function resolveSiblings(siblings: Siblings, sources: SubstitutionSources, at: ConfigLocation): unknown {
  if (siblings.env !== undefined) {
    const variable = requireString(siblings.env, suffixed(at, 'env'), 'an environment variable name');
    const raw = sources.env[variable];
    // An empty variable counts as unset: `ECHO_PORT= tcp-echo ...` should not make the port null.
    if (raw !== undefined && raw !== '') {
      sources.origins?.set(at.keyPath, `environment variable ${variable}`);
      return parseScalar(raw);
    }
  }
  if (siblings.file !== undefined) {
    const fileAt = suffixed(at, 'file');
    const file = requireString(siblings.file, fileAt, 'a file path');
    const text = readOptional(file, fileAt);
    if (text !== undefined) {
      sources.origins?.set(at.keyPath, `file ${file}`);
      return parseYaml(text, file);
    }
  }
  if (siblings.fallback !== undefined) {
    sources.origins?.set(at.keyPath, `${at.keyPath.split('.').at(-1) ?? ''}#fallback`);
    return substitute(siblings.fallback, sources, suffixed(at, 'fallback'));
  }
  return ABSENT;
}

/** Environment values are YAML scalars: "8181" is a number, "true" a boolean, anything else a string. */
function parseScalar(raw: string): unknown {
  try {
    const value: unknown = parse(raw, { maxAliasCount: MAX_ALIAS_COUNT });
    return value !== null && typeof value === 'object' ? raw : value ?? raw;
  } catch {
    return raw;
  }
}

/** A missing `#file` falls through to `#fallback` (as in userver); any other failure is an error. */
function readOptional(file: string, at: ConfigLocation): string | undefined {
  try {
    return readBoundedFile(file, MAX_VALUE_FILE_BYTES);
  } catch (error) {
    if (error instanceof BoundedReadError && error.reason === 'ENOENT') return undefined;
    throw new ConfigFileError(at, `cannot read '${file}': ${describeFsError(error)}`, { cause: error });
  }
}

function requireString(value: unknown, at: ConfigLocation, what: string): string {
  if (typeof value === 'string' && value !== '') return value;
  throw new ConfigValueError(at, `${describeValue(value)} is not valid: expected ${what}`);
}


function child(at: ConfigLocation, key: string): ConfigLocation {
  return { file: at.file, keyPath: at.keyPath ? `${at.keyPath}.${key}` : key };
}

function suffixed(at: ConfigLocation, suffix: Suffix): ConfigLocation {
  return { file: at.file, keyPath: `${at.keyPath}#${suffix}` };
}
