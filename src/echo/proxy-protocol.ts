/**
 * The PROXY protocol header (HAProxy's spec, versions 1 and 2) as a pure parser: bytes in, a
 * verdict out. A TCP load balancer that sends it puts one header before the client's first byte,
 * naming the original client and the address it connected to; the echo reads it, never echoes it,
 * and reports the client on the connection's span and log lines.
 *
 * Spec: https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt
 */
import { isIPv4, isIPv6 } from 'node:net';

/** Version 1 starts with these 6 bytes; a v1 header is one line of at most 107 bytes with its CRLF. */
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** The spec's bound on a version 1 line, CRLF included. */
export const PROXY_V1_MAX_BYTES = 107;
/** Version 2's 12-byte signature (`\r\n\r\n\0\r\nQUIT\n`), chosen to never start a valid request. */
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** Signature, version/command, family/transport, 2-byte length. */
const V2_FIXED_BYTES = 16;
/** Address block sizes by v2 family: INET (4+4+2+2), INET6 (16+16+2+2), UNIX (108+108). */
const V2_ADDRESS_BYTES = { inet: 12, inet6: 36, unix: 216 } as const;

/** One endpoint named by the header. */
export interface ProxyEndpoint {
  readonly address: string;
  readonly port: number;
}

/** A Type-Length-Value record of a v2 header (e.g. 0x01 ALPN, 0x02 authority, 0xEA AWS VPC endpoint). */
export interface ProxyTlv {
  readonly type: number;
  readonly value: Buffer;
}

/** What a complete header says. */
export interface ProxyHeader {
  readonly version: 1 | 2;
  /**
   * `proxy`: relayed for a client, `source` and `destination` name it when the family is TCP.
   * `local`: the balancer speaks for itself (v2 LOCAL, e.g. a health check): the socket's own
   * addresses stand.
   */
  readonly command: 'proxy' | 'local';
  /** `tcp4`/`tcp6` carry addresses; `unknown` (v1 UNKNOWN, v2 UNSPEC), `unix` and datagram families do not here. */
  readonly family: 'tcp4' | 'tcp6' | 'unknown' | 'unix' | 'udp4' | 'udp6';
  /** The original client; only for `proxy` with a TCP family. */
  readonly source: ProxyEndpoint | undefined;
  /** The address the client connected to (the balancer's front); only for `proxy` with a TCP family. */
  readonly destination: ProxyEndpoint | undefined;
  /** v2 TLVs, in order (empty for v1). */
  readonly tlvs: readonly ProxyTlv[];
}

/** Why a connection's header was refused: each is its own close reason. */
export type ProxyHeaderProblem = 'missing' | 'malformed' | 'oversized';

/** The parser's verdict on the bytes received so far. */
export type ProxyParseResult =
  /** Every byte so far can still start a valid header: wait for more. */
  | { readonly state: 'incomplete' }
  /** A complete header of `length` bytes; whatever follows it is the client's data. */
  | { readonly state: 'complete'; readonly header: ProxyHeader; readonly length: number }
  /** No valid header can come of these bytes. */
  | { readonly state: 'invalid'; readonly problem: ProxyHeaderProblem; readonly detail: string };

const INCOMPLETE: ProxyParseResult = Object.freeze({ state: 'incomplete' });

function invalid(problem: ProxyHeaderProblem, detail: string): ProxyParseResult {
  return { state: 'invalid', problem, detail };
}

/** True when the first `length` bytes of `data` agree with `signature`. */
function startsLike(data: Buffer, signature: Buffer): boolean {
  const n = Math.min(data.length, signature.length);
  return data.compare(signature, 0, n, 0, n) === 0;
}

/**
 * Parses a PROXY header at the start of `data` (everything received on the connection so far).
 * `maxBytes` bounds a v2 header (16 fixed bytes + address block + TLVs); a v1 line is bounded by
 * the spec's 107 bytes. Bytes that start neither signature are `missing`; a started header that
 * breaks the spec is `malformed`; one longer than allowed is `oversized`.
 */
export function parseProxyHeader(data: Buffer, maxBytes: number): ProxyParseResult {
  if (data.length === 0) return INCOMPLETE;
  if (data[0] === V1_PREFIX[0]) {
    return startsLike(data, V1_PREFIX) ? parseV1(data) : invalid('missing', 'no PROXY protocol signature');
  }
  if (data[0] === V2_SIGNATURE[0]) {
    return startsLike(data, V2_SIGNATURE) ? parseV2(data, maxBytes) : invalid('missing', 'no PROXY protocol signature');
  }
  return invalid('missing', 'no PROXY protocol signature');
}

