/** Reading YAML files (the static config, config vars, `#file` values) into plain data. */
import { LineCounter, parseDocument } from 'yaml';
import { BoundedReadError, MAX_CONFIG_FILE_BYTES, readBoundedFile } from './bounded-read.js';
import { ConfigFileError, ConfigSyntaxError, type ConfigLocation } from '../errors.js';
import { findDuplicateKey, findShapeProblem } from './yaml-shape.js';

/**
 * At most this many alias dereferences per document: enough for any hand-written config, far
 * too few for a "billion laughs" document to expand (the `yaml` package throws past it).
 */
export const MAX_ALIAS_COUNT = 100;

/**
 * Parses YAML text into plain data. `file` is only used in messages. Throws ConfigSyntaxError
 * naming the file, the line and the column.
 */
export function parseYaml(text: string, file: string): unknown {
  const lines = new LineCounter();
  // uniqueKeys off: the package compares each key with every earlier one (quadratic);
  // findDuplicateKey does the same check in linear time below.
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: false, merge: true, lineCounter: lines });
  const [first] = doc.errors;
  if (first) {
    const pos = first.linePos?.[0];
    // The package's message is "<problem> at line L, column C:\n\n<excerpt>"; keep the problem.
    let problem = (first.message.split('\n')[0] ?? first.message).replace(/ at line \d+, column \d+:?$/, '');
    // The parser recurses per level: a deep enough document exhausts the stack there.
    if (problem.includes('Maximum call stack size exceeded')) problem = 'nested too deeply for the YAML parser';
    throw new ConfigSyntaxError(
      { file, keyPath: pos ? `line ${pos.line}, column ${pos.col}` : '' },
      `invalid YAML: ${problem}`,
    );
  }
  const duplicate = findDuplicateKey(doc, lines);
  if (duplicate) throw new ConfigSyntaxError({ file, keyPath: duplicate.where }, `invalid YAML: ${duplicate.problem}`);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    const deep = error instanceof RangeError && error.message.includes('call stack');
    throw new ConfigSyntaxError(
      { file, keyPath: '' },
      deep
        ? 'invalid YAML: nested too deeply'
        : `invalid YAML: ${(error as Error).message} (more than ${MAX_ALIAS_COUNT} alias expansions)`,
      { cause: error },
    );
  }
  const shape = findShapeProblem(value);
  if (shape) throw new ConfigSyntaxError({ file, keyPath: shape.where }, shape.problem);
  return value;
}

/**
 * Reads and parses a YAML file. Throws ConfigFileError when it cannot be read (`at` names the
 * option or key that pointed at it) and ConfigSyntaxError when it is not valid YAML.
 */
export function readYamlFile(file: string, at: ConfigLocation): unknown {
  let text: string;
  try {
    text = readBoundedFile(file, MAX_CONFIG_FILE_BYTES);
  } catch (error) {
    const what = at.file === file ? 'cannot read the file' : `cannot read '${file}'`;
    throw new ConfigFileError(at, `${what}: ${describeFsError(error)}`, { cause: error });
  }
  return parseYaml(text, file);
}

/** "no such file", "permission denied", ... without Node's syscall decoration. */
export function describeFsError(error: unknown): string {
  if (error instanceof BoundedReadError) {
    return error.cause === undefined ? error.message : describeFsError(error.cause);
  }
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory, not a file';
    default:
      return code ?? (error as Error).message;
  }
}
