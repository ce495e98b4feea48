/**
 * Unknown keys in the static config as written, before substitution: a typo such as
 * `prot: $echo_port` must be reported as the unknown key it is, not as the var that the typo
 * leaves unresolved. Keys are checked where the schema declares an object; values that are still
 * `$var` references (or a key's `#env`/`#file` siblings) are not looked into.
 */
import type { ConfigLocation, ConfigUnknownKeyError } from '../errors.js';
import { unknownKeyError, type AnySchema } from './schema.js';

/** `key#env`, `key#file`, `key#fallback`: substitution siblings of `key`. */
const SUFFIX = /#(?:env|file|fallback)$/;

/**
 * The first key of the raw config `value` that `schema` does not declare (suggesting the nearest
 * valid key), or undefined when every key is known. Substitution siblings count as their key.
 */
export function findUnknownKey(schema: AnySchema, value: unknown, at: ConfigLocation): ConfigUnknownKeyError | undefined {
  if (Array.isArray(value)) {
    if (schema.kind !== 'array' || schema.items === undefined) return undefined;
    for (const [i, item] of value.entries()) {
      const found = findUnknownKey(schema.items, item, child(at, String(i)));
      if (found) return found;
    }
    return undefined;
  }
  if (schema.kind !== 'object' || typeof value !== 'object' || value === null) return undefined;
  const properties = schema.properties ?? {};
  for (const [rawKey, member] of Object.entries(value as Record<string, unknown>)) {
    const suffixed = SUFFIX.test(rawKey);
    const key = suffixed ? rawKey.replace(SUFFIX, '') : rawKey;
    const memberSchema = Object.hasOwn(properties, key) ? properties[key] : schema.additionalProperties;
    if (memberSchema === undefined) return unknownKeyError(schema, key, at);
    // A `#fallback` holds the value itself; `#env` and `#file` hold where to find it.
    if (suffixed && !rawKey.endsWith('#fallback')) continue;
    const found = findUnknownKey(memberSchema, member, child(at, key));
    if (found) return found;
  }
  return undefined;
}

function child(at: ConfigLocation, key: string): ConfigLocation {
  return { file: at.file, keyPath: at.keyPath ? `${at.keyPath}.${key}` : key };
}
