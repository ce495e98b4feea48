/**
 * The tskv line encoder, in userver's format:
 * `tskv\ttimestamp=<ts>\tlevel=<LEVEL>\tmodule=<module>\ttext=<text>\t<key>=<value>...\n`.
 *
 * Escaping follows userver's `utils::encoding::EncodeTskv` (`userver/utils/encoding/tskv.hpp`):
 * in values, TAB, CR, LF, NUL and `\` become `\t`, `\r`, `\n`, `\0` and `\\`; everything else
 * (`=` included) is written as it is. Keys of extra fields use userver's logging key mode
 * (`kKeyReplacePeriod`): the same escapes, plus `=` → `\=`, `.` → `_` (Elastic cannot index dots
 * in keys) and ASCII capitals lowered.
 */
import type { LineEncoder } from './line-encoder.js';
import type { LogFields } from './logger.js';

// A value needs escaping only if it contains one of these (userver's fast-path test).
const VALUE_SPECIAL = /[\t\r\n\0\\]/;
const VALUE_SPECIAL_ALL = /[\t\r\n\0\\]/g;
const KEY_SPECIAL = /[\t\r\n\0\\.=A-Z]/;
const KEY_SPECIAL_ALL = /[\t\r\n\0\\.=A-Z]/g;

const ESCAPES: Readonly<Record<string, string>> = {
  '\t': '\\t',
  '\r': '\\r',
  '\n': '\\n',
  '\0': '\\0',
  '\\': '\\\\',
};

function escapeValueChar(ch: string): string {
  return ESCAPES[ch] as string;
}

function escapeKeyChar(ch: string): string {
  if (ch === '.') return '_';
  if (ch === '=') return '\\=';
  return ESCAPES[ch] ?? ch.toLowerCase();
}

/** Values up to this long are checked by a loop: cheaper than a regular-expression test for them. */
const SHORT_VALUE = 64;

/** A tskv value escaped as userver does (TAB, CR, LF, NUL, backslash). */
export function escapeTskvValue(value: string): string {
  if (value.length <= SHORT_VALUE) {
    // The values of a connection's lines (texts, addresses, ids) are short and need no escape.
    for (let i = 0; i < value.length; i++) {
      const code = value.charCodeAt(i);
      // TAB 9, LF 10, CR 13, NUL 0, backslash 92.
      if (code === 92 || code === 9 || code === 10 || code === 13 || code === 0) return value.replace(VALUE_SPECIAL_ALL, escapeValueChar);
    }
    return value;
  }
  return VALUE_SPECIAL.test(value) ? value.replace(VALUE_SPECIAL_ALL, escapeValueChar) : value;
}

/** A tskv key of an extra field escaped as userver's logger does (value escapes, `=`, `.` → `_`, lower case). */
export function escapeTskvKey(key: string): string {
  return KEY_SPECIAL.test(key) ? key.replace(KEY_SPECIAL_ALL, escapeKeyChar) : key;
}

/**
 * `\tkey=` for each key seen, escaped once: the keys of a service's lines are a small fixed set
 * (`sock_number`, `peer_address`...), and escaping one is a regular-expression test each time.
 * Bounded, so keys made from data cannot grow it without end; past the bound keys are escaped as
 * they come.
 */
const KEY_PARTS = new Map<string, string>();
const KEY_PARTS_MAX = 512;

export function tskvKeyPart(key: string): string {
  let part = KEY_PARTS.get(key);
  if (part === undefined) {
    part = '\t' + escapeTskvKey(key) + '=';
    if (KEY_PARTS.size < KEY_PARTS_MAX) KEY_PARTS.set(key, part);
  }
  return part;
}

/** `\tkey=value` for every defined field, escaped; `''` for none. */
export function tskvFields(fields: LogFields | undefined): string {
  if (fields === undefined) return '';
  let out = '';
  for (const key in fields) {
    const value = fields[key];
    if (value === undefined) continue;
    out += tskvKeyPart(key) + (typeof value === 'string' ? escapeTskvValue(value) : String(value));
  }
  return out;
}

/** userver's level names as tskv writes them, with the separators around them precomputed. */
const LEVEL_PARTS = {
  trace: '\tlevel=TRACE\tmodule=',
  debug: '\tlevel=DEBUG\tmodule=',
  info: '\tlevel=INFO\tmodule=',
  warning: '\tlevel=WARNING\tmodule=',
  error: '\tlevel=ERROR\tmodule=',
  critical: '\tlevel=CRITICAL\tmodule=',
} as const;

/** The tskv encoder: module and bound fields are encoded once per logger, the rest per line. */
export const tskvEncoder: LineEncoder = {
  format: 'tskv',
  modulePart: (module) => escapeTskvValue(module) + '\ttext=',
  fieldsPart: tskvFields,
  line: (timestamp, level, modulePart, text, boundPart, fields) =>
    'tskv\ttimestamp=' +
    timestamp +
    LEVEL_PARTS[level] +
    modulePart +
    escapeTskvValue(text) +
    boundPart +
    (fields === undefined ? '' : tskvFields(fields)) +
    '\n',
};
