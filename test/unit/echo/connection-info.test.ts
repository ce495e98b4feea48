/** Address normalization and the OS-error wording used in listen errors. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { networkTypeOf, normalizeAddress } from '../../../src/echo/connection-info.js';
import { describeSystemError, formatAddress } from '../../../src/net/listen.js';

test('IPv4-mapped IPv6 addresses are shown as IPv4; others are kept', () => {
  assert.equal(normalizeAddress('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(normalizeAddress('::FFFF:10.1.2.3'), '10.1.2.3');
  assert.equal(normalizeAddress('::1'), '::1');
  assert.equal(normalizeAddress('::ffff:abcd:1'), '::ffff:abcd:1');
  assert.equal(normalizeAddress('192.168.0.1'), '192.168.0.1');
  assert.equal(normalizeAddress(undefined), undefined);
});

test('network type follows the normalized address', () => {
  assert.equal(networkTypeOf('127.0.0.1'), 'ipv4');
  assert.equal(networkTypeOf('::1'), 'ipv6');
  assert.equal(networkTypeOf(undefined), undefined);
});

test('addresses with a port: IPv6 in brackets', () => {
  assert.equal(formatAddress('127.0.0.1', 8181), '127.0.0.1:8181');
  assert.equal(formatAddress('::', 8181), '[::]:8181');
});

test('system errors are described in words with their code', () => {
  const inUse = Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE', errno: -98 });
  assert.equal(describeSystemError(inUse), 'address already in use (EADDRINUSE)');
  const denied = Object.assign(new Error('listen EACCES'), { code: 'EACCES', errno: -13 });
  assert.equal(describeSystemError(denied), 'permission denied (EACCES)');
  assert.equal(describeSystemError(Object.assign(new Error('odd'), { code: 'EODD' })), 'odd (EODD)');
  assert.equal(describeSystemError(new Error('plain')), 'plain');
});
