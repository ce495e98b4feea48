import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { array, boolean, integer, object, oneOf, optional, string, validate } from '../../../src/config/schema.js';
import { ConfigMissingKeyError, ConfigUnknownKeyError, ConfigValueError } from '../../../src/errors.js';

const at = { file: 'static.yaml', keyPath: 'components_manager.components.tcp-echo' };
const schema = object({
  description: 'section',
  properties: {
    port: integer({ description: 'port', minimum: 0, maximum: 65535 }),
    address: string({ description: 'address', default: '::' }),
    no_delay: boolean({ description: 'nodelay', default: true }),
    format: string({ description: 'format', enum: ['tskv', 'json'], default: 'tskv' }),
    tags: optional(array({ description: 'tags', items: string({ description: 'tag' }) })),
    workers: oneOf({ description: 'n', default: 'auto', variants: [integer({ description: 'n', minimum: 1 }), string({ description: 'auto', enum: ['auto'] })] }),
  },
});

function fails(value: unknown, type: Function, keyPath: string, text: RegExp) {
  assert.throws(
    () => validate(schema, value, at),
    (error: unknown) => {
      assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
      assert.equal((error as ConfigValueError).keyPath, keyPath);
      assert.match((error as Error).message, text);
      assert.ok((error as Error).message.startsWith(`static.yaml: ${keyPath}: `));
      return true;
    },
  );
}

describe('validate', () => {
  test('fills defaults', () => {
    assert.deepEqual(validate(schema, { port: 1 }, at), { port: 1, address: '::', no_delay: true, format: 'tskv', workers: 'auto' });
  });

  test('wrong type names the key path, the value and what is allowed', () => {
    fails({ port: 'abc' }, ConfigValueError, `${at.keyPath}.port`, /"abc" is not valid: expected an integer from 0 to 65535/);
  });

  test('out of range', () => {
    fails({ port: 70000 }, ConfigValueError, `${at.keyPath}.port`, /70000 is out of range/);
  });

  test('missing required key', () => {
    fails({}, ConfigMissingKeyError, `${at.keyPath}.port`, /required key is missing/);
  });

  test('unknown key suggests the nearest', () => {
    fails({ port: 1, prot: 2 }, ConfigUnknownKeyError, `${at.keyPath}.prot`, /unknown key; did you mean 'port'\?/);
  });

  test('enum values suggest the nearest', () => {
    fails({ port: 1, format: 'jsno' }, ConfigValueError, `${at.keyPath}.format`, /did you mean 'json'\?/);
  });

  test('list items carry their index', () => {
    fails({ port: 1, tags: ['a', 3] }, ConfigValueError, `${at.keyPath}.tags.1`, /expected a string/);
  });

  test('oneOf lists every variant', () => {
    assert.equal((validate(schema, { port: 1, workers: 4 }, at) as { workers: unknown }).workers, 4);
    fails({ port: 1, workers: 'many' }, ConfigValueError, `${at.keyPath}.workers`, /an integer >= 1, or one of auto/);
  });
});
