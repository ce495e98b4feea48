/**
 * The kernel's TCP memory, as Linux accounts it for every TCP socket of the machine together.
 * Above `tcp_mem`'s pressure threshold Linux shrinks windows and drops arriving segments; a dropped
 * segment is retransmitted after an RTO that doubles each time (up to 120 s), so a test that fills
 * the kernel's buffers past it sees a connection stall for tens of seconds, whatever the service
 * does. Tests that park data in the kernel budget for it here.
 */
import { readFileSync } from 'node:fs';

/** Linux counts TCP memory in pages of this size (x86-64 and arm64 defaults). */
const PAGE_BYTES = 4096;

/** `net.ipv4.tcp_mem`'s pressure threshold in bytes (its second field); undefined off Linux. */
export function tcpMemoryPressureBytes(): number | undefined {
  try {
    const pages = Number(readFileSync('/proc/sys/net/ipv4/tcp_mem', 'utf8').trim().split(/\s+/)[1]);
    return Number.isFinite(pages) && pages > 0 ? pages * PAGE_BYTES : undefined;
  } catch {
    return undefined;
  }
}

/** Bytes every TCP socket of the machine holds in the kernel now (`/proc/net/sockstat`'s `mem`). */
export function tcpMemoryInUseBytes(): number | undefined {
  try {
    const line = readFileSync('/proc/net/sockstat', 'utf8').split('\n').find((l) => l.startsWith('TCP:'));
    const pages = Number(/\bmem (\d+)/.exec(line ?? '')?.[1]);
    return Number.isFinite(pages) ? pages * PAGE_BYTES : undefined;
  } catch {
    return undefined;
  }
}
