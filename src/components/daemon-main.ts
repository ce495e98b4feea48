/**
 * userver's `DaemonMain`: command line → static config → component manager → wait for
 * SIGTERM/SIGINT → stop in reverse → exit code. Config errors are one line on stderr, before
 * anything listens.
 */
import { stringify } from 'yaml';
import { USAGE, USAGE_HINT, packageVersion, parseCliArgs, type CliCommand } from '../cli/args.js';
import { loadStaticConfig, originOf } from '../config/load.js';
import { staticConfigSchema } from '../config/manager-schema.js';
import { toSchemaDocument } from '../config/schema.js';
import { CliUsageError, ConfigError, EchoError, errorMessage } from '../errors.js';
import { flushLogs, getLogger } from '../log/index.js';
import type { ComponentDefinition } from './component.js';
import { ComponentManager } from './manager.js';

/** Exit codes (documented in `--help` and docs/configuration.md). */
const EXIT = {
  OK: 0,
  /** Bad config, failed start, or a fatal error at runtime. */
  FAILURE: 1,
  /** Bad command line. */
  USAGE: 2,
} as const;

const SIGNAL_NUMBERS: Readonly<Record<'SIGINT' | 'SIGTERM', number>> = { SIGINT: 2, SIGTERM: 15 };
/** How long a fatal error (uncaught exception) may spend stopping components before we exit anyway. */
const FATAL_STOP_TIMEOUT_MS = 3000;
/** What every line the daemon itself prints on stderr starts with. */
const PROGRAM_PREFIX = 'tcp-echo: ';
/** How long a stopped service may take to exit by itself before it is made to. */
const LINGER_EXIT_MS = 2000;

/**
 * Runs the service described by `argv` with the given component list (in construction order).
 * Resolves with the process exit code once the service stopped (or failed to start).
 */
export async function daemonMain(argv: readonly string[], components: readonly ComponentDefinition[]): Promise<number> {
  let command: CliCommand;
  try {
    command = parseCliArgs(argv);
  } catch (error) {
    if (!(error instanceof CliUsageError)) throw error;
    process.stderr.write(`tcp-echo: ${error.message}\n${USAGE_HINT}\n`);
    return EXIT.USAGE;
  }
  switch (command.kind) {
    case 'help':
      process.stdout.write(USAGE);
      return EXIT.OK;
    case 'version':
      process.stdout.write(`${packageVersion()}\n`);
      return EXIT.OK;
    case 'print-config-schema':
      process.stdout.write(stringify(toSchemaDocument(staticConfigSchema(components)), { lineWidth: 0 }));
      return EXIT.OK;
    case 'run':
      return run(command, components);
  }
}

async function run(
  command: Extract<CliCommand, { kind: 'run' }>,
  components: readonly ComponentDefinition[],
): Promise<number> {
  let manager: ComponentManager;
  let origins: ReadonlyMap<string, string> = new Map();
  try {
    const loaded = loadStaticConfig({
      configFile: command.configFile,
      configVarsFile: command.configVarsFile,
      configVarsOverrideFile: command.configVarsOverrideFile,
      schema: staticConfigSchema(components),
    });
    origins = loaded.origins;
    manager = new ComponentManager(components, loaded.file, loaded.root);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // A bad value that came from $ECHO_PORT is not visible in the file: say where it came from.
    const origin = error.keyPath ? originOf(origins, error.keyPath) : undefined;
    printLine(origin ? `${error.message} (the value came from ${origin})` : error.message);
    return EXIT.FAILURE;
  }

  const log = getLogger('daemon');
  // Until the first signal nothing may let the process exit on its own (e.g. when no component
  // holds a socket open): userver's daemon runs until it is told to stop.
  const keepAlive = setInterval(() => {}, 2 ** 30);
  let fatal = false;
  const onFatal = (kind: string) => (error: unknown) => {
    if (fatal) process.exit(EXIT.FAILURE);
    fatal = true;
    const message = errorMessage(error);
    log.critical(`${kind}: ${message}`, { stack: error instanceof Error ? error.stack : undefined });
    printLine(`fatal: ${kind}: ${message}`);
    // Node's state after an uncaught exception is not trustworthy; give the components a bounded
    // chance to flush and release, then exit no matter what.
    setTimeout(() => process.exit(EXIT.FAILURE), FATAL_STOP_TIMEOUT_MS).unref();
    void manager
      .stop({ graceful: false })
      .then(() => flushLogs(FATAL_STOP_TIMEOUT_MS / 2))
      .finally(() => process.exit(EXIT.FAILURE));
  };
  process.on('uncaughtException', onFatal('uncaught exception'));
  process.on('unhandledRejection', onFatal('unhandled rejection'));

  let signalled: NodeJS.Signals | undefined;
  let resolveSignal: (signal: NodeJS.Signals) => void = () => {};
  const firstSignal = new Promise<NodeJS.Signals>((resolve) => (resolveSignal = resolve));
  const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
    if (signalled) {
      // A second signal while stopping: the operator wants out now.
      printLine(`${signal} again during shutdown: exiting at once`);
      process.exit(128 + SIGNAL_NUMBERS[signal]);
    }
    signalled = signal;
    log.info(`${signal} received: shutting down`);
    resolveSignal(signal);
  };
  const onSigint = () => onSignal('SIGINT');
  const onSigterm = () => onSignal('SIGTERM');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);

  try {
    await manager.start();
  } catch (error) {
    clearInterval(keepAlive);
    // Log lines are written asynchronously; flush them first so the error is the last line.
    await flushLogs();
    printError(error);
    return EXIT.FAILURE;
  }
  log.info(`tcp-echo ${packageVersion()} is running (config ${command.configFile}, pid ${process.pid})`);
  // A signal that arrived during start is honoured now that start finished.
  await firstSignal;
  await manager.stop();
  clearInterval(keepAlive);
  // Nothing is logged from here on: the logging component has stopped, and a line now would go to
  // stderr instead of the configured destination (the manager's closing report was the last line).
  // Every component is stopped; a handle some library leaked must not keep a stopped service alive.
  setTimeout(() => {
    log.warning(`still running ${LINGER_EXIT_MS} ms after every component stopped (a leaked handle); exiting`);
    process.exit(EXIT.OK);
  }, LINGER_EXIT_MS).unref();
  return EXIT.OK;
}

/** One line on stderr: `tcp-echo: <message>` (config errors already start with `file: key.path:`). */
function printError(error: unknown): void {
  if (error instanceof EchoError) printLine(error.message);
  else printLine(`fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
}

function printLine(text: string): void {
  // One line, whatever the message contains, so log collectors see one event. A message that
  // already starts with the program's name (the tcp-echo component's own errors) is not prefixed twice.
  const line = text.replace(/\s*\n\s*/g, ' ');
  process.stderr.write(line.startsWith(PROGRAM_PREFIX) ? `${line}\n` : `${PROGRAM_PREFIX}${line}\n`);
}
