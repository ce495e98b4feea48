/**
 * The figures a benchmark run reports, how each is read from generator results, aggregated over
 * rounds (median) and compared with the bare echo of the same run (ratio, target met or missed).
 */
import type { GeneratorResult, Scenario } from '../generator/protocol.js';
import type { Mode } from '../lib/servers.js';

/** A target on the ratio to the bare echo, for the mode users run (`full`, see TARGET_MODE). */
export interface Target {
  op: '>=' | '<=';
  ratio: number;
}

/** One row of the table. */
export interface FigureDef {
  key: string;
  label: string;
  unit: string;
  /** The scenario the figure comes from; `all` takes the largest value over every scenario of a round. */
  scenario: Scenario | 'all';
  better: 'higher' | 'lower';
  digits: number;
  target?: Target;
  value(result: GeneratorResult): number | undefined;
}

const MiB = 1024 * 1024;

/** The mode the targets apply to: the shipped config with every span exported and every connection logged. */
export const TARGET_MODE = 'full' satisfies Mode;

export const FIGURES: readonly FigureDef[] = [
  { key: 'throughput_mb_s', label: 'throughput', unit: 'MB/s', scenario: 'throughput', better: 'higher', digits: 0, target: { op: '>=', ratio: 1.0 }, value: (r) => r.mbPerSec },
  { key: 'cpu_s_per_gb', label: 'server CPU per GB echoed', unit: 's', scenario: 'throughput', better: 'lower', digits: 3, value: (r) => r.cpuPerGB },
  { key: 'pingpong_req_s', label: 'ping-pong requests/s', unit: 'req/s', scenario: 'pingpong', better: 'higher', digits: 0, target: { op: '>=', ratio: 1.0 }, value: (r) => r.opsPerSec },
  { key: 'pingpong_p50_us', label: 'ping-pong p50', unit: 'µs', scenario: 'pingpong', better: 'lower', digits: 0, value: (r) => r.latencyUs?.p50 },
  { key: 'pingpong_p90_us', label: 'ping-pong p90', unit: 'µs', scenario: 'pingpong', better: 'lower', digits: 0, value: (r) => r.latencyUs?.p90 },
  { key: 'pingpong_p99_us', label: 'ping-pong p99', unit: 'µs', scenario: 'pingpong', better: 'lower', digits: 0, target: { op: '<=', ratio: 1.05 }, value: (r) => r.latencyUs?.p99 },
  { key: 'pingpong_p999_us', label: 'ping-pong p99.9', unit: 'µs', scenario: 'pingpong', better: 'lower', digits: 0, value: (r) => r.latencyUs?.p999 },
  { key: 'cpu_us_per_req', label: 'server CPU per request', unit: 'µs', scenario: 'pingpong', better: 'lower', digits: 2, value: (r) => r.cpuUsPerReq },
  { key: 'conn_s', label: 'connections/s (connect, echo 32 B, close)', unit: 'conn/s', scenario: 'connrate', better: 'higher', digits: 0, target: { op: '>=', ratio: 0.9 }, value: (r) => r.opsPerSec },
  { key: 'conn_p99_ms', label: 'connect-echo-close p99', unit: 'ms', scenario: 'connrate', better: 'lower', digits: 2, value: (r) => (r.latencyUs ? r.latencyUs.p99 / 1000 : undefined) },
  { key: 'cpu_us_per_conn', label: 'server CPU per connection', unit: 'µs', scenario: 'connrate', better: 'lower', digits: 1, target: { op: '<=', ratio: 1.25 }, value: (r) => r.cpuUsPerConn },
  { key: 'rss_start_mib', label: 'RSS at start', unit: 'MiB', scenario: 'idle', better: 'lower', digits: 1, value: (r) => (r.rssStartBytes === undefined ? undefined : r.rssStartBytes / MiB) },
  { key: 'rss_peak_mib', label: 'RSS peak (any scenario)', unit: 'MiB', scenario: 'all', better: 'lower', digits: 1, value: (r) => (r.rssPeakBytes === undefined ? undefined : r.rssPeakBytes / MiB) },
  { key: 'rss_per_idle_conn_kib', label: 'RSS per idle connection', unit: 'KiB', scenario: 'idle', better: 'lower', digits: 2, target: { op: '<=', ratio: 1.0 }, value: (r) => (r.rssPerIdleConnBytes === undefined ? undefined : r.rssPerIdleConnBytes / 1024) },
];

