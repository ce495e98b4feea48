/**
 * Paired A/B runs: two servers measured in the same window on the same core, one native generator
 * each, so both see the same machine. On this shared 2-core VM the same server measured alone
 * costs 35 µs of CPU per connection in one run and 56 in the next (both user and kernel time move
 * together: the machine, not the code), which hides any change below about 20%; measured side by
 * side, the B/A ratio repeats within 2-3% and an A/A pair gives 1.00-1.02. Use it to decide
 * whether a change helps (`--b-main` runs another build as B) or what a layer costs (two modes);
 * `npm run bench` stays the instrument for the absolute figures and the targets.
 *
 * Usage: `npm run bench:pair -- --a bare --b full [--scenario connrate|pingpong|throughput] [--pairs 5]
 *   [--b-main DIR/dist/main.js] [--a-node-flags=F] [--b-node-flags=F] [--a-more-node-flags=F] [--b-more-node-flags=F]
 *   [--loops 8] [--warmup S (connrate 8, else 2)] [--duration 4]`.
 * `--a-more-node-flags` / `--b-more-node-flags` (space-separated, the = form) add `node` flags after
 * that side's own, e.g. a preload; `--a-node-flags` / `--b-node-flags` replace that side's `node` flags
 * (tcp-echo's shipped ones, package.json config.node_flags, or none for the bare echo), so a V8
 * setting's trade-off can be paired. The figure compared is the server's CPU per operation: per connection (connrate), per request (pingpong), per GB (throughput);
 * each side runs half of `npm run bench`'s connections (`--loops` for connrate).
 * Each pair swaps which of the two starts first and which port it gets, so neither has a place
 * advantage. Prints one line per pair and the median ratio.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { GeneratorResult, Scenario } from './generator/protocol.js';
import { numberFlag, parseFlags, stringFlag } from './lib/args.js';
import { buildBench, OUT_DIR, removeBuild, snapshotService } from './lib/build.js';
import { pinSelf, planPinning } from './lib/cpu-pinning.js';
import { buildNativeGenerator } from './lib/native.js';
import { generatorArgs, runGenerator } from './lib/runner.js';
import { MODES, SHIPPED_CONFIG, startServer, startSink, type Mode, type Server } from './lib/servers.js';
import { parseSettings } from './lib/settings.js';
import { median } from './report/figures.js';

function modeFlag(value: string, name: string): Mode {
  if (!(MODES as readonly string[]).includes(value) || value === 'cluster') throw new Error(`--${name}: one of ${MODES.filter((m) => m !== 'cluster').join(', ')}`);
  return value as Mode;
}

/** What each scenario's comparison divides: the server's CPU per operation, and its unit. */
const COST: Partial<Record<Scenario, { unit: string; of: (r: GeneratorResult) => number | undefined; rate: (r: GeneratorResult) => string }>> = {
  connrate: { unit: 'µs/conn', of: (r) => r.cpuUsPerConn, rate: (r) => `${Math.round(r.opsPerSec)} conn/s` },
  pingpong: { unit: 'µs/req', of: (r) => r.cpuUsPerReq, rate: (r) => `${Math.round(r.opsPerSec)} req/s` },
  throughput: { unit: 's/GB', of: (r) => r.cpuPerGB, rate: (r) => `${Math.round(r.mbPerSec)} MB/s` },
};

