/**
 * Loading the static config: read the YAML, read the config vars (`--config_vars`, overridden
 * key by key by `--config_vars_override`), and substitute `$name` / `#env` / `#file` /
 * `#fallback`. The result is plain data, ready for schema validation.
 */
import { ConfigError, ConfigValueError, type ConfigLocation } from '../errors.js';
import { isMapping } from './mapping.js';
import { describeValue, type AnySchema } from './schema.js';
import { substitute } from './substitute.js';
import { findUnknownKey } from './unknown-keys.js';
import { readYamlFile } from './yaml-file.js';

/** Where the config comes from. */
export interface LoadOptions {
  /** The static config file (`-c`). */
  readonly configFile: string;
  /** `--config_vars`; when absent, the config's top-level `config_vars` path is used (as in userver). */
  readonly configVarsFile?: string | undefined;
  /** `--config_vars_override`. */
  readonly configVarsOverrideFile?: string | undefined;
  /** The environment for `#env` (default: process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * The whole file's schema. When substitution fails, an unknown key in the file as written is
   * reported instead (a typo in a key leaves its `$var` unresolved; the typo is the real error).
   */
  readonly schema?: AnySchema;
}

/** A loaded static config: the file it came from and its substituted contents (a mapping). */
export interface LoadedConfig {
  readonly file: string;
  readonly root: Readonly<Record<string, unknown>>;
  /** Where substituted values came from, by dotted key path (see `originOf`). */
  readonly origins: ReadonlyMap<string, string>;
}

/**
 * Where the value at `keyPath` (or the substituted mapping holding it) came from, when it was
 * substituted: e.g. `environment variable ECHO_PORT`. For error messages.
 */
export function originOf(origins: ReadonlyMap<string, string>, keyPath: string): string | undefined {
  for (let path = keyPath; path !== ''; path = path.slice(0, Math.max(0, path.lastIndexOf('.')))) {
    const origin = origins.get(path);
    if (origin !== undefined) return origin;
  }
  return undefined;
}

/** Reads, checks the shape of, and substitutes the static config. Throws typed ConfigErrors. */
export function loadStaticConfig(options: LoadOptions): LoadedConfig {
  const file = options.configFile;
  const raw = readYamlFile(file, { file, keyPath: '--config' });
  if (!isMapping(raw)) {
    throw new ConfigValueError(
      { file, keyPath: '' },
      `the file must be a YAML mapping with a 'components_manager' key, got ${raw === null ? 'an empty document' : describe(raw)}`,
    );
  }
  const varsFiles: string[] = [];
  let vars: Record<string, unknown> = {};
  const varsFile = options.configVarsFile ?? (typeof raw.config_vars === 'string' ? raw.config_vars : undefined);
  if (varsFile !== undefined) {
    const at =
      options.configVarsFile !== undefined ? { file: varsFile, keyPath: '--config_vars' } : { file, keyPath: 'config_vars' };
    vars = readVars(varsFile, at);
    varsFiles.push(varsFile);
  }
  if (options.configVarsOverrideFile !== undefined) {
    const overrideFile = options.configVarsOverrideFile;
    vars = { ...vars, ...readVars(overrideFile, { file: overrideFile, keyPath: '--config_vars_override' }) };
    varsFiles.push(overrideFile);
  }
  const origins = new Map<string, string>();
  let root: unknown;
  try {
    root = substitute(raw, { vars, varsFiles, env: options.env ?? process.env, origins }, { file, keyPath: '' });
  } catch (error) {
    const unknown = error instanceof ConfigError && options.schema ? findUnknownKey(options.schema, raw, { file, keyPath: '' }) : undefined;
    throw unknown ?? error;
  }
  return { file, root: root as Record<string, unknown>, origins };
}

/** A vars file is a mapping of names to values; an empty file defines nothing. */
function readVars(varsFile: string, at: ConfigLocation): Record<string, unknown> {
  const vars = readYamlFile(varsFile, at);
  if (vars === null || vars === undefined) return {};
  if (!isMapping(vars)) {
    throw new ConfigValueError(
      { file: varsFile, keyPath: '' },
      `a config vars file must be a YAML mapping of names to values, got ${describe(vars)}`,
    );
  }
  return vars;
}


function describe(value: unknown): string {
  return Array.isArray(value) ? 'a list' : `${typeof value} ${describeValue(value)}`;
}
