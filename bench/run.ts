/**
 * `npm run bench`: measures tcp-echo against the bare Node.js echo in the same run, in alternating
 * order, over four scenarios, and writes bench/results/{results.md,results.json,ratios.svg}.
 *
 * Each (scenario, mode, round) gets a fresh server process, so RSS at start and per idle connection
 * are not coloured by an earlier scenario. Modes run forward in odd rounds and backward in even
 * ones (bare first, then bare last), so a drift in machine speed over a run does not favour either
 * side. The load generator is its own process; on this 2-core machine it competes with the server
 * for CPU, which is why server CPU per GB / per 1,000 connections is reported next to the rates:
 * it shows overhead even when the generator is the bottleneck.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { GeneratorResult } from './generator/main.js';
import { SCENARIOS, type Scenario } from './generator/protocol.js';
import { listFlag, numberFlag, parseFlags, stringFlag } from './lib/args.js';
import { BENCH_DIR, buildBench, removeBuild, ROOT, snapshotService } from './lib/build.js';
import { MODE_DESCRIPTIONS, MODES, SHIPPED_CONFIG, startServer, startSink, type Mode, type Server, type Sink } from './lib/servers.js';
import { aggregate, FIGURES, median, type RunRecord } from './report/figures.js';
import { formatNumber } from './report/markdown.js';
import { renderSummary } from './profile-summary.js';
import { writeReport, type BenchReport } from './report/report.js';

const USAGE = `npm run bench -- [flags]
  --quick                 about a minute: 1 round, short windows, 2,000 idle connections
  --scenarios LIST        throughput,pingpong,connrate,idle (default: all)
  --modes LIST            bare,off,metrics,traced,shipped,cluster (default: all but cluster, which is added when
                          the service has the tcp-echo.workers option; bare is always added)
  --rounds N              rounds per scenario, alternating order (default 3, quick 1)
  --warmup S              seconds before each measured window (default 1, quick 0.5)
  --duration S            seconds measured per scenario run (default 3, quick 1.5)
  --hold S                idle: seconds the connections are held (default 3, quick 1.5)
  --idle-connections N    default 10000 (quick 2000)
  --throughput-connections N (64)  --message-size B (16384)  --window B (262144)
  --pingpong-connections N (32)    --connrate-loops N (32)   --request-size B (32)
  --threads N             generator threads for every scenario (default: throughput 2, pingpong 1, connrate 2, idle 2)
  --profile LIST          modes whose server runs with node --cpu-prof (profiles and summaries in .tmp/bench-profiles/)
  --server-node-flags=F   node flags for every tcp-echo server in addition to the shipped ones
                          (package.json config.node_flags); space-separated, use the = form
  --max-background C      measure a run again when other processes kept more than C cores busy in its
                          window (default 0.5) ...
  --retries N             ... at most N more times per run (default 1) ...
  --retry-budget S        ... spending at most S seconds on re-measurements in all (default 60, quick 15)
  --out DIR               where results go (default bench/results)
  --keep                  keep the work directory (configs, server logs)`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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

/** Runs the load generator against a server; resolves with its result line. */
function runGenerator(benchJs: string, args: string[], timeoutMs: number): Promise<GeneratorResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(benchJs, 'generator', 'main.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    running.generator = child;
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.trim().split('\n').pop() ?? '';
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as GeneratorResult);
      else reject(new Error(`load generator exited with ${code ?? signal}: ${stderr.trim() || stdout.trim() || 'no output'}`));
    });
  });
}