function parseV1(data: Buffer): ProxyParseResult {
  if (data.length < V1_PREFIX.length) return INCOMPLETE;
  const end = data.indexOf('\r\n', 0, 'latin1');
  if (end < 0 || end + 2 > PROXY_V1_MAX_BYTES) {
    // Fail fast on bytes no v1 line may hold, rather than waiting for 107 of them.
    const scanned = Math.min(data.length, PROXY_V1_MAX_BYTES);
    for (let i = V1_PREFIX.length; i < scanned; i++) {
      const byte = data[i] as number;
      // A CR may only be the last byte so far: its LF may follow.
      if ((byte < 0x20 || byte > 0x7e) && !(byte === 0x0d && i === data.length - 1)) return invalid('malformed', 'v1 header holds a byte that is not printable ASCII');
    }
    if (data.length < PROXY_V1_MAX_BYTES) return INCOMPLETE;
    return invalid('oversized', `v1 header has no CRLF within ${PROXY_V1_MAX_BYTES} bytes`);
  }
  const line = data.toString('latin1', V1_PREFIX.length, end);
  const fields = line.split(' ');
  const family = fields[0];
  const length = end + 2;
  if (family === 'UNKNOWN') {
    // The spec lets the sender put anything after UNKNOWN; the receiver ignores it.
    return { state: 'complete', length, header: v1Header('unknown', undefined, undefined) };
  }
  if (family !== 'TCP4' && family !== 'TCP6') return invalid('malformed', `v1 header has unknown protocol "${clip(family)}"`);
  if (fields.length !== 5) return invalid('malformed', `v1 ${family} header needs 4 fields after the protocol, has ${fields.length - 1}`);
  const [, sourceAddress, destinationAddress, sourcePort, destinationPort] = fields as [string, string, string, string, string];
  const isAddress = family === 'TCP4' ? isIPv4 : isIPv6;
  if (!isAddress(sourceAddress) || !isAddress(destinationAddress)) {
    return invalid('malformed', `v1 ${family} header has an address that is not ${family === 'TCP4' ? 'IPv4' : 'IPv6'}`);
  }
  const source = v1Port(sourcePort);
  const destination = v1Port(destinationPort);
  if (source === undefined || destination === undefined) return invalid('malformed', `v1 ${family} header has a port outside 0..65535`);
  return {
    state: 'complete',
    length,
    header: v1Header(
      family === 'TCP4' ? 'tcp4' : 'tcp6',
      { address: sourceAddress, port: source },
      { address: destinationAddress, port: destination },
    ),
  };
}

function v1Header(family: 'tcp4' | 'tcp6' | 'unknown', source: ProxyEndpoint | undefined, destination: ProxyEndpoint | undefined): ProxyHeader {
  return { version: 1, command: 'proxy', family, source, destination, tlvs: [] };
}