/** CPU cores a run's server and load generator kept busy, and whether the generator was the busier (generator-bound). */
export interface CpuShare {
  serverCores: number;
  generatorCores: number;
  /** generator CPU ÷ server CPU over the same window: below 1, the server is the bottleneck. */
  generatorPerServer: number;
  generatorBound: boolean;
  /** Not generator-bound, but the generator used at least NEAR_BOUND_SHARE of the server's CPU. */
  generatorNearBound: boolean;
  /** The share of the server's CPU its V8 worker threads (compilers, parallel GC) took; undefined when not read. */
  v8WorkerShare: number | undefined;
}

/**
 * A generator this close to the server's CPU may already be short of CPU at moments, feeding
 * the server in smaller batches: the run is marked so that its rates are read with care.
 */
export const NEAR_BOUND_SHARE = 0.95;
/** The same margin as the report says it: `5` (percent of the server's CPU). */
export const NEAR_BOUND_MARGIN_PERCENT = Math.round((1 - NEAR_BOUND_SHARE) * 100);

/** The CPU share of one run, when both sides were measured. */
export function cpuShare(result: GeneratorResult): CpuShare | undefined {
  const { serverCpuS, generatorCpuS, cpuWindowS } = result;
  if (serverCpuS === undefined || generatorCpuS === undefined || !cpuWindowS || serverCpuS <= 0) return undefined;
  return {
    serverCores: serverCpuS / cpuWindowS,
    generatorCores: generatorCpuS / cpuWindowS,
    generatorPerServer: generatorCpuS / serverCpuS,
    generatorBound: generatorCpuS > serverCpuS,
    generatorNearBound: generatorCpuS <= serverCpuS && generatorCpuS >= NEAR_BOUND_SHARE * serverCpuS,
    v8WorkerShare: result.serverV8WorkerCpuS === undefined ? undefined : result.serverV8WorkerCpuS / serverCpuS,
  };
}

/** One server run of one scenario. */
export interface RunRecord {
  scenario: Scenario;
  mode: Mode;
  round: number;
  /** Position in the run (0-based), to show the alternating order. */
  sequence: number;
  result?: GeneratorResult;
  /** Why the run produced no result (server did not start, generator failed). */
  error?: string;
  /** Spans the sink received while this server ran (its final flush included). */
  spansExported?: number;
  /** Background load (cores) of earlier attempts of this run that were measured again. */
  discardedBackground?: number[];
  /** The server's exit code after SIGTERM. */
  exitCode?: number | string;
}

/** A figure's aggregate for one mode. */
export interface Cell {
  value: number | undefined;
  /** value / bare value of the same run. */
  ratio: number | undefined;
  /** Per-round values, in round order. */
  rounds: (number | undefined)[];
  met?: boolean;
}

export function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The value of `figure` for one (mode, round). */
function roundValue(figure: FigureDef, records: RunRecord[], mode: Mode, round: number): number | undefined {
  const mine = records.filter((r) => r.mode === mode && r.round === round && r.result && (figure.scenario === 'all' || r.scenario === figure.scenario));
  const values = mine.map((r) => figure.value(r.result!)).filter((v): v is number => v !== undefined && Number.isFinite(v));
  if (values.length === 0) return undefined;
  return figure.scenario === 'all' ? Math.max(...values) : values[0];
}

/** Whether a ratio meets a target. */
export function meets(target: Target, ratio: number): boolean {
  return target.op === '>=' ? ratio >= target.ratio : ratio <= target.ratio;
}

/** Aggregates every figure for every mode: median over rounds, ratio to bare, target status. */
export function aggregate(records: RunRecord[], modes: readonly Mode[], rounds: number): Map<string, Map<Mode, Cell>> {
  const table = new Map<string, Map<Mode, Cell>>();
  for (const figure of FIGURES) {
    const row = new Map<Mode, Cell>();
    for (const mode of modes) {
      const perRound = Array.from({ length: rounds }, (_, round) => roundValue(figure, records, mode, round));
      row.set(mode, { value: median(perRound.filter((v): v is number => v !== undefined)), ratio: undefined, rounds: perRound });
    }
    const bare = row.get('bare')?.value;
    for (const [mode, cell] of row) {
      if (mode === 'bare' || bare === undefined || cell.value === undefined || bare === 0) continue;
      cell.ratio = cell.value / bare;
      if (figure.target) cell.met = meets(figure.target, cell.ratio);
    }
    table.set(figure.key, row);
  }
  return table;
}
