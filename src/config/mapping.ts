/** The one test for "a YAML/JSON mapping": a plain object, not null, not an array. */

/** True when `value` is a mapping (an object that is neither null nor an array). */
export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
