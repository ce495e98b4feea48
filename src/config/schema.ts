/**
 * A small schema language for static config sections, in the spirit of userver's YAML schemas:
 * every option is declared once with its type, default and description. The same declaration
 * validates a section, fills its defaults, converts durations and sizes, prints the schema
 * (`--print-config-schema`) and gives the TypeScript type of the validated section (`Infer`).
 */
import {
  ConfigMissingKeyError,
  ConfigUnknownKeyError,
  ConfigValueError,
  type ConfigLocation,
} from '../errors.js';
import { parseDuration, parseSize } from './units.js';
import { nearest } from './nearest.js';

/** A declared option. `T` is the type of the value after validation. */
export interface Schema<T> {
  readonly kind: SchemaKind;
  readonly description: string;
  /** The value used when the key is absent; absent and no default and not optional = required. */
  readonly default?: T;
  /** Absent is allowed and gives `undefined`. */
  readonly optional?: boolean;
  /** Type-level carrier only; never set. */
  readonly __type?: T;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly enum?: readonly string[];
  readonly properties?: Readonly<Record<string, AnySchema>>;
  /** For objects: schema of values under keys that `properties` does not name (a map). */
  readonly additionalProperties?: AnySchema;
  readonly items?: AnySchema;
  readonly variants?: readonly AnySchema[];
  /**
   * For objects: a rule across keys, run on the validated value (e.g. "exactly one of port and
   * unix-socket"); throws a ConfigError naming the key.
   */
  readonly refine?: (value: Readonly<Record<string, unknown>>, at: ConfigLocation) => void;
}

// `any` here is the type-erased form of Schema<T> that containers hold.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnySchema = Schema<any>;
export type SchemaKind =
  | 'integer'
  | 'number'
  | 'string'
  | 'boolean'
  | 'duration'
  | 'size'
  | 'object'
  | 'array'
  | 'oneOf'
  | 'any';

/** The validated value type of a schema. */
export type Infer<S> = S extends Schema<infer T> ? T : never;

type Common<T> = { description: string; default?: T };

/** An integer, optionally bounded. */
export function integer(o: Common<number> & { minimum?: number; maximum?: number }): Schema<number> {
  return { kind: 'integer', ...o };
}

/** Any finite number, optionally bounded. */
export function number(o: Common<number> & { minimum?: number; maximum?: number }): Schema<number> {
  return { kind: 'number', ...o };
}

/** A string, optionally restricted to listed values. */
export function string<const E extends string = string>(
  o: Common<NoInfer<E>> & { enum?: readonly E[] },
): Schema<E> {
  return { kind: 'string', ...o };
}

/** `true` or `false`. */
export function boolean(o: Common<boolean>): Schema<boolean> {
  return { kind: 'boolean', ...o };
}

/**
 * Longest duration any option accepts: 2^31-1 ms (24.8 days), the most Node's timers honour (a
 * longer `setTimeout` fires after 1 ms with a TimeoutOverflowWarning).
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A duration: a number of milliseconds, or a string with `ms`, `s`, `m` or `h`. Validated to
 * milliseconds; the maximum is `o.maximum` or MAX_TIMER_MS, whichever is smaller.
 */
export function duration(
  o: { description: string; default?: number | string; minimum?: number; maximum?: number },
): Schema<number> {
  const def = o.default === undefined ? undefined : parseDuration(o.default);
  return { ...o, kind: 'duration', default: def ?? undefined, maximum: Math.min(o.maximum ?? MAX_TIMER_MS, MAX_TIMER_MS) };
}

/** A size in bytes: a number, or a string with `B`, `KiB`, `MiB` or `GiB`. Validated to bytes. */
export function size(
  o: { description: string; default?: number | string; minimum?: number; maximum?: number },
): Schema<number> {
  const def = o.default === undefined ? undefined : parseSize(o.default);
  return { ...o, kind: 'size', default: def ?? undefined };
}

/**
 * An object with declared keys; unknown keys are errors unless `additionalProperties` declares a
 * map. An absent object is validated as `{}`, so its members' defaults apply.
 */
export function object<P extends Record<string, AnySchema>, A extends AnySchema | undefined = undefined>(
  o: {
    description: string;
    properties: P;
    additionalProperties?: A;
    refine?: (value: Readonly<Record<string, unknown>>, at: ConfigLocation) => void;
  },
): Schema<{ [K in keyof P]: Infer<P[K]> } & (A extends AnySchema ? Record<string, Infer<A>> : unknown)> {
  return { kind: 'object', ...o } as AnySchema;
}

/** A list of values of one schema. */
export function array<I extends AnySchema>(o: Common<Infer<I>[]> & { items: I }): Schema<Infer<I>[]> {
  return { kind: 'array', ...o };
}

