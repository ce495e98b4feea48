import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { editDistance, nearest } from '../../../src/config/nearest.js';

describe('nearest', () => {
  test('edit distance', () => {
    assert.equal(editDistance('', ''), 0);
    assert.equal(editDistance('port', 'port'), 0);
    assert.equal(editDistance('prot', 'port'), 2);
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('', 'abc'), 3);
  });

  test('suggests the closest key for a typo', () => {
    assert.equal(nearest('prot', ['port', 'address', 'backlog']), 'port');
    assert.equal(nearest('adress', ['port', 'address', 'backlog']), 'address');
    assert.equal(nearest('tcp_echo', ['tcp-echo', 'tracer']), 'tcp-echo');
    assert.equal(nearest('Port', ['port']), 'port');
  });

  test('says nothing when nothing is close', () => {
    assert.equal(nearest('completely-different', ['port', 'address']), undefined);
    assert.equal(nearest('x', []), undefined);
  });
});