function headline(scenario: Scenario, r: GeneratorResult): string {
  const cpu =
    r.serverCpuS === undefined
      ? ''
      : `, server CPU ${r.serverCpuS.toFixed(2)} s, generator ${r.generatorCpuS?.toFixed(2)} s, sink ${r.helperCpuS?.toFixed(2)} s, others ${r.otherCores?.toFixed(2)} cores`;
  switch (scenario) {
    case 'throughput':
      return `${formatNumber(r.mbPerSec, 0)} MB/s${cpu}`;
    case 'pingpong':
      return `${formatNumber(r.opsPerSec, 0)} req/s, p99 ${formatNumber(r.latencyUs?.p99 ?? NaN, 0)} µs${cpu}`;
    case 'connrate':
      return `${formatNumber(r.opsPerSec, 0)} conn/s${cpu}`;
    case 'idle':
      return `${r.established} held, ${formatNumber((r.rssPerIdleConnBytes ?? NaN) / 1024, 2)} KiB each`;
  }
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  if (flags.has('help')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const quick = flags.has('quick');
  const scenarios = listFlag(flags, 'scenarios', SCENARIOS, SCENARIOS);
  const defaultModes = MODES.filter((m) => m !== 'cluster');
  const requestedModes = listFlag(flags, 'modes', MODES, defaultModes);
  // Every ratio needs the bare echo of the same run.
  let modes = MODES.filter((m) => m === 'bare' || requestedModes.includes(m));
  const rounds = numberFlag(flags, 'rounds', quick ? 1 : 3, 1);
  const warmupS = numberFlag(flags, 'warmup', quick ? 0.5 : 1);
  const durationS = numberFlag(flags, 'duration', quick ? 1.5 : 3, 0.2);
  const holdS = numberFlag(flags, 'hold', quick ? 1.5 : 3, 0.5);
  const profileModes = listFlag(flags, 'profile', MODES, []);
  const maxBackground = numberFlag(flags, 'max-background', 0.5);
  const retries = numberFlag(flags, 'retries', 1);
  // Seconds all re-measurements together may take, so the default run stays under 10 minutes.
  const retryBudgetS = numberFlag(flags, 'retry-budget', quick ? 15 : 60);
  let retrySpentS = 0;
  // tcp-echo runs with the V8 flags it is shipped with (package.json config.node_flags, as npm
  // start, the bin and the image use them), plus any given here.
  const serverNodeFlags = [
    ...shippedNodeFlags(),
    ...stringFlag(flags, 'server-node-flags', '').split(/\s+/).filter(Boolean),
  ];
  const outDir = path.resolve(stringFlag(flags, 'out', path.join(BENCH_DIR, 'results')));
  const threadsAll = flags.has('threads') ? numberFlag(flags, 'threads', 1, 1) : undefined;
  const threads: Record<Scenario, number> = {
    throughput: threadsAll ?? 2,
    pingpong: threadsAll ?? 1,
    connrate: threadsAll ?? 2,
    idle: threadsAll ?? 2,
  };
  const settings: BenchReport['settings'] = {
    quick,
    rounds,
    modes,
    scenarios,
    warmupS,
    durationS,
    serverNodeFlags,
    maxBackground,
    retries,
    threads,
    throughput: {
      connections: numberFlag(flags, 'throughput-connections', 64, 1),
      messageSize: numberFlag(flags, 'message-size', 16_384, 1),
      window: numberFlag(flags, 'window', 262_144, 1),
    },
    pingpong: { connections: numberFlag(flags, 'pingpong-connections', 32, 1), requestSize: numberFlag(flags, 'request-size', 32, 1) },
    connrate: { connections: numberFlag(flags, 'connrate-loops', 32, 1), requestSize: numberFlag(flags, 'request-size', 32, 1) },
    idle: { connections: numberFlag(flags, 'idle-connections', quick ? 2000 : 10_000, 1), requestSize: numberFlag(flags, 'request-size', 32, 1), holdS },
  };
  process.once('SIGINT', (signal) => void onSignal(signal));
  process.once('SIGTERM', (signal) => void onSignal(signal));
  running.keep = flags.has('keep');
  const started = Date.now();
  const startedAt = new Date(started).toISOString().replace(/\.\d+Z$/, 'Z');
  const benchJs = buildBench();
  const main = modes.some((m) => m !== 'bare') ? snapshotService() : '';
  // Cluster mode (issue 7: workers=1 against workers=auto) joins the default run once the service has the option.
  if (!flags.has('modes') && main !== '' && /^\s+workers:/m.test(execFileSync(process.execPath, [main, '--print-config-schema'], { encoding: 'utf8' }))) {
    modes = [...modes, 'cluster'];
  }
  settings.modes = modes;
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'tcp-echo-bench-'));
  running.workDir = workDir;
  const shippedConfig = path.join(workDir, 'static_config.yaml');
  copyFileSync(SHIPPED_CONFIG, shippedConfig);
  // Profiles are large and machine-specific: they go to the git-ignored .tmp/, not to results/.
  const profileDir = path.join(ROOT, '.tmp', 'bench-profiles', startedAt.replace(/[:]/g, '-'));
  if (profileModes.length > 0) mkdirSync(profileDir, { recursive: true });
  log(`tcp-echo bench: ${scenarios.join(', ')} × ${modes.join(', ')} × ${rounds} round(s); work dir ${workDir}`);

  const sink: Sink = await startSink(benchJs, workDir);
  running.sink = sink;
  const records: RunRecord[] = [];
  const order: string[] = [];
  const total = scenarios.length * modes.length * rounds;
  let sequence = 0;
  try {
    for (const scenario of scenarios) {
      for (let round = 0; round < rounds; round++) {
        const sequenceModes = round % 2 === 0 ? [...modes] : [...modes].reverse();
        order.push(`${scenario} round ${round + 1}: ${sequenceModes.join(', ')}`);
        for (const mode of sequenceModes) {
          const record: RunRecord = { scenario, mode, round, sequence };
          records.push(record);
          sequence++;
          for (let attempt = 1; ; attempt++) {
            const attemptStarted = Date.now();
            const label = `${String(sequence).padStart(2, '0')}-${scenario}-${mode}-r${round + 1}${attempt > 1 ? `-a${attempt}` : ''}`;
            const tag = `[${sequence}/${total}] ${scenario} ${mode} r${round + 1}${attempt > 1 ? ` (attempt ${attempt})` : ''}`;
            delete record.error;
            let server: Server | undefined;
            try {
              const spansBefore = (await sink.stats()).spans;
              server = await startServer({
                mode,
                benchJs,
                main,
                shippedConfig,
                workDir,
                sinkPort: sink.port,
                label,
                nodeFlags: serverNodeFlags,
                ...(profileModes.includes(mode) ? { cpuProfDir: profileDir } : {}),
              });
              running.server = server;
              const args = [...generatorArgs(scenario, settings, server, mode), '--helper-pid', String(sink.pid)];
              const timeoutMs = (warmupS + durationS + holdS) * 1000 + 120_000;
              record.result = await runGenerator(benchJs, args, timeoutMs);
              record.exitCode = await server.stop();
              record.spansExported = (await sink.stats()).spans - spansBefore;
              log(`${tag}: ${headline(scenario, record.result)}`);
            } catch (error) {
              record.error = (error as Error).message;
              log(`${tag}: FAILED: ${record.error}`);
            } finally {
              await server?.stop();
            }
            // On a shared machine another process's burst can decide a single run: measure it again
            // (bounded in count, and never past the run's time budget).
            const background = record.result?.otherCores;
            const inBudget = retrySpentS < retryBudgetS;
            if (background === undefined || background <= maxBackground || attempt > retries || !inBudget) break;
            (record.discardedBackground ??= []).push(background);
            retrySpentS += (Date.now() - attemptStarted) / 1000;
            log(`${tag}: other processes kept ${background.toFixed(2)} cores busy (> ${maxBackground}): measuring again`);
            await sleep(500);
          }
          // Let the kernel settle (TIME_WAIT sockets, freed memory) between servers.
          await sleep(scenario === 'connrate' || scenario === 'idle' ? 1000 : 300);
        }
      }
    }
  } finally {
    await sink.stop();
    if (!flags.has('keep')) {
      rmSync(workDir, { recursive: true, force: true });
      removeBuild();
    }
  }

  const table = aggregate(records, modes, rounds);
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
      ratio: table.get(f.key)?.get('shipped')?.ratio,
      met: table.get(f.key)?.get('shipped')?.met,
    })),
    notes: [...notesFor(records, flags.has('keep') ? workDir : undefined), ...summariseProfiles(profileDir, profileModes.length > 0)],
    runs: records,
  };
  const markdown = writeReport(report, outDir);
  process.stdout.write(`${markdown}\n`);
  log(`results written to ${path.relative(process.cwd(), outDir) || '.'}/{results.md,results.json,ratios.svg} in ${formatNumber(report.elapsedS, 0)} s`);
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

