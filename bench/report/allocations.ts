/**
 * Where a server's allocations come from, per connection, from a V8 sampling heap profile (what
 * bench/alloc-sampler.ts writes). Each sampled byte is charged to the innermost frame on its stack
 * that is code of ours or of a package (the {@link areaOf} areas), so what Node's stream machinery
 * allocates when the echo calls `socket.pipe` is the echo's; bytes with no such frame on the stack
 * (Node's accept, reads, close, timers) are Node's own.
 */
import { areaOf } from '../profile-summary.js';

/** The parts of V8's SamplingHeapProfile this reads. */
export interface HeapProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapProfileNode[];
}

export interface AllocationShares {
  /** Bytes sampled per connection accepted while sampling. */
  bytesPerConnection: number;
  /** Bytes per connection by area ({@link NODE_OWN} for bytes with no frame of ours or a package's). */
  byArea: Map<string, number>;
  /** Bytes per connection by the owning function (`area: file function`). */
  byOwner: Map<string, number>;
}

export const NODE_OWN = 'Node.js (no frame of tcp-echo or a package on the stack)';

/** A frame that owns what is allocated below it: one of ours or a package's, not Node's or V8's. */
function ownerOf(url: string, functionName: string): { area: string; owner: string } | undefined {
  if (url === '' || url.startsWith('node:')) return undefined;
  const area = areaOf(url, functionName);
  if (area === 'other') return undefined;
  const file = area.startsWith('tcp-echo') ? url.replace(/^.*\/dist\//, '') : url.replace(/^.*\/node_modules\//, '');
  return { area, owner: `${area}: ${file} ${functionName || '(anonymous)'}` };
}

/** Charges every sampled byte of `head` to its owner and divides by `connections`. */
export function allocationShares(head: HeapProfileNode, connections: number): AllocationShares {
  const byArea = new Map<string, number>();
  const byOwner = new Map<string, number>();
  let total = 0;
  const walk = (node: HeapProfileNode, area: string, owner: string): void => {
    const own = ownerOf(node.callFrame.url, node.callFrame.functionName);
    if (own !== undefined) ({ area, owner } = own);
    if (node.selfSize > 0) {
      total += node.selfSize;
      byArea.set(area, (byArea.get(area) ?? 0) + node.selfSize);
      byOwner.set(owner, (byOwner.get(owner) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child, area, owner);
  };
  walk(head, NODE_OWN, NODE_OWN);
  const per = (bytes: number): number => bytes / Math.max(connections, 1);
  return {
    bytesPerConnection: per(total),
    byArea: new Map([...byArea].map(([k, v]) => [k, per(v)])),
    byOwner: new Map([...byOwner].map(([k, v]) => [k, per(v)])),
  };
}

/** One table of bytes per connection by area (a column per mode), then each mode's top owners. */
export function renderAllocations(results: ReadonlyMap<string, AllocationShares>, top: number): string {
  const modes = [...results.keys()];
  const areas = [...new Set(modes.flatMap((m) => [...results.get(m)!.byArea.keys()]))];
  const cell = (bytes: number | undefined): string => (bytes === undefined ? '' : Math.round(bytes).toLocaleString('en-US'));
  const lines = ['', `bytes allocated per connection (connection churn, 32 B echoed), by area`, `| area | ${modes.join(' | ')} |`, `|---|${modes.map(() => '---:').join('|')}|`];
  lines.push(`| **all** | ${modes.map((m) => `**${cell(results.get(m)!.bytesPerConnection)}**`).join(' | ')} |`);
  const largest = (area: string): number => Math.max(...modes.map((m) => results.get(m)!.byArea.get(area) ?? 0));
  for (const area of areas.sort((a, b) => largest(b) - largest(a))) {
    lines.push(`| ${area} | ${modes.map((m) => cell(results.get(m)!.byArea.get(area))).join(' | ')} |`);
  }
  for (const mode of modes) {
    lines.push('', `${mode}: the ${top} largest owners, bytes per connection`);
    for (const [owner, bytes] of [...results.get(mode)!.byOwner].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      lines.push(`${cell(bytes).padStart(7)}  ${owner}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
