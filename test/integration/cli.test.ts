/**
 * The command line and config errors of the real built service: each bad config exits non-zero
 * with one line on stderr naming the file and the dotted key path.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { ROOT, baseComponents, freePort, runCli, tempFiles } from '../helpers/service.js';

const { dir, write: writeFile } = tempFiles('tcp-echo-cli-');

/** A config file in the shipped shape, edited by `edit`. Ports are free but nothing should bind them. */
async function config(edit: (components: Record<string, Record<string, unknown>>) => void): Promise<string> {
  const components = baseComponents(await freePort(), await freePort());
  edit(components);
  return writeFile(stringify({ components_manager: { components } }));
}

/** Runs the CLI, expects exit 1 and exactly one stderr line `tcp-echo: <file>: <keyPath>: ...`. */
async function expectConfigError(args: string[], file: string, keyPath: string, problem: RegExp, env?: Record<string, string>) {
  const result = await runCli(args, env ? { env } : {});
  assert.equal(result.code, 1, `exit code; stderr:\n${result.stderr}`);
  const lines = result.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, `one line on stderr, got:\n${result.stderr}`);
  const line = lines[0]!;
  const prefix = `tcp-echo: ${file}: ${keyPath}: `;
  assert.ok(line.startsWith(prefix), `expected prefix ${JSON.stringify(prefix)}, got ${JSON.stringify(line)}`);
  assert.match(line.slice(prefix.length), problem);
  assert.equal(result.stdout, '');
}

describe('config errors exit 1 with file and key path, before anything listens', () => {
  test('missing config file', async () => {
    const missing = path.join(dir, 'does-not-exist.yaml');
    await expectConfigError(['-c', missing], missing, '--config', /cannot read the file: no such file/);
  });

  test('bad YAML names the line', async () => {
    const file = writeFile('components_manager:\n  components:\n    tcp-echo:\n      port: 8181\n     address: x\n');
    await expectConfigError(['-c', file], file, 'line 5, column 1', /invalid YAML: All mapping items must start at the same column/);
  });

  test('wrong type', async () => {
    const file = await config((c) => (c['tcp-echo']!.port = 'eighty'));
    await expectConfigError(['-c', file], file, 'components_manager.components.tcp-echo.port', /"eighty" is not valid: expected an integer/);
  });

  test('out-of-range port', async () => {
    const file = await config((c) => (c['tcp-echo']!.port = 70000));
    await expectConfigError(['-c', file], file, 'components_manager.components.tcp-echo.port', /70000 is out of range/);
  });

  test('unknown key, with the nearest key suggested', async () => {
    const file = await config((c) => (c['tcp-echo']!.adress = '127.0.0.1'));
    await expectConfigError(['-c', file], file, 'components_manager.components.tcp-echo.adress', /unknown key; did you mean 'address'\?/);
  });

  test('unknown component, with the nearest component suggested', async () => {
    const file = await config((c) => (c['tcp_echo'] = {}));
    await expectConfigError(['-c', file], file, 'components_manager.components.tcp_echo', /unknown component; did you mean 'tcp-echo'\?/);
  });

  test('unknown components_manager key', async () => {
    const components = baseComponents(await freePort(), await freePort());
    const file = writeFile(stringify({ components_manager: { components, task_processor: {} } }));
    await expectConfigError(['-c', file], file, 'components_manager.task_processor', /did you mean 'task_processors'\?/);
  });

  test('missing config var', async () => {
    const file = await config((c) => (c['tcp-echo']!.port = '$echo_port'));
    await expectConfigError(['-c', file], file, 'components_manager.components.tcp-echo.port', /config var 'echo_port' .*not defined/);
  });

  test('a typo in a key of the shipped config is the unknown key, not the var it leaves unresolved', async () => {
    const shipped = readFileSync(path.join(ROOT, 'config', 'static_config.yaml'), 'utf8');
    const typo = shipped.replace(/^(\s+)port: \$echo_port/m, '$1prot: $echo_port');
    assert.notEqual(typo, shipped, 'the shipped config has `port: $echo_port`');
    const file = writeFile(typo);
    await expectConfigError(['-c', file], file, 'components_manager.components.tcp-echo.prot', /^unknown key; did you mean 'port'\?/);
  });

  test('a value from --config_vars is validated like a literal', async () => {
    const file = await config((c) => (c['tcp-echo']!.port = '$echo_port'));
    const vars = writeFile('echo_port: 99999\n', 'vars.yaml');
    await expectConfigError(['-c', file, '--config_vars', vars], file, 'components_manager.components.tcp-echo.port', /99999 is out of range.* \(the value came from config var 'echo_port'\)$/);
  });

  test('a value from #env is parsed and validated', async () => {
    const file = await config((c) => {
      c['tcp-echo']!.port = '$echo_port';
      c['tcp-echo']!['port#env'] = 'TEST_ECHO_PORT';
    });
    await expectConfigError(['-c', file], file, 'components_manager.components.tcp-echo.port', /-1 is out of range.* \(the value came from environment variable TEST_ECHO_PORT\)$/, { TEST_ECHO_PORT: '-1' });
  });

  test('a missing vars file names the option', async () => {
    const file = await config(() => {});
    const missing = path.join(dir, 'no-vars.yaml');
    await expectConfigError(['-c', file, '--config_vars', missing], missing, '--config_vars', /no such file/);
  });
});

