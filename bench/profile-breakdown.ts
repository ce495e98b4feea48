/**
 * Where each microsecond of a connection goes: attributes a server's V8 CPU profile (`npm run bench --
 * --profile MODE`) to the steps of the per-connection path (accept, connection info, listeners,
 * logger child and log lines, span construction, OTLP encoding, export HTTP, histogram record,
 * metrics scrape, GC, Node's own socket work) and divides by the connections the server handled.
 *
 * A sample goes to the innermost frame of its stack that names a step, so a step's figure includes
 * the Node.js and OpenTelemetry code it calls (span construction includes the SDK's Span, the
 * batch queue's onEnd; OTLP encoding the transformer). Start-up (module loading) and idle time
 * are left out.
 *
 * Usage: `npx tsx bench/profile-breakdown.ts FILE.cpuprofile CONNECTIONS [FILE2 CONNECTIONS2 ...]`
 * prints one column per profile (µs of main-thread CPU per connection).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The steps, in the order of a connection's life. */
export const STEPS = [
  'accept (Node: onconnection, Socket)',
  'connection info (addresses, fd)',
  'listeners, pipe, connection bookkeeping',
  'logger child (bound trace_id/span_id/fd)',
  'two log lines (encode, queue, write)',
  'span ids and sampling at accept',
  'span construction (SDK spans, batch queue)',
  'OTLP encoding',
  'export HTTP (client, agent, parser)',
  'histogram record and close bookkeeping',
  'metrics scrape (/metrics)',
  'GC',
  'socket I/O, close, timers (Node, as in the bare echo)',
  'start-up and other',
] as const;
export type Step = (typeof STEPS)[number];

/** The step one frame names, if any. */
export function stepOf(functionName: string, url: string): Step | undefined {
  if (functionName === '(garbage collector)') return 'GC';
  const ours = /\/dist\/(.+)\.js$/.exec(url)?.[1];
  if (ours !== undefined) {
    if (ours === 'echo/connection-info') return 'connection info (addresses, fd)';
    if (ours.startsWith('log/')) {
      return functionName === 'child' || functionName === 'flatten' ? 'logger child (bound trace_id/span_id/fd)' : 'two log lines (encode, queue, write)';
    }
    if (ours === 'telemetry/tracing/connection-span-serializer' || ours === 'telemetry/tracing/connection-span-protobuf') return 'OTLP encoding';
    if (ours === 'telemetry/tracing/connection-span-exporter') return 'export HTTP (client, agent, parser)';
    if (ours === 'telemetry/tracing/otel-connection-tracer' || ours.startsWith('telemetry/tracing/fast')) {
      if (functionName === 'start' || functionName === 'generateTraceId' || functionName === 'generateSpanId') return 'span ids and sampling at accept';
      if (/encode|serialize/i.test(functionName)) return 'OTLP encoding';
      if (/export|send|post/i.test(functionName)) return 'export HTTP (client, agent, parser)';
      return 'span construction (SDK spans, batch queue)';
    }
    if (ours === 'echo/connection') {
      return functionName === 'handleClose' ? 'histogram record and close bookkeeping' : 'listeners, pipe, connection bookkeeping';
    }
    if (ours === 'echo/echo-component' && functionName === 'onConnection') return 'listeners, pipe, connection bookkeeping';
    if (ours.startsWith('monitor/') || ours === 'telemetry/statistics-storage') return 'metrics scrape (/metrics)';
    if (ours === 'echo/stats' || ours === 'echo/echo-instruments' || ours.startsWith('telemetry/metrics/')) return 'histogram record and close bookkeeping';
  }
  if (url.includes('/@opentelemetry/otlp-transformer/')) return 'OTLP encoding';
  if (url.includes('/@opentelemetry/otlp-exporter-base/') || url.includes('/@opentelemetry/exporter-trace-otlp')) return 'export HTTP (client, agent, parser)';
  if (url.includes('/@opentelemetry/exporter-prometheus/')) return 'metrics scrape (/metrics)';
  if (url === 'node:_http_client' || url === 'node:_http_agent') return 'export HTTP (client, agent, parser)';
  if (url === 'node:_http_server') return 'metrics scrape (/metrics)';
  if (functionName === 'onconnection' && url === 'node:net') return 'accept (Node: onconnection, Socket)';
  return undefined;
}

/** µs of CPU per connection for each step, and the busy total. */
export function breakdown(profile: CpuProfile, connections: number): Map<Step, number> {
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const memo = new Map<number, Step | null>();
  const stepOfNode = (id: number): Step | null => {
    const known = memo.get(id);
    if (known !== undefined) return known;
    const node = byId.get(id)!;
    const own = stepOf(node.callFrame.functionName, node.callFrame.url);
    const up = parent.get(id);
    const step = own ?? (up === undefined ? null : stepOfNode(up));
    memo.set(id, step);
    return step;
  };
  const totals = new Map<Step, number>(STEPS.map((s) => [s, 0]));
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!)!;
    const name = node.callFrame.functionName;
    if (name === '(idle)' || name === '(root)') continue;
    const us = profile.timeDeltas[i] ?? 0;
    let step = stepOfNode(node.id);
    if (step === null) {
      const url = node.callFrame.url;
      // Unattributed Node.js work (socket reads/writes, close, timers, native writes) is what the bare echo does too.
      step =
        url.startsWith('node:') || (url === '' && name !== '(program)' && !/compile|Module|realpath|Stat|readFile/i.test(name))
          ? 'socket I/O, close, timers (Node, as in the bare echo)'
          : 'start-up and other';
      if (url.startsWith('node:internal/modules') || url.startsWith('node:internal/bootstrap')) step = 'start-up and other';
    }
    totals.set(step, totals.get(step)! + us);
  }
  for (const [step, us] of totals) totals.set(step, us / connections);
  return totals;
}

/** A Markdown table: one row per step, one column per profile. */
export function renderBreakdown(columns: { label: string; steps: Map<Step, number> }[]): string {
  const lines = [`| step | ${columns.map((c) => c.label).join(' | ')} |`, `|---|${columns.map(() => '---:').join('|')}|`];
  for (const step of STEPS) lines.push(`| ${step} | ${columns.map((c) => c.steps.get(step)!.toFixed(1)).join(' | ')} |`);
  const total = (c: { steps: Map<Step, number> }): number => [...c.steps].filter(([s]) => s !== 'start-up and other').reduce((a, [, v]) => a + v, 0);
  lines.push(`| **per connection (start-up excluded)** | ${columns.map((c) => `**${total(c).toFixed(1)}**`).join(' | ')} |`);
  return lines.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args.length < 2 || args.length % 2 !== 0) {
    process.stderr.write('usage: profile-breakdown.ts FILE.cpuprofile CONNECTIONS [FILE CONNECTIONS ...]\n');
    process.exit(2);
  }
  const columns = [];
  for (let i = 0; i < args.length; i += 2) {
    const file = args[i]!;
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    columns.push({ label: path.basename(file, '.cpuprofile'), steps: breakdown(profile, Number(args[i + 1])) });
  }
  process.stdout.write(`${renderBreakdown(columns)}\n`);
}
