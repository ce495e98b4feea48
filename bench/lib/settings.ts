/** The benchmark's command line: its usage text and the settings a run is made of. */
import path from 'node:path';
import { SCENARIOS, type Scenario } from '../generator/protocol.js';
import type { BenchReport } from '../report/types.js';
// The runner (tsx, from source) reads the shipped V8 flags as the tests do.
import { shippedNodeFlags } from '../../test/helpers/node-flags.js';
import { listFlag, numberFlag, parseFlags, stringFlag, type Flags } from './args.js';
import { BENCH_DIR, ROOT } from './build.js';
import { planPinning } from './cpu-pinning.js';
import { MODES, type Mode } from './servers.js';

export const USAGE = `npm run bench -- [flags]
  --quick                 a short run (1 round, short windows, 2,000 idle connections), written to .tmp/bench-quick/
                          so the published full run in bench/results/ stays as it is
  --scenarios LIST        throughput,pingpong,connrate,idle (default: all)
  --modes LIST            bare,off,metrics,traced,full,cluster (default: all but cluster; bare is always added)
  --generator KIND        native (C, built with cc -O2), js (worker threads) or auto (default: native when cc builds it)
  --rounds N              rounds per scenario, alternating order (default 3, quick 1)
  --warmup S              seconds before each measured window (default 2, quick 1)
  --connrate-warmup S     ... for connrate (default 8, quick 1): V8 compiles the per-connection code for seconds
  --duration S            seconds measured per scenario run (default 3, quick 1.5)
  --hold S                idle: seconds the connections are held (default 3, quick 1.5)
  --idle-connections N    default 10000 (quick 2000)
  --throughput-connections N (64)  --message-size B (16384)  --window B (262144)
  --pingpong-connections N (32)    --connrate-loops N (16)   --request-size B (32)
  --threads N             JavaScript generator threads for every scenario (default: throughput 2, pingpong 1, connrate 2, idle 2)
  --profile LIST          modes whose server runs with node --cpu-prof (profiles and summaries in .tmp/bench-profiles/)
  --server-node-flags=F   node flags for every tcp-echo server in addition to the shipped ones
                          (package.json config.node_flags); space-separated, use the = form
  --max-background C      measure a run again when other processes kept more than C cores busy in its
                          window (default 0.5) ...
  --retries N             ... at most N more times per run (default 1) ...
  --retry-budget S        ... spending at most S seconds on re-measurements in all (default 60, quick 15)
  --out DIR               where results go (default bench/results; quick: .tmp/bench-quick)
  --keep                  keep the work directory (configs, server logs)
  --no-pin                let the scheduler place the processes (default: the server on core 0, the generator,
                          the OTLP sink and the runner on the other cores; bench/lib/cpu-pinning.ts says why)`;

/** Where a quick run's results go: git-ignored, so it never replaces the published full run. */
export const QUICK_OUT_DIR = path.join(ROOT, '.tmp', 'bench-quick');

/** How the runner itself behaves (not part of the report's settings). */
export interface RunnerOptions {
  generator: 'native' | 'js' | 'auto';
  profileModes: Mode[];
  retryBudgetS: number;
  outDir: string;
  keep: boolean;
  /** --modes was given (so cluster is not added by default). */
  explicitModes: boolean;
}

/** Parses the command line; `undefined` for --help. */
export function parseSettings(argv: readonly string[]): { settings: BenchReport['settings']; options: RunnerOptions } | undefined {
  const flags: Flags = parseFlags(argv);
  if (flags.has('help')) return undefined;
  const quick = flags.has('quick');
  const scenarios = listFlag(flags, 'scenarios', SCENARIOS, SCENARIOS);
  const defaultModes = MODES.filter((m) => m !== 'cluster');
  const requestedModes = listFlag(flags, 'modes', MODES, defaultModes);
  // Every ratio needs the bare echo of the same run.
  const modes = MODES.filter((m) => m === 'bare' || requestedModes.includes(m));
  const [generator = 'auto'] = listFlag<RunnerOptions['generator']>(flags, 'generator', ['native', 'js', 'auto'], ['auto']);
  const threadsAll = flags.has('threads') ? numberFlag(flags, 'threads', 1, 1) : undefined;
  const threads: Record<Scenario, number> = {
    throughput: threadsAll ?? 2,
    pingpong: threadsAll ?? 1,
    connrate: threadsAll ?? 2,
    idle: threadsAll ?? 2,
  };
  const requestSize = numberFlag(flags, 'request-size', 32, 1);
  const settings: BenchReport['settings'] = {
    quick,
    generator: generator === 'js' ? 'js' : 'native',
    rounds: numberFlag(flags, 'rounds', quick ? 1 : 3, 1),
    modes,
    scenarios,
    // Both servers spend their first second or so compiling (V8 tiers the JavaScript up): 0.5 s
    // after start, tcp-echo cost 75-90 µs of CPU per connection and the bare echo 55-70, against
    // 35-60 and 33-48 from the second second on. The window measures the service as it runs.
    warmupS: numberFlag(flags, 'warmup', quick ? 1 : 2),
    // Connection churn runs tcp-echo's per-connection code, which V8 keeps compiling (on its
    // worker threads, counted as the server's CPU) for about 5 s of load: in 1 s windows, `full`
    // cost 490, 345, 304 µs per connection in the first three (compiler threads 83, 34, 47 µs of
    // it) and 215-249 from the fifth on (compiler threads 2-4 µs); the bare echo settles in 2 s.
    // A 2 s warm-up measured tcp-echo about 20% above its steady cost and the bare echo 3%.
    connrateWarmupS: numberFlag(flags, 'connrate-warmup', quick ? 1 : 8),
    durationS: numberFlag(flags, 'duration', quick ? 1.5 : 3, 0.2),
    // tcp-echo runs with the V8 flags it is shipped with (package.json config.node_flags, as npm
    // start, the bin and the image use them), plus any given here.
    serverNodeFlags: [...shippedNodeFlags(), ...stringFlag(flags, 'server-node-flags', '').split(/\s+/).filter(Boolean)],
    maxBackground: numberFlag(flags, 'max-background', 0.5),
    retries: numberFlag(flags, 'retries', 1),
    threads,
    throughput: {
      connections: numberFlag(flags, 'throughput-connections', 64, 1),
      messageSize: numberFlag(flags, 'message-size', 16_384, 1),
      window: numberFlag(flags, 'window', 262_144, 1),
    },
    pingpong: { connections: numberFlag(flags, 'pingpong-connections', 32, 1), requestSize },
    connrate: { connections: numberFlag(flags, 'connrate-loops', 16, 1), requestSize },
    idle: { connections: numberFlag(flags, 'idle-connections', quick ? 2000 : 10_000, 1), requestSize, holdS: numberFlag(flags, 'hold', quick ? 1.5 : 3, 0.5) },
  };
  const options: RunnerOptions = {
    generator,
    profileModes: listFlag(flags, 'profile', MODES, []),
    // Seconds all re-measurements together may take, so the default run stays well under 15 minutes.
    retryBudgetS: numberFlag(flags, 'retry-budget', quick ? 15 : 60),
    outDir: path.resolve(stringFlag(flags, 'out', quick ? QUICK_OUT_DIR : path.join(BENCH_DIR, 'results'))),
    keep: flags.has('keep'),
    explicitModes: flags.has('modes'),
  };
  const pinned = planPinning(flags.has('no-pin'));
  if ('pinning' in pinned) settings.pinning = pinned.pinning;
  else settings.pinningUnavailable = pinned.reason;
  return { settings, options };
}
