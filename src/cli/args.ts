/**
 * The command line of tcp-echo, with userver's flag names (`-c/--config`, `--config_vars`,
 * `--config_vars_override`, `--print-config-schema`).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CliUsageError, errorMessage } from '../errors.js';

/** What the command line asks for. */
export type CliCommand =
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'print-config-schema' }
  | {
      readonly kind: 'run';
      /** The static config file (`-c`). */
      readonly configFile: string;
      /** `--config_vars`: values for `$name` references. */
      readonly configVarsFile: string | undefined;
      /** `--config_vars_override`: overrides `--config_vars` key by key. */
      readonly configVarsOverrideFile: string | undefined;
    };

/** The usage text printed by `--help` (and hinted at after a usage error). */
export const USAGE = `Usage: tcp-echo -c <static_config.yaml> [options]

A full-duplex TCP echo service with OpenTelemetry metrics and spans (userver's sample, in TypeScript).

Options:
  -c, --config <file>               the static config (YAML, userver's shape); required to run
      --config_vars <file>          YAML mapping of values for \`$name\` references in the config
      --config_vars_override <file> YAML mapping that overrides --config_vars key by key
      --print-config-schema         print the static config schema as YAML and exit
  -h, --help                        print this help and exit
  -v, --version                     print the version and exit

Exit codes: 0 after a clean shutdown (SIGTERM/SIGINT); 1 on a bad config or a failed start;
2 on a bad command line; 128+signal when a second SIGTERM/SIGINT interrupts the shutdown.
`;

/** The one-line hint printed after a usage error. */
export const USAGE_HINT = "Try 'tcp-echo --help' for more information.";

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  config_vars: { type: 'string' },
  config_vars_override: { type: 'string' },
  'print-config-schema': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

/**
 * Parses `argv` (without the node binary and script). Throws CliUsageError with a one-line
 * message on an unknown flag, a missing value, a stray positional argument or a missing `-c`.
 */
export function parseCliArgs(argv: readonly string[]): CliCommand {
  let values: { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'string' ? string : boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: true }));
  } catch (error) {
    throw new CliUsageError(usageProblem(error), { cause: error });
  }
  if (positionals.length > 0) {
    throw new CliUsageError(`unexpected argument '${positionals[0]}' (the config file goes after -c)`);
  }
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  if (values['print-config-schema']) return { kind: 'print-config-schema' };
  for (const name of ['config', 'config_vars', 'config_vars_override'] as const) {
    // parseArgs accepts `--config=` and `-c ''`; an empty path is never what was meant.
    if (values[name] === '') throw new CliUsageError(`option '--${name}' needs a file path, got an empty string`);
  }
  if (values.config === undefined) throw new CliUsageError("missing required option '-c, --config <file>'");
  return {
    kind: 'run',
    configFile: values.config,
    configVarsFile: values.config_vars,
    configVarsOverrideFile: values.config_vars_override,
  };
}

/** Node's parseArgs messages are long and mention internals; keep the part a person needs. */
function usageProblem(error: unknown): string {
  const code = (error as { code?: string }).code;
  const message = errorMessage(error);
  const flag = /'([^']+)'/.exec(message)?.[1];
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option '${flag ?? message}'`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /argument missing/.test(message)
        ? `option '${flag?.replace(/^-\w, /, '').replace(/ <value>$/, '') ?? message}' needs a value`
        : `option '${flag ?? message}' takes no value`;
    default:
      return message.split('\n')[0] ?? message;
  }
}

/** The version from package.json (found relative to this file in both `src/` and `dist/`). */
export function packageVersion(): string {
  const raw = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(raw) as { version: string }).version;
}
