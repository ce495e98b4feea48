/**
 * Shape checks on parsed YAML that the `yaml` package does not make, or makes too slowly: duplicate
 * keys in linear time, nesting depth, and aliases that refer to themselves. All of them walk with an
 * explicit stack, so no input can overflow ours.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type LineCounter } from 'yaml';

/**
 * Deepest nesting of mappings and lists accepted. userver's configs nest about 6 levels; the bound
 * keeps every later recursive pass (substitution, validation) far from the stack limit.
 */
export const MAX_NESTING_DEPTH = 100;

/** A shape problem: where (a dotted key path, or line and column) and what. */
export interface ShapeProblem {
  readonly where: string;
  readonly problem: string;
}

/**
 * The first key that repeats in any mapping of `doc`, by line and column. One hash set per mapping,
 * so 40,000 keys take milliseconds (the package's own `uniqueKeys` check compares each key with
 * every earlier one). Keys compare as the package does: scalars by value and type.
 */
export function findDuplicateKey(doc: Document, lines: LineCounter): ShapeProblem | undefined {
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isMap(node)) {
      const seen = new Set<unknown>();
      for (const pair of node.items) {
        const key = pair.key;
        if (isScalar(key)) {
          // Typed so that `1` and `"1"` stay distinct, as in the package's check.
          const id = typeof key.value === 'string' ? `s:${key.value}` : key.value;
          if (seen.has(id)) {
            const pos = lines.linePos(key.range?.[0] ?? 0);
            return { where: `line ${pos.line}, column ${pos.col}`, problem: `Map keys must be unique ('${shorten(String(key.value))}' repeats)` };
          }
          seen.add(id);
        }
        stack.push(pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) stack.push(isPair(item) ? item.value : item);
    } else if (isAlias(node)) {
      // An alias points at a node already walked where it was anchored.
    }
  }
  return undefined;
}

/**
 * The first place in `value` (plain data from the YAML) nested deeper than MAX_NESTING_DEPTH, or
 * where an alias refers to a mapping or list that contains it (`extra: &a [*a]`), by key path.
 */
export function findShapeProblem(value: unknown): ShapeProblem | undefined {
  const ancestors = new Set<object>();
  // An entry with `leave` set pops its container off the ancestors once its children are done.
  const stack: { value: unknown; path: string; depth: number; leave?: object }[] = [{ value, path: '', depth: 0 }];
  while (stack.length > 0) {
    const entry = stack.pop()!;
    if (entry.leave !== undefined) {
      ancestors.delete(entry.leave);
      continue;
    }
    const node = entry.value;
    if (node === null || typeof node !== 'object') continue;
    if (ancestors.has(node)) return { where: shortPath(entry.path), problem: 'an alias refers to itself (a cycle); YAML aliases must not contain their anchor' };
    if (entry.depth >= MAX_NESTING_DEPTH) return { where: shortPath(entry.path), problem: `nested more than ${MAX_NESTING_DEPTH} levels deep` };
    ancestors.add(node);
    stack.push({ value: undefined, path: '', depth: 0, leave: node });
    const children: [string, unknown][] = Array.isArray(node) ? node.map((v, i) => [String(i), v]) : Object.entries(node);
    for (let i = children.length - 1; i >= 0; i--) {
      const [key, child] = children[i]!;
      if (child !== null && typeof child === 'object') {
        stack.push({ value: child, path: entry.path === '' ? key : `${entry.path}.${key}`, depth: entry.depth + 1 });
      }
    }
  }
  return undefined;
}

/** Key paths of a hundred levels are long: keep the start (which names the section) and the end. */
function shortPath(path: string): string {
  return path.length <= 600 ? path : `${path.slice(0, 500)}...${path.slice(-80)}`;
}

function shorten(text: string): string {
  return text.length <= 80 ? text : `${text.slice(0, 60)}... (${text.length} chars)`;
}
