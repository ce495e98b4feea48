/** Parsing of the config's unit suffixes: durations (`ms`, `s`, `m`, `h`) and sizes (`B`, `KiB`, `MiB`, `GiB`). */

const DURATION_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const SIZE_BYTES: Readonly<Record<string, number>> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };
const WITH_UNIT = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*$/;

/** Milliseconds for `500ms`, `10s`, `1.5m`, `1h` or a bare non-negative number (already ms); undefined if malformed. */
export function parseDuration(value: number | string): number | undefined {
  return parseWithUnits(value, DURATION_MS);
}

/** Bytes for `4096`, `512B`, `64KiB`, `1MiB`, `2GiB`; undefined if malformed. Whole bytes only. */
export function parseSize(value: number | string): number | undefined {
  const bytes = parseWithUnits(value, SIZE_BYTES);
  return bytes !== undefined && Number.isInteger(bytes) ? bytes : undefined;
}

function parseWithUnits(value: number | string, units: Readonly<Record<string, number>>): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (/^\s*\d+(?:\.\d+)?\s*$/.test(value)) return Number(value);
  const match = WITH_UNIT.exec(value);
  if (!match) return undefined;
  const factor = units[match[2] as string];
  return factor === undefined ? undefined : Number(match[1]) * factor;
}
