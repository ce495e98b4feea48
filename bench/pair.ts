/**
 * Paired A/B runs: two servers measured in the same window on the same core, one native generator
 * each, so both see the same machine. On this shared 2-core VM the same server measured alone
 * costs 35 µs of CPU per connection in one run and 56 in the next (both user and kernel time move
 * together: the machine, not the code), which hides any change below about 20%; measured side by
 * side, the B/A ratio repeats within 2-3% and an A/A pair gives 1.00-1.02. Use it to decide
 * whether a change helps (`--b-main` runs another build as B) or what a layer costs (two modes);
 * `npm run bench` stays the instrument for the absolute figures and the targets.
 *
 * Usage: `npm run bench:pair -- --a bare --b full [--pairs 5] [--b-main DIR/dist/main.js]
 *   [--loops 8] [--warmup 2] [--duration 4]`. Connection churn (connect, echo 32 B, close) only.
 * Each pair swaps which of the two starts first and which port it gets, so neither has a place
 * advantage. Prints one line per pair and the median ratio.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { GeneratorResult } from './generator/protocol.js';
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

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const a = modeFlag(stringFlag(flags, 'a', 'bare'), 'a');
  const b = modeFlag(stringFlag(flags, 'b', 'full'), 'b');
  const pairs = numberFlag(flags, 'pairs', 5, 1);
  const loops = numberFlag(flags, 'loops', 8, 1);
  const warmup = numberFlag(flags, 'warmup', 2);
  const duration = numberFlag(flags, 'duration', 4, 0.5);
  const bMain = flags.get('b-main');
  const pinned = planPinning(false);
  if (!('pinning' in pinned)) throw new Error(`paired runs need the server and the load on separate cores: ${pinned.reason}`);
  const { pinning } = pinned;
  pinSelf(pinning.load);

  const parsed = parseSettings(['--scenarios', 'connrate', '--connrate-loops', String(loops), '--warmup', String(warmup), '--duration', String(duration)]);
  if (parsed === undefined) throw new Error('unreachable: no --help given');
  const { settings } = parsed;
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
  const cost: Record<'a' | 'b', number[]> = { a: [], b: [] };
  process.stdout.write(`paired connection churn, ${loops} loops each, ${warmup} s warm-up, ${duration} s window; B = ${b}${typeof bMain === 'string' ? ` (${bMain})` : ''}, A = ${a}\n`);
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
            nodeFlags: settings.serverNodeFlags,
            cores: pinning.server,
          });
        }
        const context = { settings, benchJs, running: {} } as unknown as Parameters<typeof runGenerator>[0];
        const results = await Promise.all(
          (['a', 'b'] as const).map((side) => runGenerator(context, generatorArgs('connrate', settings, servers[side]!, build.path), 180_000)),
        );
        const [ra, rb] = results as [GeneratorResult, GeneratorResult];
        if (ra.cpuUsPerConn === undefined || rb.cpuUsPerConn === undefined) throw new Error('a generator reported no server CPU');
        cost.a.push(ra.cpuUsPerConn);
        cost.b.push(rb.cpuUsPerConn);
        ratios.push(rb.cpuUsPerConn / ra.cpuUsPerConn);
        process.stdout.write(
          `pair ${i + 1}: A ${ra.cpuUsPerConn.toFixed(1)} µs/conn (${Math.round(ra.opsPerSec)} conn/s), ` +
            `B ${rb.cpuUsPerConn.toFixed(1)} µs/conn (${Math.round(rb.opsPerSec)} conn/s), B/A ${(rb.cpuUsPerConn / ra.cpuUsPerConn).toFixed(3)}\n`,
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
      `medians A ${median(cost.a)!.toFixed(1)} µs, B ${median(cost.b)!.toFixed(1)} µs per connection (two servers share the core: absolute figures run high)\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`bench pair: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
