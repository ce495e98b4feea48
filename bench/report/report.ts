/** The whole result of a benchmark run, as written to results.json, and the writer of all three files. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Scenario } from '../generator/protocol.js';
import type { Mode } from '../lib/servers.js';
import type { Cell, RunRecord } from './figures.js';
import { renderMarkdown } from './markdown.js';
import { renderSvg } from './svg.js';

/** Everything a run measured and how. */
export interface BenchReport {
  startedAt: string;
  elapsedS: number;
  machine: { cpu: string; cores: number; node: string; commit: string };
  settings: {
    quick: boolean;
    rounds: number;
    modes: Mode[];
    scenarios: Scenario[];
    warmupS: number;
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
  /** For `shipped` (the targets' subject): each target figure, its ratio and whether it is met. */
  targets: { figure: string; target: string; ratio: number | undefined; met: boolean | undefined }[];
  notes: string[];
  runs: RunRecord[];
}

/** Writes results.json, results.md and ratios.svg into `dir`; returns the Markdown. */
export function writeReport(report: BenchReport, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const markdown = renderMarkdown(report);
  writeFileSync(path.join(dir, 'results.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(path.join(dir, 'results.md'), markdown);
  writeFileSync(path.join(dir, 'ratios.svg'), renderSvg(report));
  return markdown;
}
