import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { packageVersion, parseCliArgs } from '../../../src/cli/args.js';
import { CliUsageError } from '../../../src/errors.js';

function usageError(argv: string[], text: RegExp) {
  assert.throws(
    () => parseCliArgs(argv),
    (error: unknown) => error instanceof CliUsageError && error.code === 'ECHO_ERR_CLI_USAGE' && text.test(error.message) && !error.message.includes('\n'),
  );
}

describe('parseCliArgs', () => {
  test('-c and --config, with the userver vars options', () => {
    assert.deepEqual(parseCliArgs(['-c', 'a.yaml']), { kind: 'run', configFile: 'a.yaml', configVarsFile: undefined, configVarsOverrideFile: undefined });
    assert.deepEqual(parseCliArgs(['--config=a.yaml', '--config_vars', 'v.yaml', '--config_vars_override', 'o.yaml']), {
      kind: 'run',
      configFile: 'a.yaml',
      configVarsFile: 'v.yaml',
      configVarsOverrideFile: 'o.yaml',
    });
  });

  test('--help, --version and --print-config-schema need no config', () => {
    assert.deepEqual(parseCliArgs(['--help']), { kind: 'help' });
    assert.deepEqual(parseCliArgs(['-h', '-c', 'x']), { kind: 'help' });
    assert.deepEqual(parseCliArgs(['--version']), { kind: 'version' });
    assert.deepEqual(parseCliArgs(['--print-config-schema']), { kind: 'print-config-schema' });
  });

  test('bad command lines are one-line CliUsageErrors', () => {
    usageError([], /missing required option '-c, --config <file>'/);
    usageError(['--nope'], /unknown option '--nope'/);
    usageError(['-c'], /option '--config' needs a value/);
    usageError(['-c', ''], /needs a file path/);
    usageError(['-c', 'a.yaml', 'extra'], /unexpected argument 'extra'/);
    usageError(['--help=yes'], /takes no value/);
  });

  test('the version is the one in package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(packageVersion(), pkg.version);
  });
});
