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

test('only a mapped dotted quad is unwrapped: the same answers as the regular expression it replaced', () => {
  const reference = (a: string): string => /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i.exec(a)?.[1] ?? a;
  const cases = [
    '::ffff:1.2.3.4', '::fFfF:255.255.255.255', '::ffff:1.2.3', '::ffff:1.2.3.4.5', '::ffff:1..3.4', '::ffff:.1.2.3',
    '::ffff:1.2.3.', '::ffff:1234.1.1.1', '::ffff:', '::ffff:a.b.c.d', ':ffff:1.2.3.4', '::fffe:1.2.3.4', '::ffff::1.2.3.4',
    '::ffff:1.2.3.4 ', 'x::ffff:1.2.3.4', '::ffff:001.002.003.004', '::ffgf:1.2.3.4', 'fe80::1', '',
  ];
  for (const address of cases) assert.equal(normalizeAddress(address), reference(address), address);
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
