import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as errors from '../../src/errors.js';

/** Every concrete error class exported by src/errors.ts, with a sample instance. */
function instances(): { name: string; error: errors.EchoError }[] {
  const out: { name: string; error: errors.EchoError }[] = [];
  for (const [name, value] of Object.entries(errors)) {
    if (typeof value !== 'function' || !(value.prototype instanceof errors.EchoError)) continue;
    if (value === errors.ConfigError || value === errors.HttpError) continue; // abstract
    const Ctor = value as unknown as new (...args: unknown[]) => errors.EchoError;
    const error =
      value.prototype instanceof errors.ConfigError
        ? new Ctor({ file: 'static.yaml', keyPath: 'components_manager.components.tcp-echo.port' }, 'problem')
        : new Ctor('problem');
    out.push({ name, error });
  }
  return out;
}

test('every error code is unique and reads ECHO_ERR_<AREA>_<WHAT>', () => {
  const all = instances();
  assert.ok(all.length >= 10, `found only ${all.length} error classes`);
  const seen = new Map<string, string>();
  for (const { name, error } of all) {
    assert.match(error.code, /^ECHO_ERR_[A-Z]+_[A-Z_]+$/, `${name}.code = ${error.code}`);
    assert.equal(seen.get(error.code), undefined, `${name} reuses ${error.code} of ${seen.get(error.code)}`);
    seen.set(error.code, name);
  }
});

test('every error has its class name and is an Error', () => {
  for (const { name, error } of instances()) {
    assert.equal(error.name, name);
    assert.ok(error instanceof Error);
  }
});

test('config errors start with file and dotted key path, and expose both', () => {
  const error = new errors.ConfigValueError({ file: 'static.yaml', keyPath: 'components_manager.components.tcp-echo.port' }, '70000 is out of range');
  assert.equal(error.message, 'static.yaml: components_manager.components.tcp-echo.port: 70000 is out of range');
  assert.equal(error.file, 'static.yaml');
  assert.equal(error.keyPath, 'components_manager.components.tcp-echo.port');
  assert.equal(new errors.ConfigMissingKeyError({ file: 'f', keyPath: '' }, 'x').message, 'f: <root>: x');
});
