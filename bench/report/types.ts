/**
 * The whole result of a benchmark run, as written to results.json. Its own module so the writers
 * (markdown.ts, svg.ts) and report.ts, which calls them, do not import each other.
 */
import type { GeneratorKind, Scenario } from '../generator/protocol.js';
import type { Pinning } from '../lib/cpu-pinning.js';
import type { Mode } from '../lib/servers.js';
import type { Cell, RunRecord } from './figures.js';

/** Everything a run measured and how. */
export interface BenchReport {
  startedAt: string;
  elapsedS: number;
  machine: { cpu: string; cores: number; node: string; commit: string };
  settings: {
    quick: boolean;
    /** The load generator of every run, and why the native one was not used when it was not. */
    generator: GeneratorKind;
    nativeUnavailable?: string;
    /** Server on one core, load (generator, sink, runner) on the others; absent with the reason when not pinned. */
    pinning?: Pinning;
    pinningUnavailable?: string;
    rounds: number;
    modes: Mode[];
    scenarios: Scenario[];
    warmupS: number;
    /** The warm-up of the connrate scenario (its per-connection code takes longer to compile). */
    connrateWarmupS: number;
    durationS: number;
    /** Extra node flags tcp-echo ran with (empty: as shipped). */
    serverNodeFlags: string[];
    /** A run is measured again when other processes kept more cores than this busy ... */
    maxBackground: number;
    /** ... at most this many more times. */
    retries: number;
    threads: Record<Scenario, number>;
    throughput: { connections: number; messageSize: number; window: number };
    pingpong: { connections: number; requestSize: number };
    connrate: { connections: number; requestSize: number };
    idle: { connections: number; requestSize: number; holdS: number };
  };
  /** The sequence the servers ran in, per scenario and round. */
  order: string[];
  modeDescriptions: Record<Mode, string>;
  /** figure key → mode → aggregate. */
  table: Record<string, Partial<Record<Mode, Cell>>>;
  /** For `full` (the targets' subject): each target figure, its ratio and whether it is met. */
  targets: { figure: string; target: string; ratio: number | undefined; met: boolean | undefined }[];
  notes: string[];
  runs: RunRecord[];
}

