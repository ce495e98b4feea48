/** Reading YAML files (the static config, config vars, `#file` values) into plain data. */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { ConfigFileError, ConfigSyntaxError, type ConfigLocation } from '../errors.js';

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
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, merge: true });
  const [first] = doc.errors;
  if (first) {
    const pos = first.linePos?.[0];
    // The package's message is "<problem> at line L, column C:\n\n<excerpt>"; keep the problem.
    const problem = (first.message.split('\n')[0] ?? first.message).replace(/ at line \d+, column \d+:?$/, '');
    throw new ConfigSyntaxError(
      { file, keyPath: pos ? `line ${pos.line}, column ${pos.col}` : '' },
      `invalid YAML: ${problem}`,
    );
  }
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    throw new ConfigSyntaxError(
      { file, keyPath: '' },
      `invalid YAML: ${(error as Error).message} (more than ${MAX_ALIAS_COUNT} alias expansions)`,
      { cause: error },
    );
  }
}

/**
 * Reads and parses a YAML file. Throws ConfigFileError when it cannot be read (`at` names the
 * option or key that pointed at it) and ConfigSyntaxError when it is not valid YAML.
 */
export function readYamlFile(file: string, at: ConfigLocation): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const what = at.file === file ? 'cannot read the file' : `cannot read '${file}'`;
    throw new ConfigFileError(at, `${what}: ${describeFsError(error)}`, { cause: error });
  }
  return parseYaml(text, file);
}

/** "no such file", "permission denied", ... without Node's syscall decoration. */
export function describeFsError(error: unknown): string {
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
