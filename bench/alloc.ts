/**
 * Where each connection's allocations come from: the bare echo and tcp-echo modes under the same
 * connection churn as `npm run bench` (native generator, server pinned to its own core), each with
 * V8's sampling heap profiler in it for most of the measured window (bench/alloc-sampler.ts), then
 * bytes per connection by area and by owning function (bench/report/allocations.ts). Every byte a
 * connection allocates is young garbage that brings the next scavenge closer: the figure says how
 * much of the young generation's work is whose.
 *
 * Usage: `npm run bench:alloc -- [--modes bare,off,full] [--loops 8] [--warmup 8] [--duration 6] [--top 20]`.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { allocProfilePath } from './lib/alloc-profile-path.js';
import { numberFlag, parseFlags, stringFlag } from './lib/args.js';
import { buildBench, OUT_DIR, removeBuild, snapshotService } from './lib/build.js';
import { pinSelf, planPinning } from './lib/cpu-pinning.js';
import { buildNativeGenerator } from './lib/native.js';
import { generatorArgs, runGenerator } from './lib/runner.js';
import { MODES, SHIPPED_CONFIG, startServer, startSink, type Mode } from './lib/servers.js';
import { parseSettings } from './lib/settings.js';
import { allocationShares, renderAllocations, type AllocationShares, type HeapProfileNode } from './report/allocations.js';

/** Sampling starts this long into the generator's measured window and stops this long before its end. */
const EDGE_MS = 500;

function modesFlag(value: string): Mode[] {
  const modes = value.split(',').map((m) => m.trim());
  for (const mode of modes) {
    if (!(MODES as readonly string[]).includes(mode) || mode === 'cluster') throw new Error(`--modes: each one of ${MODES.filter((m) => m !== 'cluster').join(', ')}`);
  }
  return modes as Mode[];
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const modes = modesFlag(stringFlag(flags, 'modes', 'bare,off,full'));
  const loops = numberFlag(flags, 'loops', 8, 1);
  const warmup = numberFlag(flags, 'warmup', 8, 1);
  const duration = numberFlag(flags, 'duration', 6, 2);
  const top = numberFlag(flags, 'top', 20, 1);
  const pinned = planPinning(false);
  if (!('pinning' in pinned)) throw new Error(`the server and the load need separate cores: ${pinned.reason}`);
  const { pinning } = pinned;
  pinSelf(pinning.load);
  const parsed = parseSettings(['--scenarios', 'connrate', '--connrate-loops', String(loops), '--connrate-warmup', String(warmup), '--duration', String(duration)]);
  if (parsed === undefined) throw new Error('unreachable: no --help given');
  const { settings } = parsed;
  const benchJs = buildBench();
  const build = buildNativeGenerator(path.join(OUT_DIR, 'native'));
  if (!build.ok) throw new Error(`the native generator is needed: ${build.reason}`);
  const main = snapshotService();
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'tcp-echo-alloc-'));
  const shippedConfig = path.join(workDir, 'static_config.yaml');
  copyFileSync(SHIPPED_CONFIG, shippedConfig);
  const sink = await startSink(benchJs, workDir, pinning.load);
  const sampler = `--import=${path.join(benchJs, 'alloc-sampler.js')}`;
  const results = new Map<Mode, AllocationShares>();
  try {
    for (const mode of modes) {
      const server = await startServer({
        mode,
        benchJs,
        main,
        shippedConfig,
        workDir,
        sinkPort: sink.port,
        label: `alloc-${mode}`,
        nodeFlags: [...settings.serverNodeFlags, sampler],
        bareNodeFlags: [sampler],
        cores: pinning.server,
      });
      const out = allocProfilePath(server.pid);
      try {
        const context = { settings, benchJs, running: {} } as unknown as Parameters<typeof runGenerator>[0];
        const generated = runGenerator(context, generatorArgs('connrate', settings, server, build.path), 180_000);
        // The generator opens its window 300 ms + the warm-up after it starts (bench/generator/main.ts).
        await sleep(300 + warmup * 1000 + EDGE_MS);
        process.kill(server.pid, 'SIGUSR2');
        await sleep(duration * 1000 - 2 * EDGE_MS);
        process.kill(server.pid, 'SIGUSR2');
        await generated;
        const written = await waitForFile(out, 30_000);
        const sampled = JSON.parse(readFileSync(written, 'utf8')) as { connections?: number; profile?: { head: HeapProfileNode }; error?: string };
        if (sampled.profile === undefined || sampled.connections === undefined) throw new Error(`${mode}: the sampler failed: ${sampled.error ?? 'no profile'}`);
        results.set(mode, allocationShares(sampled.profile.head, sampled.connections));
        process.stdout.write(`${mode}: ${sampled.connections} connections sampled\n`);
      } finally {
        await server.stop();
        rmSync(out, { force: true });
      }
    }
  } finally {
    await sink.stop();
    rmSync(workDir, { recursive: true, force: true });
    removeBuild();
  }
  process.stdout.write(renderAllocations(results, top));
}

async function waitForFile(file: string, timeoutMs: number): Promise<string> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(100)) {
    if (existsSync(file)) {
      await sleep(200); // written in one writeFileSync; a moment for it to finish
      return file;
    }
  }
  throw new Error(`no allocation profile at ${file} after ${timeoutMs / 1000} s`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench alloc: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
