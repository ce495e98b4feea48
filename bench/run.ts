/**
 * `npm run bench`: measures tcp-echo against the bare Node.js echo in the same run, in alternating
 * order, over four scenarios, and writes results.{md,json} and ratios.svg (bench/results/, or
 * .tmp/bench-quick/ for `--quick`).
 *
 * Each (scenario, mode, round) gets a fresh server process, so RSS at start and per idle connection
 * are not coloured by an earlier scenario. The load comes from the native generator (C, epoll)
 * when the machine has a C compiler, else from the JavaScript one; every run reports the
 * generator's CPU next to the server's and flags a run where the generator was the busier.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildBench, OUT_DIR, removeBuild, ROOT, snapshotService } from './lib/build.js';
import { buildNativeGenerator } from './lib/native.js';
import { measureAll } from './lib/runner.js';
import { pinSelf } from './lib/cpu-pinning.js';
import { MODE_DESCRIPTIONS, SHIPPED_CONFIG, startSink, type Server, type Sink } from './lib/servers.js';
import { parseSettings, USAGE } from './lib/settings.js';
import { aggregate, FIGURES, TARGET_MODE } from './report/figures.js';
import { formatNumber } from './report/markdown.js';
import { notesFor } from './report/notes.js';
import { writeReport } from './report/report.js';
import type { BenchReport } from './report/types.js';
import { renderSummary } from './profile-summary.js';

/** What is running now, so Ctrl-C / SIGTERM can stop it and clean up. */
const running: { generator?: ChildProcess; server?: Server; sink?: Sink; workDir?: string; keep: boolean } = { keep: false };

async function onSignal(signal: NodeJS.Signals): Promise<void> {
  log(`bench: ${signal}: stopping the processes of this run`);
  running.generator?.kill('SIGKILL');
  await Promise.allSettled([running.server?.stop(), running.sink?.stop()]);
  if (!running.keep) {
    if (running.workDir) rmSync(running.workDir, { recursive: true, force: true });
    removeBuild();
  }
  process.exit(130);
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

/** The native generator when wanted and buildable; otherwise why not (the JavaScript one runs). */
function chooseGenerator(wanted: 'native' | 'js' | 'auto', settings: BenchReport['settings']): string | undefined {
  if (wanted === 'js') return undefined;
  const build = buildNativeGenerator(path.join(OUT_DIR, 'native'));
  if (build.ok) return build.path;
  if (wanted === 'native') throw new Error(`--generator native: ${build.reason}`);
  settings.generator = 'js';
  settings.nativeUnavailable = build.reason;
  log(`bench: native generator unavailable (${build.reason}): using the JavaScript generator`);
  return undefined;
}

async function main(): Promise<void> {
  const parsed = parseSettings(process.argv.slice(2));
  if (parsed === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const { settings, options } = parsed;
  process.once('SIGINT', (signal) => void onSignal(signal));
  process.once('SIGTERM', (signal) => void onSignal(signal));
  running.keep = options.keep;
  const started = Date.now();
  const startedAt = new Date(started).toISOString().replace(/\.\d+Z$/, 'Z');
  const benchJs = buildBench();
  const nativeGenerator = chooseGenerator(options.generator, settings);
  const main = settings.modes.some((m) => m !== 'bare') ? snapshotService() : '';
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'tcp-echo-bench-'));
  running.workDir = workDir;
  const shippedConfig = path.join(workDir, 'static_config.yaml');
  copyFileSync(SHIPPED_CONFIG, shippedConfig);
  // Profiles are large and machine-specific: they go to the git-ignored .tmp/, not to results/.
  const profileDir = path.join(ROOT, '.tmp', 'bench-profiles', startedAt.replace(/[:]/g, '-'));
  if (options.profileModes.length > 0) mkdirSync(profileDir, { recursive: true });
  log(
    `tcp-echo bench: ${settings.scenarios.join(', ')} × ${settings.modes.join(', ')} × ${settings.rounds} round(s), ` +
      `${settings.generator} generator; work dir ${workDir}`,
  );

  if (settings.pinning) pinSelf(settings.pinning.load);
  const sink = await startSink(benchJs, workDir, settings.pinning?.load);
  running.sink = sink;
  let measured: Awaited<ReturnType<typeof measureAll>>;
  try {
    measured = await measureAll({
      settings,
      benchJs,
      main,
      shippedConfig,
      workDir,
      sink,
      nativeGenerator,
      profileModes: options.profileModes,
      profileDir,
      retryBudgetS: options.retryBudgetS,
      log,
      running,
    });
  } finally {
    await sink.stop();
    if (!options.keep) {
      rmSync(workDir, { recursive: true, force: true });
      removeBuild();
    }
  }
  const { records, order } = measured;
  const table = aggregate(records, settings.modes, settings.rounds);
  const tableObject: BenchReport['table'] = {};
  for (const [key, row] of table) tableObject[key] = Object.fromEntries(row);
  const report: BenchReport = {
    startedAt,
    elapsedS: (Date.now() - started) / 1000,
    machine: { cpu: os.cpus()[0]?.model.trim() ?? 'unknown CPU', cores: os.cpus().length, node: process.version, commit: gitCommit() },
    settings,
    order,
    modeDescriptions: MODE_DESCRIPTIONS,
    table: tableObject,
    targets: FIGURES.filter((f) => f.target).map((f) => ({
      figure: f.key,
      target: `${f.target!.op} ${f.target!.ratio}`,
      ratio: table.get(f.key)?.get(TARGET_MODE)?.ratio,
      met: table.get(f.key)?.get(TARGET_MODE)?.met,
    })),
    notes: [...notesFor(records, options.keep ? workDir : undefined), ...summariseProfiles(profileDir, options.profileModes.length > 0)],
    runs: records,
  };
  const markdown = writeReport(report, options.outDir);
  process.stdout.write(`${markdown}\n`);
  log(`results written to ${path.relative(process.cwd(), options.outDir) || '.'}/{results.md,results.json,ratios.svg} in ${formatNumber(report.elapsedS, 0)} s`);
  if (records.some((r) => r.error || (r.result && r.result.verifyFailures > 0))) process.exitCode = 1;
}

/** Writes a .txt summary beside each CPU profile of the run; returns a note saying where they are. */
function summariseProfiles(dir: string, wanted: boolean): string[] {
  if (!wanted || !existsSync(dir)) return [];
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  for (const file of files) {
    const full = path.join(dir, file);
    writeFileSync(full.replace(/\.cpuprofile$/, '.txt'), `${renderSummary(full, JSON.parse(readFileSync(full, 'utf8')), 30)}\n`);
  }
  return [`${files.length} CPU profiles and their summaries (bench/profile-summary.ts) in ${path.relative(ROOT, dir)}`];
}

main().catch((error: unknown) => {
  log(`bench: ${(error as Error).message}`);
  process.exitCode = 1;
});