/** The first variant that accepts the value wins (e.g. an integer, or the string `auto`). */
export function oneOf<V extends readonly AnySchema[]>(
  o: Common<Infer<V[number]>> & { variants: V },
): Schema<Infer<V[number]>> {
  return { kind: 'oneOf', ...o };
}

/** Any value, taken as it is (e.g. userver's `dynamic-config.defaults`, whose values are any JSON). */
export function any(o: { description: string }): Schema<unknown> {
  return { kind: 'any', ...o };
}

/** Makes an option optional: absent gives `undefined`. */
export function optional<T>(s: Schema<T>): Schema<T | undefined> {
  return { ...s, optional: true } as Schema<T | undefined>;
}

/**
 * Validates `value` against `schema`: fills defaults, converts durations and sizes, rejects
 * unknown keys (suggesting the nearest), and throws a typed ConfigError naming the file and the
 * dotted key path on the first problem.
 */
export function validate<T>(schema: Schema<T>, value: unknown, at: ConfigLocation): T {
  return check(schema, value, at) as T;
}

function check(schema: AnySchema, value: unknown, at: ConfigLocation): unknown {
  // JSON null is a value like any other here (a dynamic config default may be null).
  if (schema.kind === 'any' && value !== undefined) return value;
  if (value === undefined || value === null) {
    if (schema.default !== undefined) return schema.default;
    if (schema.optional) return undefined;
    if (schema.kind === 'object') value = {};
    else throw new ConfigMissingKeyError(at, `required key is missing (${describeType(schema)}: ${schema.description})`);
  }
  switch (schema.kind) {
    case 'integer':
    case 'number':
      return checkRange(schema, checkNumber(schema, value, at), at);
    case 'duration':
      return checkRange(schema, convert(schema, value, at, parseDuration), at);
    case 'size':
      return checkRange(schema, convert(schema, value, at, parseSize), at);
    case 'string':
      return checkString(schema, value, at);
    case 'boolean':
      if (typeof value !== 'boolean') throw badType(schema, value, at);
      return value;
    case 'array':
      return checkArray(schema, value, at);
    case 'object':
      return checkObject(schema, value, at);
    case 'oneOf':
      return checkOneOf(schema, value, at);
    case 'any':
      return value;
  }
}

function checkNumber(schema: AnySchema, value: unknown, at: ConfigLocation): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw badType(schema, value, at);
  if (schema.kind === 'integer' && !Number.isInteger(value)) throw badType(schema, value, at);
  return value;
}

function convert(
  schema: AnySchema,
  value: unknown,
  at: ConfigLocation,
  parse: (v: number | string) => number | undefined,
): number {
  const parsed = typeof value === 'number' || typeof value === 'string' ? parse(value) : undefined;
  if (parsed === undefined) throw badType(schema, value, at);
  return parsed;
}

function checkRange(schema: AnySchema, n: number, at: ConfigLocation): number {
  const { minimum, maximum } = schema;
  if ((minimum !== undefined && n < minimum) || (maximum !== undefined && n > maximum)) {
    throw new ConfigValueError(at, `${describeValue(n)} is out of range: expected ${describeType(schema)}`);
  }
  return n;
}

function checkString(schema: AnySchema, value: unknown, at: ConfigLocation): string {
  if (typeof value !== 'string') throw badType(schema, value, at);
  if (schema.enum && !schema.enum.includes(value)) {
    const hint = nearest(value, schema.enum);
    throw new ConfigValueError(
      at,
      `${describeValue(value)} is not allowed: expected one of ${schema.enum.join(', ')}` +
        (hint ? `; did you mean '${hint}'?` : ''),
    );
  }
  return value;
}

function checkArray(schema: AnySchema, value: unknown, at: ConfigLocation): unknown[] {
  if (!Array.isArray(value)) throw badType(schema, value, at);
  const items = schema.items as AnySchema;
  return value.map((item, i) => check(items, item, child(at, String(i))));
}

function checkObject(schema: AnySchema, value: unknown, at: ConfigLocation): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badType(schema, value, at);
  const input = value as Record<string, unknown>;
  const properties = schema.properties ?? {};
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(input)) {
    if (key in properties) continue;
    if (schema.additionalProperties) {
      out[key] = check(schema.additionalProperties, input[key], child(at, key));
      continue;
    }
    throw unknownKeyError(schema, key, at);
  }
  for (const [key, member] of Object.entries(properties)) {
    const v = check(member, input[key], child(at, key));
    if (v !== undefined) out[key] = v;
  }
  schema.refine?.(out, at);
  return out;
}

