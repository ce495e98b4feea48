/**
 * A tskv line written straight into the log queue's bytes, the same bytes `tskvEncoder.line`
 * gives once UTF-8 encoded. Why: a line built by concatenation is a rope of some twenty pieces
 * (a 32-byte node each), which the queue then flattens into one more string (the line's length
 * again) before encoding it; written piece by piece, a connection's two lines leave no string
 * behind, and their digits (timestamp, fd, ports, byte counts) are never strings at all.
 *
 * ASCII is copied by a loop (the pieces are short: a native write's call costs more). The rest of
 * a piece from its first non-ASCII character on goes through `Buffer.write` (UTF-8, a lone
 * surrogate as U+FFFD, exactly as for a string line). A line that would not fit in `limit` is
 * abandoned (-1): the caller writes it as a string instead.
 */
import type { LineLevel } from './line-encoder.js';
import type { BoundFields, LogFields, TskvFieldWriter } from './logger.js';
import type { LineValue, PreparedLine } from './prepared-line.js';
import { timestampSecondPart } from './timestamp.js';
import { escapeTskvValue, tskvKeyPart } from './tskv.js';

/** At most this many bytes per UTF-16 unit once escaped (an escape doubles, UTF-8 triples). */
const MAX_BYTES_PER_UNIT = 6;

const LINE_HEAD = Buffer.from('tskv\ttimestamp=');

/** `\tlevel=...\tmodule=` per level, as bytes (the tskv encoder's LEVEL_PARTS). */
const LEVEL_BYTES: Readonly<Record<LineLevel, Buffer>> = {
  trace: Buffer.from('\tlevel=TRACE\tmodule='),
  debug: Buffer.from('\tlevel=DEBUG\tmodule='),
  info: Buffer.from('\tlevel=INFO\tmodule='),
  warning: Buffer.from('\tlevel=WARNING\tmodule='),
  error: Buffer.from('\tlevel=ERROR\tmodule='),
  critical: Buffer.from('\tlevel=CRITICAL\tmodule='),
};

// The line being written: module state, not an object per line.
let out: Buffer;
let pos = 0;
let end = 0;

function constant(bytes: Buffer): boolean {
  if (pos + bytes.length > end) return false;
  for (let i = 0; i < bytes.length; i++) out[pos++] = bytes[i] as number;
  return true;
}

/**
 * A string piece: a value escaped as userver does (TAB, CR, LF, NUL, backslash) when `escape`, else
 * one already in its final form (the encoded module, bound fields, key parts).
 */
function piece(part: string, escape: boolean): boolean {
  if (pos + MAX_BYTES_PER_UNIT * part.length > end) return false;
  const buf = out;
  let p = pos;
  for (let i = 0; i < part.length; i++) {
    const code = part.charCodeAt(i);
    if (code >= 0x80 || (escape && (code === 92 || code === 9 || code === 10 || code === 13 || code === 0))) {
      const rest = i === 0 ? part : part.slice(i);
      pos = p + buf.write(escape ? escapeTskvValue(rest) : rest, p, 'utf8');
      return true;
    }
    buf[p++] = code;
  }
  pos = p;
  return true;
}

function text(part: string): boolean {
  return piece(part, false);
}

function value(part: string): boolean {
  return piece(part, true);
}

/** A non-negative safe integer's decimal digits; anything else as `String(n)` writes it. */
function number(n: number): boolean {
  if (!(Number.isSafeInteger(n) && n >= 0)) return text(String(n));
  let digits = 1;
  for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  if (pos + digits > end) return false;
  let p = pos + digits;
  for (let rest = n; p > pos; rest = Math.floor(rest / 10)) out[--p] = 48 + (rest % 10);
  pos += digits;
  return true;
}

/** Two lowercase hex digits per byte value, as character codes: byte b is at [2b, 2b + 1]. */
const HEX_DIGITS = (() => {
  const digits = new Uint8Array(512);
  for (let b = 0; b < 256; b++) {
    const pair = b.toString(16).padStart(2, '0');
    digits[2 * b] = pair.charCodeAt(0);
    digits[2 * b + 1] = pair.charCodeAt(1);
  }
  return digits;
})();