describe('command line', () => {
  test('--help prints usage and exits 0', async () => {
    const result = await runCli(['--help']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^Usage: tcp-echo -c <static_config\.yaml>/);
    assert.match(result.stdout, /--config_vars_override/);
    assert.equal(result.stderr, '');
  });

  test('--version prints the package version and exits 0', async () => {
    const result = await runCli(['--version']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^\d+\.\d+\.\d+\n$/);
  });

  test('--print-config-schema prints the whole schema as YAML and exits 0', async () => {
    const result = await runCli(['--print-config-schema']);
    assert.equal(result.code, 0, result.stderr);
    const schema = parse(result.stdout) as any;
    const manager = schema.properties.components_manager.properties;
    assert.equal(manager.graceful_shutdown_interval.type, 'string');
    assert.ok(manager.task_processors);
    const components = manager.components.properties;
    for (const name of ['logging', 'statistics-storage', 'tracer', 'server', 'handler-ping', 'handler-server-monitor', 'tests-control', 'tcp-echo']) {
      assert.ok(components[name], `section ${name}`);
      assert.equal(components[name].type, 'object');
      assert.equal(components[name].additionalProperties, false);
      assert.equal(components[name].properties['load-enabled'].type, 'boolean');
    }
    assert.equal(components['tcp-echo'].properties.port.type, 'integer');
  });

  test('bad command lines exit 2 with one line and a hint', async () => {
    for (const args of [[], ['--bogus'], ['-c'], ['-c', 'a.yaml', 'stray']]) {
      const result = await runCli(args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      const lines = result.stderr.split('\n').filter(Boolean);
      assert.equal(lines.length, 2, result.stderr);
      assert.match(lines[0]!, /^tcp-echo: /);
      assert.equal(lines[1], "Try 'tcp-echo --help' for more information.");
    }
  });

  test('the shipped config validates (run with its monitor port taken, so it stops at the bind)', async (t) => {
    const blocker = net.createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    t.after(() => blocker.close());
    const taken = (blocker.address() as net.AddressInfo).port;
    const vars = writeFile(`echo_port: ${await freePort()}\nmonitor_port: ${taken}\n`, 'shipped-vars.yaml');
    const shipped = path.resolve('config/static_config.yaml');
    const result = await runCli(['-c', shipped, '--config_vars_override', vars], { timeoutMs: 60_000 });
    assert.equal(result.code, 1, result.stderr);
    const last = result.stderr.trim().split('\n').at(-1) ?? '';
    assert.ok(!last.includes(shipped), `a config error: ${last}`);
    assert.match(last, new RegExp(`^tcp-echo: .*127\\.0\\.0\\.1.*${taken}`), last);
  });
});
