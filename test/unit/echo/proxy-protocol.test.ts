/** The PROXY protocol parser (v1 and v2) on headers built from the spec, whole and byte by byte. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32c, parseProxyHeader, PROXY_V1_MAX_BYTES, type ProxyParseResult } from '../../../src/echo/proxy-protocol.js';
import { proxyV1, proxyV1Unknown, proxyV2, V2_SIGNATURE } from '../../helpers/proxy-header.js';

const MAX = 4096;

function complete(result: ProxyParseResult) {
  assert.equal(result.state, 'complete', JSON.stringify(result));
  return result as Extract<ProxyParseResult, { state: 'complete' }>;
}

function problem(result: ProxyParseResult): string {
  assert.equal(result.state, 'invalid', JSON.stringify(result));
  return (result as Extract<ProxyParseResult, { state: 'invalid' }>).problem;
}

/** Every proper prefix is incomplete, and the whole is what `parseProxyHeader` says of it. */
function byteByByte(header: Buffer): ProxyParseResult {
  for (let n = 0; n < header.length; n++) {
    assert.equal(parseProxyHeader(header.subarray(0, n), MAX).state, 'incomplete', `prefix of ${n} bytes`);
  }
  return parseProxyHeader(header, MAX);
}

test('v1 TCP4: client and destination, length, bytes after the header are not part of it', () => {
  const header = proxyV1('203.0.113.7', 51234, '10.0.0.5', 8181);
  const { header: parsed, length } = complete(byteByByte(header));
  assert.equal(length, header.length);
  assert.deepEqual(parsed, {
    version: 1,
    command: 'proxy',
    family: 'tcp4',
    source: { address: '203.0.113.7', port: 51234 },
    destination: { address: '10.0.0.5', port: 8181 },
    tlvs: [],
  });
  const withData = complete(parseProxyHeader(Buffer.concat([header, Buffer.from('hello\r\n')]), MAX));
  assert.equal(withData.length, header.length);
});

test('v1 TCP6 and UNKNOWN', () => {
  const v6 = complete(byteByByte(proxyV1('2001:db8::7', 443, '2001:db8::1', 8181))).header;
  assert.equal(v6.family, 'tcp6');
  assert.deepEqual(v6.source, { address: '2001:db8::7', port: 443 });
  const unknown = complete(byteByByte(proxyV1Unknown())).header;
  assert.equal(unknown.family, 'unknown');
  assert.equal(unknown.source, undefined);
  // The spec lets a sender put anything after UNKNOWN.
  assert.equal(complete(parseProxyHeader(proxyV1Unknown(' ffff:f...f:ffff 0 0'), MAX)).header.family, 'unknown');
});

test('v1 malformed headers are refused as malformed', () => {
  const cases = [
    'PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n',
    'PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n',
    'PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n',
    'PROXY TCP4 1.2.3.400 5.6.7.8 1 2\r\n',
    'PROXY TCP4 ::1 ::1 1 2\r\n',
    'PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n',
    'PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n',
    'PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n',
    'PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n',
  ];
  for (const text of cases) assert.equal(problem(parseProxyHeader(Buffer.from(text, 'latin1'), MAX)), 'malformed', text);
  // A non-printable byte fails at once, without waiting for 107 bytes.
  assert.equal(problem(parseProxyHeader(Buffer.from('PROXY TCP4 \x00', 'latin1'), MAX)), 'malformed');
});

test('v1 without CRLF within 107 bytes is oversized; 107 bytes with CRLF is fine', () => {
  const long = Buffer.from('PROXY UNKNOWN ' + 'x'.repeat(200), 'latin1');
  assert.equal(parseProxyHeader(long.subarray(0, PROXY_V1_MAX_BYTES - 1), MAX).state, 'incomplete');
  assert.equal(problem(parseProxyHeader(long.subarray(0, PROXY_V1_MAX_BYTES), MAX)), 'oversized');
  const exact = proxyV1Unknown(' ' + 'x'.repeat(PROXY_V1_MAX_BYTES - 'PROXY UNKNOWN \r\n'.length));
  assert.equal(exact.length, PROXY_V1_MAX_BYTES);
  assert.equal(complete(parseProxyHeader(exact, MAX)).length, PROXY_V1_MAX_BYTES);
});

test('bytes that start neither signature are a missing header, as soon as they diverge', () => {
  assert.equal(problem(parseProxyHeader(Buffer.from('GET / HTTP/1.1\r\n'), MAX)), 'missing');
  assert.equal(problem(parseProxyHeader(Buffer.from('hello'), MAX)), 'missing');
  assert.equal(problem(parseProxyHeader(Buffer.from('PROXZ'), MAX)), 'missing');
  assert.equal(problem(parseProxyHeader(Buffer.from('\r\n\r\nX'), MAX)), 'missing');
  assert.equal(parseProxyHeader(Buffer.from('PROX'), MAX).state, 'incomplete');
  assert.equal(parseProxyHeader(V2_SIGNATURE.subarray(0, 7), MAX).state, 'incomplete');
  assert.equal(parseProxyHeader(Buffer.alloc(0), MAX).state, 'incomplete');
});

