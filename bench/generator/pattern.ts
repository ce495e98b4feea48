/**
 * The byte pattern every benchmark client sends, so every echoed byte can be checked with a memcmp
 * and no allocation: byte i of a stream is `f(i mod PERIOD)`, with PERIOD prime so that a lost,
 * duplicated or reordered chunk shows up (unless its length is a multiple of 65,521 bytes, which the
 * end-of-run byte count still catches).
 */

/** Length of one period of the pattern (a prime). */
export const PERIOD = 65_521;

/** Longest slice `slice()` can return without wrapping. */
export const MAX_SLICE = 1024 * 1024;

/** The pattern, long enough that any slice of up to MAX_SLICE bytes at any phase is contiguous. */
export function makePattern(): Buffer {
  const buffer = Buffer.allocUnsafe(PERIOD + MAX_SLICE);
  for (let i = 0; i < buffer.length; i++) {
    const j = i % PERIOD;
    // Knuth's multiplicative hash: neighbouring bytes differ, and no short sub-period exists.
    buffer[i] = Math.imul(j + 1, 0x9e3779b1) >>> 24;
  }
  return buffer;
}

/** The `length` bytes a stream carries from byte `offset` on (a view, no copy). */
export function slice(pattern: Buffer, offset: number, length: number): Buffer {
  if (length > MAX_SLICE) throw new RangeError(`slice of ${length} bytes is longer than ${MAX_SLICE}`);
  const start = offset % PERIOD;
  return pattern.subarray(start, start + length);
}

/** True when `chunk` equals the stream's bytes from `offset` on. Compares in place (no allocation). */
export function matches(pattern: Buffer, offset: number, chunk: Buffer): boolean {
  let done = 0;
  while (done < chunk.length) {
    const n = Math.min(chunk.length - done, MAX_SLICE);
    const start = (offset + done) % PERIOD;
    if (chunk.compare(pattern, start, start + n, done, done + n) !== 0) return false;
    done += n;
  }
  return true;
}