/** A v1 port: 1-5 decimal digits, no leading zero (the spec's form), at most 65535. */
function v1Port(text: string): number | undefined {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

function parseV2(data: Buffer, maxBytes: number): ProxyParseResult {
  if (data.length < V2_FIXED_BYTES) return INCOMPLETE;
  const versionCommand = data[12] as number;
  const familyTransport = data[13] as number;
  const bodyLength = data.readUInt16BE(14);
  const length = V2_FIXED_BYTES + bodyLength;
  if (versionCommand >> 4 !== 2) return invalid('malformed', `v2 header has version ${versionCommand >> 4}, not 2`);
  const command = versionCommand & 0x0f;
  if (command > 1) return invalid('malformed', `v2 header has unknown command ${command}`);
  // Checked before waiting for the body: a too-long header is refused as soon as its length is known.
  if (length > maxBytes) return invalid('oversized', `v2 header of ${length} bytes exceeds max_header_size (${maxBytes})`);
  const addressFamily = familyTransport >> 4;
  const transport = familyTransport & 0x0f;
  if (addressFamily > 3 || transport > 2) return invalid('malformed', `v2 header has unknown family/transport 0x${familyTransport.toString(16)}`);
  if (data.length < length) return INCOMPLETE;

  const family = v2Family(addressFamily, transport);
  const addressBytes =
    addressFamily === 1 ? V2_ADDRESS_BYTES.inet : addressFamily === 2 ? V2_ADDRESS_BYTES.inet6 : addressFamily === 3 ? V2_ADDRESS_BYTES.unix : 0;
  // LOCAL may carry any address block (or none) and the receiver ignores it; PROXY must fit its family's.
  if (command === 1 && bodyLength < addressBytes) {
    return invalid('malformed', `v2 header is ${bodyLength} bytes after the fixed part, too short for its ${addressBytes}-byte address block`);
  }
  const tlvStart = V2_FIXED_BYTES + (bodyLength >= addressBytes ? addressBytes : bodyLength);
  const tlvs = parseTlvs(data, tlvStart, length);
  if (tlvs === undefined) return invalid('malformed', 'v2 header TLVs do not add up to its length');
  const crc = tlvs.find((tlv) => tlv.type === PP2_TYPE_CRC32C);
  if (crc !== undefined && !crcMatches(data.subarray(0, length), crc.value, tlvStart)) {
    return invalid('malformed', 'v2 header CRC32C does not match');
  }

  if (command === 0) {
    return { state: 'complete', length, header: { version: 2, command: 'local', family, source: undefined, destination: undefined, tlvs } };
  }
  let source: ProxyEndpoint | undefined;
  let destination: ProxyEndpoint | undefined;
  if (family === 'tcp4') {
    source = { address: ipv4(data, 16), port: data.readUInt16BE(24) };
    destination = { address: ipv4(data, 20), port: data.readUInt16BE(26) };
  } else if (family === 'tcp6') {
    source = { address: ipv6(data, 16), port: data.readUInt16BE(48) };
    destination = { address: ipv6(data, 32), port: data.readUInt16BE(50) };
  }
  return { state: 'complete', length, header: { version: 2, command: 'proxy', family, source, destination, tlvs } };
}

/** PP2_TYPE_CRC32C: a CRC32c of the whole header, computed with this TLV's value as zeros. */
const PP2_TYPE_CRC32C = 0x03;

/** True when the 4-byte `expected` is the CRC32c of `header` with the CRC TLV's value zeroed. */
function crcMatches(header: Buffer, expected: Buffer, tlvStart: number): boolean {
  if (expected.length !== 4) return false;
  const copy = Buffer.from(header);
  // Find the CRC TLV again in the copy to zero its value.
  for (let at = tlvStart; at + 3 <= copy.length; ) {
    const valueLength = copy.readUInt16BE(at + 1);
    if (copy[at] === PP2_TYPE_CRC32C) {
      copy.fill(0, at + 3, at + 3 + valueLength);
      break;
    }
    at += 3 + valueLength;
  }
  return crc32c(copy) === expected.readUInt32BE(0);
}

let CRC32C_TABLE: Uint32Array | undefined;

/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as the spec's PP2_TYPE_CRC32C uses. */
export function crc32c(data: Uint8Array): number {
  const table = (CRC32C_TABLE ??= buildCrc32cTable());
  let crc = 0xffffffff;
  for (const byte of data) crc = (table[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function buildCrc32cTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

function v2Family(addressFamily: number, transport: number): ProxyHeader['family'] {
  if (addressFamily === 0 || transport === 0) return 'unknown';
  if (addressFamily === 3) return 'unix';
  const v6 = addressFamily === 2;
  if (transport === 2) return v6 ? 'udp6' : 'udp4';
  return v6 ? 'tcp6' : 'tcp4';
}

/** TLVs from `start` to `end`, or undefined when one runs past the end. */
function parseTlvs(data: Buffer, start: number, end: number): ProxyTlv[] | undefined {
  const tlvs: ProxyTlv[] = [];
  let at = start;
  while (at < end) {
    if (at + 3 > end) return undefined;
    const type = data[at] as number;
    const valueLength = data.readUInt16BE(at + 1);
    const valueEnd = at + 3 + valueLength;
    if (valueEnd > end) return undefined;
    // A copy: the received chunk goes on to the echo and must not be kept alive by a TLV.
    tlvs.push({ type, value: Buffer.from(data.subarray(at + 3, valueEnd)) });
    at = valueEnd;
  }
  return tlvs;
}

function ipv4(data: Buffer, at: number): string {
  return `${data[at]}.${data[at + 1]}.${data[at + 2]}.${data[at + 3]}`;
}

/** An IPv6 address in the compressed form OpenTelemetry and `net` use (`2001:db8::1`). */
function ipv6(data: Buffer, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(data.readUInt16BE(at + i * 2));
  // The longest run of two or more zero groups becomes `::` (RFC 5952).
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLength).join(':');
  const text = `${head}::${tail}`;
  // An IPv4-mapped address reads best as ::ffff:a.b.c.d, as Node reports it.
  if (bestStart === 0 && bestLength === 5 && groups[5] === 0xffff) return `::ffff:${ipv4(data, at + 12)}`;
  return text;
}

/** A bounded, printable excerpt of untrusted text for an error detail. */
function clip(text: string | undefined): string {
  const shown = (text ?? '').slice(0, 16);
  return shown.replace(/[^\x20-\x7e]/g, '?');
}
