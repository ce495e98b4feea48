/**
 * The JSON line encoder: one object per line,
 * `{"timestamp":"…","level":"INFO","module":"…","text":"…",<fields>}` — the same keys and values as
 * a tskv line, so the two formats carry identical information. Strings are JSON strings; numbers
 * and booleans stay JSON numbers and booleans (a non-finite number, which JSON cannot hold, is
 * written as a string); undefined fields are left out. A field named like a fixed key (`text`,
 * `level`...) is written too, after it; JSON readers keep the last occurrence.
 */
import type { LineEncoder } from './line-encoder.js';
import type { LogFields } from './logger.js';

/** `,"key":value` for every defined field; `''` for none. */
export function jsonFields(fields: LogFields | undefined): string {
  if (fields === undefined) return '';
  let out = '';
  for (const key in fields) {
    const value = fields[key];
    if (value === undefined) continue;
    out +=
      ',' +
      JSON.stringify(key) +
      ':' +
      (typeof value === 'string'
        ? JSON.stringify(value)
        : typeof value === 'number' && !Number.isFinite(value)
          ? '"' + String(value) + '"'
          : String(value));
  }
  return out;
}

const LEVEL_PARTS = {
  trace: '","level":"TRACE","module":',
  debug: '","level":"DEBUG","module":',
  info: '","level":"INFO","module":',
  warning: '","level":"WARNING","module":',
  error: '","level":"ERROR","module":',
  critical: '","level":"CRITICAL","module":',
} as const;

/** The JSON encoder: module and bound fields are encoded once per logger, the rest per line. */
export const jsonEncoder: LineEncoder = {
  format: 'json',
  modulePart: (module) => JSON.stringify(module) + ',"text":',
  fieldsPart: jsonFields,
  line: (timestamp, level, modulePart, text, boundPart, fields) =>
    '{"timestamp":"' +
    timestamp +
    LEVEL_PARTS[level] +
    modulePart +
    JSON.stringify(text) +
    boundPart +
    (fields === undefined ? '' : jsonFields(fields)) +
    '}\n',
};
