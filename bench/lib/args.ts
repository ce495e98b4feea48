/** A small `--name value` / `--flag` command-line parser for the benchmark tools. */

/** Parsed flags: `--name value` → string, bare `--flag` → true. */
export type Flags = Map<string, string | true>;

/** Parses argv; throws on a positional argument, naming it. */
export function parseFlags(argv: readonly string[]): Flags {
  const flags: Flags = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new Error(`unexpected argument '${arg}' (flags look like --name value)`);
    const eq = arg.indexOf('=');
    if (eq > 0) {
      flags.set(arg.slice(2, eq), arg.slice(eq + 1));
      continue;
    }
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      flags.set(arg.slice(2), next);
      i++;
    } else flags.set(arg.slice(2), true);
  }
  return flags;
}

/** A numeric flag (or its default); throws naming the flag when the value is not a finite number ≥ min. */
export function numberFlag(flags: Flags, name: string, fallback: number, min = 0): number {
  const value = flags.get(name);
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value === true || !Number.isFinite(n) || n < min) {
    throw new Error(`--${name} must be a number ≥ ${min}, got '${String(value)}'`);
  }
  return n;
}

/** A string flag (or its default). */
export function stringFlag(flags: Flags, name: string, fallback: string): string {
  const value = flags.get(name);
  if (value === true) throw new Error(`--${name} needs a value`);
  return value ?? fallback;
}

/** A comma-separated list flag restricted to `allowed`; throws naming the unknown entries. */
export function listFlag<T extends string>(flags: Flags, name: string, allowed: readonly T[], fallback: readonly T[]): T[] {
  const value = flags.get(name);
  if (value === undefined) return [...fallback];
  if (value === true) throw new Error(`--${name} needs a value (one or more of ${allowed.join(', ')})`);
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = items.filter((s) => !(allowed as readonly string[]).includes(s));
  if (unknown.length > 0) throw new Error(`--${name}: unknown ${unknown.join(', ')} (allowed: ${allowed.join(', ')})`);
  return items as T[];
}
