/**
 * PROXY protocol headers as a balancer sends them (HAProxy's proxy-protocol.txt), written here
 * byte by byte from the spec, independently of the service's parser.
 */
import { isIPv4 } from 'node:net';

/** The v2 signature: `\r\n\r\n\0\r\nQUIT\n`. */
export const V2_SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

/** `PROXY TCP4 src dst sport dport\r\n` (or TCP6). */
export function proxyV1(source: string, sourcePort: number, destination: string, destinationPort: number): Buffer {
  const family = isIPv4(source) ? 'TCP4' : 'TCP6';
  return Buffer.from(`PROXY ${family} ${source} ${destination} ${sourcePort} ${destinationPort}\r\n`, 'latin1');
}

/** `PROXY UNKNOWN ...\r\n`: the balancer could not tell (the receiver uses the socket's addresses). */
export function proxyV1Unknown(rest = ''): Buffer {
  return Buffer.from(`PROXY UNKNOWN${rest}\r\n`, 'latin1');
}

/** One v2 TLV. */
export interface Tlv {
  type: number;
  value: Buffer;
}

export interface V2Options {
  command?: 'proxy' | 'local';
  source?: { address: string; port: number };
  destination?: { address: string; port: number };
  tlvs?: Tlv[];
  /** Override the family/transport byte (e.g. 0x00 UNSPEC). */
  familyByte?: number;
}

/** A v2 header: signature, version 2 + command, family/transport, length, addresses, TLVs. */
export function proxyV2(options: V2Options = {}): Buffer {
  const command = options.command === 'local' ? 0x20 : 0x21;
  const source = options.source;
  const destination = options.destination ?? { address: source && !isIPv4(source.address) ? '::1' : '127.0.0.1', port: 8181 };
  let familyByte = 0x00;
  let addresses = Buffer.alloc(0);
  if (source) {
    if (isIPv4(source.address)) {
      familyByte = 0x11;
      addresses = Buffer.alloc(12);
      ipv4Bytes(source.address).copy(addresses, 0);
      ipv4Bytes(destination.address).copy(addresses, 4);
      addresses.writeUInt16BE(source.port, 8);
      addresses.writeUInt16BE(destination.port, 10);
    } else {
      familyByte = 0x21;
      addresses = Buffer.alloc(36);
      ipv6Bytes(source.address).copy(addresses, 0);
      ipv6Bytes(destination.address).copy(addresses, 16);
      addresses.writeUInt16BE(source.port, 32);
      addresses.writeUInt16BE(destination.port, 34);
    }
  }
  if (options.familyByte !== undefined) familyByte = options.familyByte;
  const tlvs = (options.tlvs ?? []).map(({ type, value }) => {
    const head = Buffer.alloc(3);
    head[0] = type;
    head.writeUInt16BE(value.length, 1);
    return Buffer.concat([head, value]);
  });
  const body = Buffer.concat([addresses, ...tlvs]);
  const fixed = Buffer.alloc(4);
  fixed[0] = command;
  fixed[1] = familyByte;
  fixed.writeUInt16BE(body.length, 2);
  return Buffer.concat([V2_SIGNATURE, fixed, body]);
}

function ipv4Bytes(address: string): Buffer {
  return Buffer.from(address.split('.').map(Number));
}

function ipv6Bytes(address: string): Buffer {
  const [head = '', tail] = address.split('::') as [string, string | undefined];
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...tailGroups];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}
