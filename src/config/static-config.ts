/**
 * Validation of the whole static config before anything is built: the `components_manager`
 * settings, every present section against its component's schema (plus `load-enabled`), unknown
 * sections (with the nearest name), and task processor names wherever a section refers to one.
 * Throws the first ConfigError, which names the file and the dotted key path.
 */
import {
  ConfigMissingKeyError,
  ConfigUnknownKeyError,
  ConfigValueError,
  type ConfigLocation,
} from '../errors.js';
import { rootSettingsSchema, withLoadEnabled } from './manager-schema.js';
import { isMapping } from './mapping.js';
import { nearest } from './nearest.js';
import { describeValue, validate, type AnySchema, type Infer } from './schema.js';

const COMPONENTS_PATH = 'components_manager.components';

/** The validated `components_manager` settings (without the component sections). */
export type RootSettings = Infer<typeof rootSettingsSchema>;

/** What validation needs of a component: its section name, schema, and whether it loads by default. */
export interface SectionDefinition {
  readonly name: string;
  readonly schema: AnySchema;
  readonly loadByDefault?: boolean;
}

/** One component section after validation. */
export interface SectionPlan<D extends SectionDefinition = SectionDefinition> {
  readonly definition: D;
  /** The section's validated config, `load-enabled` removed. */
  readonly config: Record<string, unknown>;
  /** Whether the component is built: the section is present (or loads by default) and not disabled. */
  readonly load: boolean;
  /** Why it is not loaded (and what to do), for the error of a component that needs it. */
  readonly skipReason: string;
  /** The config key that keeps it from loading, if a config choice does: its section is absent, or disabled. */
  readonly skipAt?: ConfigLocation & { readonly why: 'absent' | 'disabled' };
}

/**
 * Validates the whole substituted config (`root`) against the manager's and every component's
 * schema. Throws the first ConfigError, which names the file and the dotted key path; nothing is
 * constructed until this passed.
 */
export function validateStaticConfig<D extends SectionDefinition>(
  definitions: readonly D[],
  file: string,
  root: Readonly<Record<string, unknown>>,
): { root: RootSettings; plans: readonly SectionPlan<D>[] } {
  const manager = root.components_manager;
  const sections = isMapping(manager) ? manager.components : undefined;
  // `components` is validated section by section below, with each component's own schema.
  const withoutSections = isMapping(manager) ? { ...root, components_manager: omit(manager, 'components') } : root;
  const validated = validate(rootSettingsSchema, withoutSections, { file, keyPath: '' });
  if (sections === undefined) {
    throw new ConfigMissingKeyError(
      { file, keyPath: COMPONENTS_PATH },
      'required key is missing (a mapping of component sections, e.g. tcp-echo: { port: 8181 })',
    );
  }
  if (sections !== null && !isMapping(sections)) {
    throw new ConfigValueError({ file, keyPath: COMPONENTS_PATH }, 'expected a mapping of component sections by name');
  }
  const present: Record<string, unknown> = sections ?? {};
  const cm = validated.components_manager;
  checkTaskProcessorRefs(cm, { file, keyPath: 'components_manager' }, cm.task_processors);

  const names = definitions.map((d) => d.name);
  for (const name of Object.keys(present)) {
    if (names.includes(name)) continue;
    const hint = nearest(name, names);
    throw new ConfigUnknownKeyError(
      { file, keyPath: `${COMPONENTS_PATH}.${name}` },
      `unknown component` + (hint ? `; did you mean '${hint}'?` : '') + ` (components: ${names.join(', ')})`,
    );
  }

  const plans = definitions.map((definition): SectionPlan<D> => {
    const has = Object.hasOwn(present, definition.name);
    const at: ConfigLocation = { file, keyPath: `${COMPONENTS_PATH}.${definition.name}` };
    if (definition.schema.kind !== 'object') {
      throw new TypeError(`component '${definition.name}' must declare an object schema, not ${definition.schema.kind}`);
    }
    if (!has && !definition.loadByDefault) {
      return {
        definition,
        config: {},
        load: false,
        skipReason: `add a '${definition.name}:' section under ${COMPONENTS_PATH}`,
        skipAt: { ...at, why: 'absent' },
      };
    }
    const full = validate(withLoadEnabled(definition.schema), present[definition.name], at) as Record<string, unknown>;
    const { 'load-enabled': enabled, ...config } = full;
    checkTaskProcessorRefs(config, at, cm.task_processors);
    return {
      definition,
      config,
      load: enabled !== false,
      skipReason: `it has 'load-enabled: false'`,
      skipAt: { file, keyPath: `${at.keyPath}.load-enabled`, why: 'disabled' },
    };
  });

  return { root: validated, plans };
}

/** A task processor name must be a key of `task_processors` (when the config declares any). */
function checkTaskProcessorName(name: string, at: ConfigLocation, processors: Readonly<Record<string, unknown>>): void {
  const known = Object.keys(processors);
  if (known.length === 0 || known.includes(name)) return;
  const hint = nearest(name, known);
  throw new ConfigValueError(
    at,
    `${describeValue(name)} is not a task processor` +
      (hint ? `; did you mean '${hint}'?` : '') +
      ` (task_processors: ${known.join(', ')})`,
  );
}

/**
 * userver resolves a component's `task_processor` (and `sockets_task_processor`,
 * `fs-task-processor`, ...) by name and fails on a typo; so do we, wherever the key is nested.
 */
function checkTaskProcessorRefs(value: unknown, at: ConfigLocation, processors: Readonly<Record<string, unknown>>): void {
  if (!isMapping(value) || Object.keys(processors).length === 0) return;
  for (const [key, member] of Object.entries(value)) {
    if (/task[_-]processor$/.test(key) && typeof member === 'string') {
      checkTaskProcessorName(member, { file: at.file, keyPath: `${at.keyPath}.${key}` }, processors);
    } else {
      checkTaskProcessorRefs(member, { file: at.file, keyPath: `${at.keyPath}.${key}` }, processors);
    }
  }
}

function omit(value: Record<string, unknown>, key: string): Record<string, unknown> {
  const { [key]: _omitted, ...rest } = value;
  return rest;
}
