import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import {
  ConfigFileError,
  ConfigSyntaxError,
  ConfigUnknownKeyError,
  ConfigValueError,
  ConfigVarMissingError,
} from '../../../src/errors.js';
import { loadStaticConfig, originOf } from '../../../src/config/load.js';
import { staticConfigSchema } from '../../../src/config/manager-schema.js';
import { echoComponent } from '../../../src/cluster/tcp-echo-component.js';
import { loggingComponent } from '../../../src/log/logging-component.js';
import { parseYaml } from '../../../src/config/yaml-file.js';

const dir = mkdtempSync(path.join(tmpdir(), 'tcp-echo-load-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;
function file(text: string): string {
  const name = path.join(dir, `f${counter++}.yaml`);
  writeFileSync(name, text);
  return name;
}

const CONFIG = 'components_manager:\n  components:\n    tcp-echo:\n      port: $echo_port\n      address: $address\n';

describe('loadStaticConfig', () => {
  test('--config_vars_override replaces --config_vars key by key', () => {
    const configFile = file(CONFIG);
    const vars = file('echo_port: 1\naddress: 127.0.0.1\n');
    const override = file('echo_port: 2\n');
    const { root } = loadStaticConfig({ configFile, configVarsFile: vars, configVarsOverrideFile: override, env: {} });
    assert.deepEqual(root, { components_manager: { components: { 'tcp-echo': { port: 2, address: '127.0.0.1' } } } });
  });

  test('an override file alone is enough', () => {
    const configFile = file(CONFIG);
    const override = file('echo_port: 3\naddress: ::1\n');
    const { root } = loadStaticConfig({ configFile, configVarsOverrideFile: override, env: {} });
    assert.deepEqual(root, { components_manager: { components: { 'tcp-echo': { port: 3, address: '::1' } } } });
  });

  test("the config's top-level config_vars path is used when --config_vars is not given", () => {
    const vars = file('echo_port: 4\naddress: 127.0.0.1\n');
    const configFile = file(`config_vars: ${vars}\n${CONFIG}`);
    const { root } = loadStaticConfig({ configFile, env: {} });
    assert.equal((root.components_manager as any).components['tcp-echo'].port, 4);
    const other = file('echo_port: 5\naddress: x\n');
    const { root: root2 } = loadStaticConfig({ configFile, configVarsFile: other, env: {} });
    assert.equal((root2.components_manager as any).components['tcp-echo'].port, 5);
  });

  test('origins record where each substituted value came from, for error messages', () => {
    const portFile = file('9\n');
    const configFile = file(
      'components_manager:\n  components:\n    a:\n      port: $echo_port\n    b:\n      port#env: B_PORT\n' +
        `    c:\n      port#file: ${portFile}\n    d:\n      listener#fallback: { port: 1 }\n    e:\n      port: 5\n`,
    );
    const vars = file('echo_port: 1\n');
    const { origins } = loadStaticConfig({ configFile, configVarsFile: vars, env: { B_PORT: '2' } });
    const at = (s: string) => originOf(origins, `components_manager.components.${s}`);
    assert.equal(at('a.port'), "config var 'echo_port'");
    assert.equal(at('b.port'), 'environment variable B_PORT');
    assert.equal(at('c.port'), `file ${portFile}`);
    assert.equal(at('d.listener.port'), 'listener#fallback');
    assert.equal(at('e.port'), undefined);
  });

  test('a missing var names the config file, the key path and the vars files', () => {
    const configFile = file(CONFIG);
    const vars = file('address: x\n');
    assert.throws(
      () => loadStaticConfig({ configFile, configVarsFile: vars, env: {} }),
      (error: unknown) =>
        error instanceof ConfigVarMissingError &&
        error.file === configFile &&
        error.keyPath === 'components_manager.components.tcp-echo.port' &&
        error.message.includes(vars),
    );
  });

  test('a missing config file is a ConfigFileError naming it', () => {
    const missing = path.join(dir, 'missing.yaml');
    assert.throws(
      () => loadStaticConfig({ configFile: missing }),
      (error: unknown) => error instanceof ConfigFileError && error.message === `${missing}: --config: cannot read the file: no such file`,
    );
  });

  test('a missing vars file names the option', () => {
    const missing = path.join(dir, 'missing-vars.yaml');
    assert.throws(
      () => loadStaticConfig({ configFile: file(CONFIG), configVarsFile: missing }),
      (error: unknown) => error instanceof ConfigFileError && error.file === missing && error.keyPath === '--config_vars',
    );
  });

  test('a vars file that is not a mapping is an error naming the vars file', () => {
    const vars = file('- a\n- b\n');
    assert.throws(
      () => loadStaticConfig({ configFile: file(CONFIG), configVarsFile: vars }),
      (error: unknown) => error instanceof ConfigValueError && error.file === vars && /must be a YAML mapping/.test(error.message),
    );
  });

  test('an empty vars file defines nothing', () => {
    const vars = file('');
    assert.throws(() => loadStaticConfig({ configFile: file(CONFIG), configVarsFile: vars, env: {} }), ConfigVarMissingError);
  });

  test('a config that is not a mapping is rejected', () => {
    assert.throws(() => loadStaticConfig({ configFile: file('') }), /empty document/);
    assert.throws(() => loadStaticConfig({ configFile: file('- 1\n') }), /must be a YAML mapping/);
  });
});

describe('parseYaml', () => {
  test('syntax errors name the file, line and column', () => {
    assert.throws(
      () => parseYaml('a: 1\nb:\n  c: 1\n d: 2\n', 'x.yaml'),
      (error: unknown) =>
        error instanceof ConfigSyntaxError &&
        /^x\.yaml: line 4, column \d+: invalid YAML: /.test(error.message) &&
        !error.message.includes('\n'),
    );
  });

  test('duplicate keys are errors', () => {
    assert.throws(() => parseYaml('a: 1\na: 2\n', 'x.yaml'), /x\.yaml: line 2, column 1: invalid YAML: Map keys must be unique/);
  });

  test('alias bombs are rejected', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 6; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      bomb.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(', ')}]`);
    }
    assert.throws(() => parseYaml(bomb.join('\n'), 'bomb.yaml'), ConfigSyntaxError);
  });

  test('a few aliases are fine', () => {
    assert.deepEqual(parseYaml('a: &x [1]\nb: *x\n', 'x.yaml'), { a: [1], b: [1] });
  });
});

describe('unknown keys come before substitution errors', () => {
  const schema = staticConfigSchema([loggingComponent, echoComponent]);

  test('a misspelt key whose $var is undefined is reported as the unknown key', () => {
    const configFile = file('components_manager:\n  components:\n    tcp-echo:\n      prot: $echo_port\n      port#fallback: 8181\n');
    assert.throws(
      () => loadStaticConfig({ configFile, env: {}, schema }),
      (error: unknown) =>
        error instanceof ConfigUnknownKeyError &&
        error.keyPath === 'components_manager.components.tcp-echo.prot' &&
        /unknown key; did you mean 'port'\?/.test(error.message),
    );
  });

  test('a misspelt key inside a #fallback mapping is found too', () => {
    const configFile = file(
      'components_manager:\n  components:\n    logging:\n      loggers: $loggers\n      loggers#fallback:\n        default:\n          levl: info\n    tcp-echo:\n      port: $echo_port\n',
    );
    assert.throws(
      () => loadStaticConfig({ configFile, env: {}, schema }),
      (error: unknown) => error instanceof ConfigUnknownKeyError && error.keyPath === 'components_manager.components.logging.loggers.default.levl',
    );
  });

  test('with every key known, the substitution error stands', () => {
    const configFile = file('components_manager:\n  components:\n    tcp-echo:\n      port: $echo_port\n      port#env: ECHO_PORT\n');
    assert.throws(() => loadStaticConfig({ configFile, env: {}, schema }), ConfigVarMissingError);
  });
});
