/**
 * Summarises V8 CPU profiles (`node --cpu-prof`, as `npm run bench -- --profile shipped` writes them):
 * self time by area (our code, OpenTelemetry, Node internals, GC, idle) and the top functions.
 * Usage: `npx tsx bench/profile-summary.ts FILE.cpuprofile [FILE...] [--top 25]`
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { numberFlag, parseFlags } from './lib/args.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a function lives, for the per-area totals. */
export function areaOf(url: string, functionName: string): string {
  if (url === '') {
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(program)') return 'V8/native (program)';
    return `native: ${functionName || '(anonymous)'}`;
  }
  if (url.startsWith('node:')) return 'Node.js internals';
  if (url.includes('/@opentelemetry/')) return 'OpenTelemetry';
  // The bench runs the service from its snapshot under node_modules/.cache/tcp-echo-bench/server/dist.
  const ours = /\/(?:tcp-echo-bench\/(?:run-\d+\/)?server\/dist|dist|src)\/([^/]+)/.exec(url);
  if (ours && (/\/tcp-echo-bench\/(?:run-\d+\/)?server\//.test(url) || !url.includes('/node_modules/'))) return `tcp-echo: ${ours[1]}`;
  if (url.includes('/tcp-echo-bench/')) return 'bench';
  if (url.includes('/node_modules/')) return `package: ${url.split('/node_modules/').pop()!.split('/').slice(0, 2).join('/')}`;
  return 'other';
}

/** Self time (ms) per area and per function of one profile. */
export function summarise(profile: CpuProfile): { totalMs: number; areas: Map<string, number>; functions: Map<string, number> } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  let totalMs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    if (!node) continue;
    totalMs += ms;
    const { functionName, url, lineNumber } = node.callFrame;
    const area = areaOf(url, functionName);
    areas.set(area, (areas.get(area) ?? 0) + ms);
    const where = url === '' ? '' : ` ${url.replace(/^file:\/\/.*\/(dist|node_modules)\//, '$1/')}:${lineNumber + 1}`;
    const key = `${functionName || '(anonymous)'}${where}`;
    functions.set(key, (functions.get(key) ?? 0) + ms);
  }
  return { totalMs, areas, functions };
}

/** A text report of one profile. */
export function renderSummary(file: string, profile: CpuProfile, top: number): string {
  const { totalMs, areas, functions } = summarise(profile);
  const busyMs = totalMs - (areas.get('idle') ?? 0);
  const pct = (ms: number): string => `${((ms / Math.max(busyMs, 1e-9)) * 100).toFixed(1).padStart(5)}%`;
  const lines = [`${path.basename(file)}: ${(totalMs / 1000).toFixed(2)} s sampled, ${(busyMs / 1000).toFixed(2)} s busy (percentages of busy)`, '  by area:'];
  for (const [area, ms] of [...areas].filter(([a]) => a !== 'idle').sort((a, b) => b[1] - a[1]).slice(0, 15)) {
    lines.push(`  ${pct(ms)}  ${area}`);
  }
  lines.push('  top functions (self time):');
  for (const [name, ms] of [...functions].filter(([n]) => !n.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`  ${pct(ms)}  ${name}`);
  }
  return lines.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const files = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--top');
  const top = numberFlag(parseFlags(args.filter((a) => !files.includes(a))), 'top', 25, 1);
  if (files.length === 0) {
    process.stderr.write('usage: npx tsx bench/profile-summary.ts FILE.cpuprofile [FILE...] [--top 25]\n');
    process.exitCode = 2;
  }
  for (const file of files) {
    process.stdout.write(`${renderSummary(file, JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, top)}\n\n`);
  }
}