function flagsText(flags: readonly string[]): string {
  return ` [${flags.length === 0 ? 'no node flags' : flags.join(' ')}]`;
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const a = modeFlag(stringFlag(flags, 'a', 'bare'), 'a');
  const b = modeFlag(stringFlag(flags, 'b', 'full'), 'b');
  const pairs = numberFlag(flags, 'pairs', 5, 1);
  const loops = numberFlag(flags, 'loops', 8, 1);
  const duration = numberFlag(flags, 'duration', 4, 0.5);
  const bMain = flags.get('b-main');
  const listFlagOf = (name: string): string[] | undefined => {
    const given = flags.get(name);
    return typeof given === 'string' ? given.split(/\s+/).filter(Boolean) : undefined;
  };
  const scenario = stringFlag(flags, 'scenario', 'connrate') as Scenario;
  // As in `npm run bench`: connection churn is measured once V8 has compiled the per-connection code.
  const warmup = numberFlag(flags, 'warmup', scenario === 'connrate' ? 8 : 2);
  const cost = COST[scenario];
  if (cost === undefined) throw new Error(`--scenario: one of ${Object.keys(COST).join(', ')}`);
  const pinned = planPinning(false);
  if (!('pinning' in pinned)) throw new Error(`paired runs need the server and the load on separate cores: ${pinned.reason}`);
  const { pinning } = pinned;
  pinSelf(pinning.load);

  const parsed = parseSettings(['--scenarios', scenario, '--connrate-loops', String(loops), '--warmup', String(warmup), '--connrate-warmup', String(warmup), '--duration', String(duration)]);
  if (parsed === undefined) throw new Error('unreachable: no --help given');
  const { settings } = parsed;
  // Each side's node flags as its server gets them: its own (tcp-echo's shipped ones, none for the
  // bare echo) or the replacement given, then the additions. Printed in full, so a replacement
  // that drops a shipped flag shows.
  const sideFlags = (side: 'a' | 'b'): string[] => [
    ...(listFlagOf(`${side}-node-flags`) ?? ((side === 'a' ? a : b) === 'bare' ? [] : settings.serverNodeFlags)),
    ...(listFlagOf(`${side}-more-node-flags`) ?? []),
  ];
  const nodeFlags = { a: sideFlags('a'), b: sideFlags('b') };
  // Two servers share the load of one benchmark run.
  settings.pingpong.connections = Math.max(1, Math.round(settings.pingpong.connections / 2));
  settings.throughput.connections = Math.max(1, Math.round(settings.throughput.connections / 2));
  const benchJs = buildBench();
  const build = buildNativeGenerator(path.join(OUT_DIR, 'native'));
  if (!build.ok) throw new Error(`the native generator is needed: ${build.reason}`);
  const main = snapshotService();
  const mains: Record<'a' | 'b', string> = { a: main, b: typeof bMain === 'string' ? path.resolve(bMain) : main };
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'tcp-echo-pair-'));
  const shippedConfig = path.join(workDir, 'static_config.yaml');
  copyFileSync(SHIPPED_CONFIG, shippedConfig);
  const sink = await startSink(benchJs, workDir, pinning.load);
  const ratios: number[] = [];
  const costs: Record<'a' | 'b', number[]> = { a: [], b: [] };
  process.stdout.write(`paired ${scenario}, ${scenario === 'connrate' ? `${loops} loops` : `${settings[scenario].connections} connections`} each, ${warmup} s warm-up, ${duration} s window; B = ${b}${typeof bMain === 'string' ? ` (${bMain})` : ''}${flagsText(nodeFlags.b)}, A = ${a}${flagsText(nodeFlags.a)}\n`);
  try {
    for (let i = 0; i < pairs; i++) {
      // Odd pairs start B first (and give it the first port).
      const order: Array<'a' | 'b'> = i % 2 === 0 ? ['a', 'b'] : ['b', 'a'];
      const servers: Partial<Record<'a' | 'b', Server>> = {};
      try {
        for (const side of order) {
          servers[side] = await startServer({
            mode: side === 'a' ? a : b,
            benchJs,
            main: mains[side],
            shippedConfig,
            workDir,
            sinkPort: sink.port,
            label: `pair${i + 1}-${side}`,
            nodeFlags: nodeFlags[side],
            bareNodeFlags: nodeFlags[side],
            cores: pinning.server,
          });
        }
        const context = { settings, benchJs, running: {} } as unknown as Parameters<typeof runGenerator>[0];
        const results = await Promise.all(
          (['a', 'b'] as const).map((side) => runGenerator(context, generatorArgs(scenario, settings, servers[side]!, build.path), 180_000)),
        );
        const [ra, rb] = results as [GeneratorResult, GeneratorResult];
        const ca = cost.of(ra);
        const cb = cost.of(rb);
        if (ca === undefined || cb === undefined) throw new Error('a generator reported no server CPU');
        costs.a.push(ca);
        costs.b.push(cb);
        ratios.push(cb / ca);
        process.stdout.write(
          `pair ${i + 1}: A ${ca.toFixed(2)} ${cost.unit} (${cost.rate(ra)}), B ${cb.toFixed(2)} ${cost.unit} (${cost.rate(rb)}), B/A ${(cb / ca).toFixed(3)}\n`,
        );
      } finally {
        for (const server of Object.values(servers)) await server?.stop();
      }
    }
  } finally {
    await sink.stop();
    rmSync(workDir, { recursive: true, force: true });
    removeBuild();
  }
  process.stdout.write(
    `median B/A ${median(ratios)!.toFixed(3)} (min ${Math.min(...ratios).toFixed(3)}, max ${Math.max(...ratios).toFixed(3)}); ` +
      `medians A ${median(costs.a)!.toFixed(2)}, B ${median(costs.b)!.toFixed(2)} ${cost.unit} (two servers share the core: absolute figures run high)\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`bench pair: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