function hex(bytes: Uint8Array, from: number, to: number): boolean {
  if (pos + 2 * (to - from) > end) return false;
  const buf = out;
  let p = pos;
  for (let i = from; i < to; i++) {
    const b = (bytes[i] as number) << 1;
    buf[p++] = HEX_DIGITS[b] as number;
    buf[p++] = HEX_DIGITS[b + 1] as number;
  }
  pos = p;
  return true;
}

/** What a {@link BoundFields} writes through: the line being written now. */
const FIELD_WRITER: TskvFieldWriter = { text, hex, number };

/** `epochMicros` as `YYYY-MM-DDTHH:MM:SS.uuuuuu`. */
function timestamp(epochMicros: number): boolean {
  const second = Math.floor(epochMicros / 1_000_000);
  if (!text(timestampSecondPart(second)) || pos + 6 > end) return false;
  let micros = epochMicros - second * 1_000_000;
  for (let p = pos + 5; p >= pos; p--) {
    out[p] = 48 + (micros % 10);
    micros = Math.floor(micros / 10);
  }
  pos += 6;
  return true;
}

/**
 * Writes one line into `buf` from `at`, using no more than up to `limit`: the end of what was
 * written, or -1 when the line does not fit (nothing counts as written then). The arguments are
 * those of `tskvEncoder.line`, with the time as microseconds since the epoch; `boundFields`, when
 * given, follows `boundPart` (the fields of a child made by `Logger.bind`).
 */
export function writeTskvLine(
  buf: Buffer,
  at: number,
  limit: number,
  epochMicros: number,
  level: LineLevel,
  modulePart: string,
  lineText: string,
  boundPart: string,
  fields: LogFields | undefined,
  boundFields?: BoundFields,
): number {
  out = buf;
  pos = at;
  end = limit;
  if (!(constant(LINE_HEAD) && timestamp(epochMicros) && constant(LEVEL_BYTES[level]) && text(modulePart))) return -1;
  if (!(value(lineText) && text(boundPart))) return -1;
  if (boundFields !== undefined && !boundFields.writeTskv(FIELD_WRITER)) return -1;
  if (fields !== undefined) {
    for (const key in fields) {
      const field = fields[key];
      if (field === undefined) continue;
      if (!text(tskvKeyPart(key))) return -1;
      // As the string encoder: strings escaped, numbers and the rest as String() writes them.
      const ok = typeof field === 'string' ? value(field) : typeof field === 'number' ? number(field) : text(String(field));
      if (!ok) return -1;
    }
  }
  if (pos + 1 > end) return -1;
  out[pos++] = 0x0a;
  return pos;
}

/** One prepared field: its `\tkey=` bytes and the value as the key walk above writes it; nothing when undefined. */
function preparedField(key: Buffer | undefined, field: LineValue): boolean {
  if (field === undefined || key === undefined) return true;
  if (!constant(key)) return false;
  return typeof field === 'string' ? value(field) : typeof field === 'number' ? number(field) : text(String(field));
}

/**
 * {@link writeTskvLine} for a {@link PreparedLine}: the same bytes as that line's level, text and
 * `{ [keys[i]]: v_i }` give there, from the prepared text and key bytes and the values as arguments.
 */
export function writePreparedTskvLine(
  buf: Buffer,
  at: number,
  limit: number,
  epochMicros: number,
  prepared: PreparedLine,
  modulePart: string,
  boundPart: string,
  boundFields: BoundFields | undefined,
  v0: LineValue,
  v1: LineValue,
  v2: LineValue,
  v3: LineValue,
  v4: LineValue,
): number {
  out = buf;
  pos = at;
  end = limit;
  if (!(constant(LINE_HEAD) && timestamp(epochMicros) && constant(LEVEL_BYTES[prepared.level]) && text(modulePart))) return -1;
  if (!(constant(prepared.tskvText) && text(boundPart))) return -1;
  if (boundFields !== undefined && !boundFields.writeTskv(FIELD_WRITER)) return -1;
  const keys = prepared.tskvKeys;
  if (
    !(
      preparedField(keys[0], v0) &&
      preparedField(keys[1], v1) &&
      preparedField(keys[2], v2) &&
      preparedField(keys[3], v3) &&
      preparedField(keys[4], v4)
    )
  ) {
    return -1;
  }
  if (pos + 1 > end) return -1;
  out[pos++] = 0x0a;
  return pos;
}