test('v2 PROXY over TCP4 and TCP6 with TLVs, byte by byte', () => {
  const tlvs = [
    { type: 0x02, value: Buffer.from('echo.example.com') },
    { type: 0xea, value: Buffer.from([0x01, ...Buffer.from('vpce-0123')]) },
    { type: 0x04, value: Buffer.alloc(5) },
  ];
  const v4 = proxyV2({ source: { address: '198.51.100.9', port: 40000 }, destination: { address: '10.1.2.3', port: 8181 }, tlvs });
  const parsed = complete(byteByByte(v4));
  assert.equal(parsed.length, v4.length);
  assert.equal(parsed.header.version, 2);
  assert.equal(parsed.header.command, 'proxy');
  assert.equal(parsed.header.family, 'tcp4');
  assert.deepEqual(parsed.header.source, { address: '198.51.100.9', port: 40000 });
  assert.deepEqual(parsed.header.destination, { address: '10.1.2.3', port: 8181 });
  assert.deepEqual(
    parsed.header.tlvs.map((t) => [t.type, t.value.toString('hex')]),
    tlvs.map((t) => [t.type, t.value.toString('hex')]),
  );

  const v6 = complete(byteByByte(proxyV2({ source: { address: '2001:db8:0:0:1::42', port: 1 }, destination: { address: '::1', port: 2 } })));
  assert.equal(v6.header.family, 'tcp6');
  assert.deepEqual(v6.header.source, { address: '2001:db8::1:0:0:42', port: 1 });
  assert.deepEqual(v6.header.destination, { address: '::1', port: 2 });
  const mapped = complete(parseProxyHeader(proxyV2({ source: { address: '::ffff:c000:0201', port: 7 } }), MAX));
  assert.equal(mapped.header.source?.address, '::ffff:192.0.2.1');
});

test('v2 LOCAL (with or without addresses) and UNSPEC carry no client', () => {
  const bare = complete(byteByByte(proxyV2({ command: 'local' })));
  assert.equal(bare.header.command, 'local');
  assert.equal(bare.header.source, undefined);
  const withAddresses = complete(parseProxyHeader(proxyV2({ command: 'local', source: { address: '1.2.3.4', port: 5 } }), MAX));
  assert.equal(withAddresses.header.command, 'local');
  assert.equal(withAddresses.header.source, undefined);
  const unspec = complete(parseProxyHeader(proxyV2({ familyByte: 0x00 }), MAX));
  assert.equal(unspec.header.family, 'unknown');
  assert.equal(unspec.header.source, undefined);
});

test('v2 malformed: version, command, family, short address block, TLV past the end', () => {
  const good = proxyV2({ source: { address: '1.2.3.4', port: 5 } });
  const withByte = (at: number, value: number) => {
    const copy = Buffer.from(good);
    copy[at] = value;
    return copy;
  };
  assert.equal(problem(parseProxyHeader(withByte(12, 0x11), MAX)), 'malformed'); // version 1 in a v2 header
  assert.equal(problem(parseProxyHeader(withByte(12, 0x22), MAX)), 'malformed'); // command 2
  assert.equal(problem(parseProxyHeader(withByte(13, 0x41), MAX)), 'malformed'); // family 4
  assert.equal(problem(parseProxyHeader(withByte(13, 0x13), MAX)), 'malformed'); // transport 3
  assert.equal(problem(parseProxyHeader(withByte(13, 0x21), MAX)), 'malformed'); // INET6 needs 36 bytes, has 12
  const badTlv = proxyV2({ source: { address: '1.2.3.4', port: 5 }, tlvs: [{ type: 1, value: Buffer.from('h2') }] });
  badTlv.writeUInt16BE(100, 16 + 12 + 1); // the TLV claims 100 bytes
  assert.equal(problem(parseProxyHeader(badTlv, MAX)), 'malformed');
});

test('v2 longer than max_header_size is oversized as soon as its length is known', () => {
  const big = proxyV2({ source: { address: '1.2.3.4', port: 5 }, tlvs: [{ type: 0xe0, value: Buffer.alloc(5000) }] });
  assert.equal(problem(parseProxyHeader(big.subarray(0, 16), MAX)), 'oversized');
  assert.equal(complete(parseProxyHeader(big, 8192)).length, big.length);
});

test('v2 CRC32C TLV: a matching checksum is accepted, a wrong one is malformed', () => {
  // The standard check value of CRC-32C.
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  const header = proxyV2({ source: { address: '1.2.3.4', port: 5 }, tlvs: [{ type: 0x03, value: Buffer.alloc(4) }] });
  // The checksum covers the whole header with its own value as zeros (as built above).
  header.writeUInt32BE(crc32c(header), header.length - 4);
  assert.equal(complete(parseProxyHeader(header, MAX)).header.source?.address, '1.2.3.4');
  header[header.length - 1] = (header[header.length - 1] as number) ^ 0xff;
  assert.equal(problem(parseProxyHeader(header, MAX)), 'malformed');
});