/** The error for `key`, which the object `schema` at `at` does not declare: names the nearest valid key. */
export function unknownKeyError(schema: AnySchema, key: string, at: ConfigLocation): ConfigUnknownKeyError {
  const known = Object.keys(schema.properties ?? {});
  const hint = nearest(key, known);
  return new ConfigUnknownKeyError(
    child(at, key),
    `unknown key` +
      (hint ? `; did you mean '${hint}'?` : '') +
      (known.length ? ` (allowed: ${known.join(', ')})` : ' (this section takes no keys)'),
  );
}

function checkOneOf(schema: AnySchema, value: unknown, at: ConfigLocation): unknown {
  for (const variant of schema.variants ?? []) {
    try {
      return check(variant, value, at);
    } catch {
      // Try the next variant; the error below lists them all.
    }
  }
  throw badType(schema, value, at);
}

function child(at: ConfigLocation, key: string): ConfigLocation {
  return { file: at.file, keyPath: at.keyPath ? `${at.keyPath}.${key}` : key };
}

function badType(schema: AnySchema, value: unknown, at: ConfigLocation): ConfigValueError {
  return new ConfigValueError(at, `${describeValue(value)} is not valid: expected ${describeType(schema)}`);
}

/** A short human description of what a schema accepts, used in every error message. */
function describeType(schema: AnySchema): string {
  const range = (unit = '') =>
    schema.minimum !== undefined && schema.maximum !== undefined
      ? ` from ${schema.minimum}${unit} to ${schema.maximum}${unit}`
      : schema.minimum !== undefined
        ? ` >= ${schema.minimum}${unit}`
        : schema.maximum !== undefined
          ? ` <= ${schema.maximum}${unit}`
          : '';
  switch (schema.kind) {
    case 'integer':
      return `an integer${range()}`;
    case 'number':
      return `a number${range()}`;
    case 'duration':
      return `a duration (e.g. 500ms, 10s, 5m, 1h; a bare number is milliseconds)${range(' ms')}`;
    case 'size':
      return `a size (e.g. 4096, 64KiB, 1MiB)${range(' bytes')}`;
    case 'string':
      return schema.enum ? `one of ${schema.enum.join(', ')}` : 'a string';
    case 'boolean':
      return 'true or false';
    case 'array':
      return `a list of ${describeType(schema.items as AnySchema)}`;
    case 'object':
      return 'a mapping';
    case 'oneOf':
      return (schema.variants ?? []).map(describeType).join(', or ');
    case 'any':
      return 'any value';
  }
}

/**
 * A config value as it appears in an error message: strings quoted and cut to 80 characters
 * (a fuzzed or pasted value must not turn one error line into megabytes), containers named.
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (typeof value === 'object' && value !== null) return Array.isArray(value) ? 'a list' : 'a mapping';
  return String(value);
}

/**
 * The schema as plain data in userver's schema shape (type, description, defaultDescription,
 * properties, additionalProperties), for `--print-config-schema` and generated docs.
 */
export function toSchemaDocument(schema: AnySchema): Record<string, unknown> {
  const doc: Record<string, unknown> = { type: schemaType(schema), description: schema.description };
  if (schema.default !== undefined && schema.kind !== 'object') doc.defaultDescription = schema.default;
  if (schema.minimum !== undefined) doc.minimum = schema.minimum;
  if (schema.maximum !== undefined) doc.maximum = schema.maximum;
  if (schema.enum) doc.enum = [...schema.enum];
  if (schema.kind === 'duration') doc.format = 'duration (ms, s, m, h); value in milliseconds';
  if (schema.kind === 'size') doc.format = 'size (B, KiB, MiB, GiB); value in bytes';
  if (schema.kind === 'array' && schema.items) doc.items = toSchemaDocument(schema.items);
  if (schema.kind === 'oneOf') doc.oneOf = (schema.variants ?? []).map(toSchemaDocument);
  if (schema.kind === 'object') {
    doc.additionalProperties = schema.additionalProperties ? toSchemaDocument(schema.additionalProperties) : false;
    doc.properties = Object.fromEntries(
      Object.entries(schema.properties ?? {}).map(([k, v]) => [k, toSchemaDocument(v)]),
    );
    // As in JSON Schema: keys that must be present (no default, not optional; objects default to {}).
    const required = Object.entries(schema.properties ?? {})
      .filter(([, v]) => v.default === undefined && !v.optional && v.kind !== 'object')
      .map(([k]) => k);
    if (required.length > 0) doc.required = required;
  }
  return doc;
}

function schemaType(schema: AnySchema): string {
  switch (schema.kind) {
    case 'duration':
    case 'size':
      return 'string';
    case 'oneOf':
      return 'oneOf';
    default:
      return schema.kind;
  }
}