function generatorArgs(scenario: Scenario, s: BenchReport['settings'], server: Server, mode: Mode): string[] {
  const args = [
    '--scenario', scenario,
    '--port', String(server.echoPort),
    '--server-pid', String(server.pid),
    '--threads', String(s.threads[scenario]),
    '--warmup', String(s.warmupS),
    '--duration', String(s.durationS),
  ];
  switch (scenario) {
    case 'throughput':
      args.push('--connections', String(s.throughput.connections), '--message-size', String(s.throughput.messageSize), '--window', String(s.throughput.window));
      break;
    case 'pingpong':
      args.push('--connections', String(s.pingpong.connections), '--request-size', String(s.pingpong.requestSize));
      break;
    case 'connrate':
      args.push('--connections', String(s.connrate.connections), '--request-size', String(s.connrate.requestSize));
      break;
    case 'idle':
      args.push('--connections', String(s.idle.connections), '--request-size', String(s.idle.requestSize), '--hold', String(s.idle.holdS));
      break;
  }
  // "Metrics only" and above are scraped like Prometheus would, at a short interval so it counts.
  if (server.monitorUrl && mode !== 'off') {
    args.push('--scrape', `${server.monitorUrl}/metrics,${server.monitorUrl}/service/monitor?format=json`, '--scrape-interval', '1000');
  }
  return args;
}

