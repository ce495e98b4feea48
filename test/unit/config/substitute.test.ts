import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigUnknownKeyError, ConfigValueError, ConfigVarMissingError } from '../../../src/errors.js';
import { substitute, type SubstitutionSources } from '../../../src/config/substitute.js';

const dir = mkdtempSync(path.join(tmpdir(), 'tcp-echo-subst-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const at = { file: 'static.yaml', keyPath: '' };
const PORT_FILE = path.join(dir, 'port.txt');
writeFileSync(PORT_FILE, '7003\n');
const MISSING_FILE = path.join(dir, 'nope.txt');

function sources(over: Partial<SubstitutionSources> = {}): SubstitutionSources {
  return { vars: {}, varsFiles: ['vars.yaml'], env: {}, ...over };
}

/** A `port` key with every kind of source, minus what the test removes. */
function portWith(keys: Record<string, unknown>) {
  return { section: keys };
}

describe('substitute: precedence for one key (var > env > file > fallback)', () => {
  const all = { port: '$echo_port', 'port#env': 'ECHO_PORT', 'port#file': PORT_FILE, 'port#fallback': 7004 };

  test('a defined config var wins over env, file and fallback', () => {
    const out = substitute(portWith(all), sources({ vars: { echo_port: 7001 }, env: { ECHO_PORT: '7002' } }), at);
    assert.deepEqual(out, { section: { port: 7001 } });
  });

  test('env is next when the var is not defined; its value is parsed as a YAML scalar', () => {
    const out = substitute(portWith(all), sources({ env: { ECHO_PORT: '7002' } }), at);
    assert.deepEqual(out, { section: { port: 7002 } });
  });

  test('file is next when the env variable is unset or empty', () => {
    assert.deepEqual(substitute(portWith(all), sources(), at), { section: { port: 7003 } });
    assert.deepEqual(substitute(portWith(all), sources({ env: { ECHO_PORT: '' } }), at), { section: { port: 7003 } });
  });

  test('fallback is last, also when the #file does not exist', () => {
    const keys = { ...all, 'port#file': MISSING_FILE };
    assert.deepEqual(substitute(portWith(keys), sources(), at), { section: { port: 7004 } });
  });

  test('nothing defined: ConfigVarMissingError naming the key path, the var and the vars file', () => {
    const keys = { port: '$echo_port', 'port#env': 'ECHO_PORT' };
    assert.throws(
      () => substitute({ components_manager: { components: { 'tcp-echo': keys } } }, sources(), at),
      (error: unknown) => {
        assert.ok(error instanceof ConfigVarMissingError);
        assert.equal(error.code, 'ECHO_ERR_CONFIG_VAR_MISSING');
        assert.equal(error.keyPath, 'components_manager.components.tcp-echo.port');
        assert.match(error.message, /^static\.yaml: components_manager\.components\.tcp-echo\.port: /);
        assert.match(error.message, /config var 'echo_port'/);
        assert.match(error.message, /vars\.yaml/);
        assert.match(error.message, /port#fallback/);
        return true;
      },
    );
  });

  test('without vars files the message says none was given', () => {
    assert.throws(() => substitute({ port: '$p' }, sources({ varsFiles: [] }), at), /no --config_vars file was given/);
  });
});

describe('substitute: shapes', () => {
  test('env values are YAML scalars: numbers, booleans, strings', () => {
    const keys = { a: '$x', 'a#env': 'A', b: '$x', 'b#env': 'B', c: '$x', 'c#env': 'C', d: '$x', 'd#env': 'D' };
    const out = substitute(keys, sources({ env: { A: '8181', B: 'true', C: '127.0.0.1', D: '{ not: a scalar }' } }), at);
    assert.deepEqual(out, { a: 8181, b: true, c: '127.0.0.1', d: '{ not: a scalar }' });
  });

  test('a #file holding YAML gives structured values', () => {
    const file = path.join(dir, 'listener.yaml');
    writeFileSync(file, 'port: 9000\naddress: 127.0.0.1\n');
    assert.deepEqual(substitute({ 'listener#file': file }, sources(), at), { listener: { port: 9000, address: '127.0.0.1' } });
  });

  test('a key that is absent resolves from its siblings, and stays absent when none resolves', () => {
    const out = substitute({ 'a#env': 'A', 'a#fallback': 1, 'b#env': 'B' }, sources({ env: {} }), at);
    assert.deepEqual(out, { a: 1 });
    assert.equal(Object.hasOwn(out as object, 'b'), false);
  });

  test('a literal value wins over its # siblings, which never reach validation', () => {
    const out = substitute({ port: 8181, 'port#env': 'P', 'port#fallback': 1 }, sources({ env: { P: '9' } }), at);
    assert.deepEqual(out, { port: 8181 });
  });

  test('keys keep their order; a key first seen as key#x takes that place', () => {
    const out = substitute({ 'a#fallback': 1, b: 2, a: '$missing', c: 3 }, sources(), at) as object;
    assert.deepEqual(Object.keys(out), ['a', 'b', 'c']);
  });

  test('substitution applies at every depth, including inside lists', () => {
    const input = { a: { b: [{ c: '$v' }, '$w', 'plain', { 'd#fallback': 'x' }] } };
    const out = substitute(input, sources({ vars: { v: 1, w: [2, 3] } }), at);
    assert.deepEqual(out, { a: { b: [{ c: 1 }, [2, 3], 'plain', { d: 'x' }] } });
  });

  test('a missing var inside a list names the index in the key path', () => {
    assert.throws(
      () => substitute({ list: [1, '$nope'] }, sources(), at),
      (error: unknown) => error instanceof ConfigVarMissingError && error.keyPath === 'list.1',
    );
  });

  test('var values are used as they are (no second substitution)', () => {
    assert.deepEqual(substitute({ a: '$v' }, sources({ vars: { v: '$w' } }), at), { a: '$w' });
  });

  test('a fallback mapping is itself substituted', () => {
    const out = substitute({ 'l#fallback': { port: '$p' } }, sources({ vars: { p: 5 } }), at);
    assert.deepEqual(out, { l: { port: 5 } });
  });

  test("strings that merely contain '$' are literals", () => {
    assert.deepEqual(substitute({ a: '$', b: '$5', c: 'a$b', d: 'cost: $x' }, sources(), at), {
      a: '$',
      b: '$5',
      c: 'a$b',
      d: 'cost: $x',
    });
  });

  test('an unknown # suffix is an error suggesting the right one', () => {
    assert.throws(
      () => substitute({ s: { 'port#enve': 'X' } }, sources(), at),
      (error: unknown) =>
        error instanceof ConfigUnknownKeyError &&
        error.keyPath === 's.port#enve' &&
        /did you mean 'port#env'\?/.test(error.message),
    );
  });

  test('#env must name a variable', () => {
    assert.throws(
      () => substitute({ 'port#env': 5 }, sources(), at),
      (error: unknown) => error instanceof ConfigValueError && error.keyPath === 'port#env',
    );
  });
});
