/**
 * A line whose level, text and field keys are fixed, prepared once (issue 13): a connection's
 * "Accepted connection" and "Closing socket" lines. `logger.line(prepared, v0, ...)` writes the
 * same line as `logger[level](text, { [keys[0]]: v0, ... })`, byte for byte, but the values come
 * as arguments: no fields object per line, no walk over its keys, and the text and each
 * `\tkey=` are bytes made here. Why: a paired run of `full` with both connection lines written
 * as a constant line was 6.5% cheaper per connection, far more than the writer's own profile share;
 * what a line costs is mostly the generic path around the bytes (a fields object of a new shape
 * per call site, a megamorphic key walk, a key lookup per field).
 */
import type { LineLevel } from './line-encoder.js';
import type { LogFields } from './logger.js';
import { escapeTskvValue, tskvKeyPart } from './tskv.js';

/** A value of a prepared line's field: written as a LogFields value is, skipped when undefined. */
export type LineValue = string | number | boolean | undefined;

/** Most fields a prepared line has: the values are positional arguments, not an array. */
export const MAX_PREPARED_FIELDS = 5;

export class PreparedLine {
  /** The text, tskv-escaped, as UTF-8 (what follows the module part's `\ttext=`). */
  readonly tskvText: Buffer;
  /** `\tkey=` for each key, as UTF-8 bytes. */
  readonly tskvKeys: readonly Buffer[];

  constructor(
    readonly level: LineLevel,
    readonly text: string,
    readonly keys: readonly string[],
  ) {
    if (keys.length > MAX_PREPARED_FIELDS) throw new RangeError(`a prepared line has at most ${MAX_PREPARED_FIELDS} fields, got ${keys.length}`);
    if (new Set(keys).size !== keys.length) throw new RangeError(`a prepared line's keys must differ: ${keys.join(', ')}`);
    this.tskvText = Buffer.from(escapeTskvValue(text), 'utf8');
    this.tskvKeys = keys.map((key) => Buffer.from(tskvKeyPart(key), 'utf8'));
  }

  /** The values as the LogFields the level method would have been given (every key, in order). */
  fields(v0: LineValue, v1: LineValue, v2: LineValue, v3: LineValue, v4: LineValue): LogFields {
    const values = [v0, v1, v2, v3, v4];
    const fields: Record<string, LineValue> = {};
    for (let i = 0; i < this.keys.length; i++) fields[this.keys[i] as string] = values[i];
    return fields;
  }
}

/** Prepares a line of `level` with `text` and up to five field `keys` (in the order they are written). */
export function prepareLine(level: LineLevel, text: string, keys: readonly string[]): PreparedLine {
  return new PreparedLine(level, text, keys);
}