/** Everything a reader of the table should know: failures, errors, unverified bytes, span counts. */
function notesFor(records: RunRecord[], keptDir: string | undefined): string[] {
  const notes: string[] = [];
  for (const r of records) {
    const what = `${r.scenario}/${r.mode}/round ${r.round + 1}`;
    if (r.error) notes.push(`${what} failed: ${r.error}`);
    const res = r.result;
    if (!res) continue;
    if (res.verifyFailures > 0) notes.push(`${what}: ${res.verifyFailures} echoes did not match what was sent`);
    if (res.incomplete > 0) notes.push(`${what}: ${res.incomplete} connections still had echo outstanding at the end`);
    const errors = Object.entries(res.errors);
    if (errors.length > 0) notes.push(`${what}: socket errors ${errors.map(([c, n]) => `${c}×${n}`).join(', ')}`);
    if (r.scenario === 'idle' && res.established < (res.connections ?? 0)) {
      notes.push(`${what}: only ${res.established} of ${res.connections} idle connections were established`);
    }
    if (r.exitCode !== undefined && r.exitCode !== 0) notes.push(`${what}: server exited with ${r.exitCode} after SIGTERM`);
    if (res.scrapes.failed > 0) notes.push(`${what}: ${res.scrapes.failed} of ${res.scrapes.ok + res.scrapes.failed} metric scrapes failed`);
  }
  for (const mode of ['traced', 'shipped'] as const) {
    const runs = records.filter((r) => r.mode === mode && r.scenario === 'connrate' && r.result && r.spansExported !== undefined);
    if (runs.length === 0) continue;
    const spans = runs.reduce((n, r) => n + r.spansExported!, 0);
    const conns = runs.reduce((n, r) => n + r.result!.totalOps, 0);
    notes.push(
      `${mode}: the OTLP sink received ${formatNumber(spans, 0)} spans for ${formatNumber(conns, 0)} connect-echo-close cycles ` +
        `(${(spans / Math.max(1, conns)).toFixed(2)} per connection; 2 = a \`sock\` and a \`send\` span each, all exported)`,
    );
  }
  const discarded = records.flatMap((r) => r.discardedBackground ?? []);
  if (discarded.length > 0) {
    notes.push(
      `${discarded.length} run(s) were measured again because other processes kept ` +
        `${discarded.map((c) => c.toFixed(2)).join(', ')} cores busy during them`,
    );
  }
  const others = records.map((r) => r.result?.otherCores).filter((v): v is number => v !== undefined);
  if (others.length > 0) {
    const mid = median(others)!;
    notes.push(
      `background load: other processes (not the server, generator or OTLP sink) kept a median ${mid.toFixed(2)} and at most ` +
        `${Math.max(...others).toFixed(2)} of the ${os.cpus().length} cores busy during the measured windows` +
        (mid > 0.25 ? ' — the machine was shared, so single ratios are noisy; compare rounds in results.json' : ''),
    );
  }
  if (keptDir) notes.push(`configs and server logs kept in ${keptDir}`);
  return notes;
}

main().catch((error: unknown) => {
  log(`bench: ${(error as Error).message}`);
  process.exitCode = 1;
});

/** The V8 flags tcp-echo is shipped with: package.json `config.node_flags`. */
function shippedNodeFlags(): string[] {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { config?: { node_flags?: string } };
  return (pkg.config?.node_flags ?? '').split(/\s+/).filter(Boolean);
}
