/**
 * The measuring loop of a benchmark run: every (scenario, round, mode) gets a fresh server, the
 * load generator runs against it, and the result is recorded; a run disturbed by other processes
 * is measured again within a time budget. Modes run forward in odd rounds and backward in even
 * ones, so a drift of the machine favours neither side.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { GeneratorResult, Scenario } from '../generator/protocol.js';
import type { RunRecord } from '../report/figures.js';
import { formatNumber } from '../report/markdown.js';
import type { BenchReport } from '../report/types.js';
import { onCores } from './cpu-pinning.js';
import { startServer, type Mode, type Server, type Sink } from './servers.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What every measurement of a run shares. */
export interface RunContext {
  settings: BenchReport['settings'];
  benchJs: string;
  /** The service's main.js (the run's snapshot), '' when only the bare echo runs. */
  main: string;
  shippedConfig: string;
  workDir: string;
  sink: Sink;
  /** The native generator, when it is used. */
  nativeGenerator: string | undefined;
  profileModes: readonly Mode[];
  profileDir: string;
  retryBudgetS: number;
  log(line: string): void;
  /** What is running now, so a signal handler can stop it. */
  running: { generator?: ChildProcess; server?: Server };
}

/** Runs the load generator against a server; resolves with its result line. */
export function runGenerator(context: RunContext, args: string[], timeoutMs: number): Promise<GeneratorResult> {
  return new Promise((resolve, reject) => {
    const [command, commandArgs] = onCores(context.settings.pinning?.load, process.execPath, [path.join(context.benchJs, 'generator', 'main.js'), ...args]);
    const child = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
    context.running.generator = child;
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

/** The generator's command line for one scenario against one server. */
export function generatorArgs(scenario: Scenario, s: BenchReport['settings'], server: Server, nativeGenerator: string | undefined): string[] {
  const args = [
    '--scenario', scenario,
    '--port', String(server.echoPort),
    '--server-pid', String(server.pid),
    '--threads', String(s.threads[scenario]),
    '--warmup', String(scenario === 'connrate' ? s.connrateWarmupS : s.warmupS),
    '--duration', String(s.durationS),
    ...(nativeGenerator === undefined ? [] : ['--native', nativeGenerator]),
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
  // Scraped like Prometheus would, at a short interval so it counts: `full` /metrics only (what a
  // Prometheus scrape does), the generated modes both formats.
  if (server.monitorUrl && server.mode === 'full') args.push('--scrape', `${server.monitorUrl}/metrics`, '--scrape-interval', '1000');
  else if (server.monitorUrl && server.mode !== 'off') {
    args.push('--scrape', `${server.monitorUrl}/metrics,${server.monitorUrl}/service/monitor?format=json`, '--scrape-interval', '1000');
  }
  return args;
}

/** One line for the console about a finished run. */
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
      return `${formatNumber(r.opsPerSec, 0)} conn/s, ${formatNumber(r.cpuUsPerConn ?? NaN, 1)} µs CPU each${cpu}`;
    case 'idle':
      return `${r.established} held, ${formatNumber((r.rssPerIdleConnBytes ?? NaN) / 1024, 2)} KiB each${cpu}`;
  }
}

/** Measures one (scenario, mode, round) into `record`, again (bounded) when the machine was too busy. */
async function measure(context: RunContext, record: RunRecord, total: number, retrySpent: { s: number }): Promise<void> {
  const { settings, sink } = context;
  const { scenario, mode, round, sequence } = record;
  for (let attempt = 1; ; attempt++) {
    const attemptStarted = Date.now();
    const label = `${String(sequence + 1).padStart(2, '0')}-${scenario}-${mode}-r${round + 1}${attempt > 1 ? `-a${attempt}` : ''}`;
    const tag = `[${sequence + 1}/${total}] ${scenario} ${mode} r${round + 1}${attempt > 1 ? ` (attempt ${attempt})` : ''}`;
    delete record.error;
    let server: Server | undefined;
    try {
      const spansBefore = (await sink.stats()).spans;
      server = await startServer({
        mode,
        benchJs: context.benchJs,
        main: context.main,
        shippedConfig: context.shippedConfig,
        workDir: context.workDir,
        sinkPort: sink.port,
        label,
        nodeFlags: settings.serverNodeFlags,
        ...(settings.pinning ? { cores: settings.pinning.server } : {}),
        ...(context.profileModes.includes(mode) ? { cpuProfDir: context.profileDir } : {}),
      });
      context.running.server = server;
      const args = [...generatorArgs(scenario, settings, server, context.nativeGenerator), '--helper-pid', String(sink.pid)];
      const timeoutMs = (Math.max(settings.warmupS, settings.connrateWarmupS) + settings.durationS + settings.idle.holdS) * 1000 + 120_000;
      record.result = await runGenerator(context, args, timeoutMs);
      record.exitCode = await server.stop();
      record.spansExported = (await sink.stats()).spans - spansBefore;
      context.log(`${tag}: ${headline(scenario, record.result)}`);
    } catch (error) {
      record.error = (error as Error).message;
      context.log(`${tag}: FAILED: ${record.error}`);
    } finally {
      await server?.stop();
    }
    // On a shared machine another process's burst can decide a single run: measure it again
    // (bounded in count, and never past the run's time budget).
    const background = record.result?.otherCores;
    if (background === undefined || background <= settings.maxBackground || attempt > settings.retries || retrySpent.s >= context.retryBudgetS) return;
    (record.discardedBackground ??= []).push(background);
    retrySpent.s += (Date.now() - attemptStarted) / 1000;
    context.log(`${tag}: other processes kept ${background.toFixed(2)} cores busy (> ${settings.maxBackground}): measuring again`);
    await sleep(500);
  }
}

/** Runs every scenario × round × mode; returns the records and the order they ran in. */
export async function measureAll(context: RunContext): Promise<{ records: RunRecord[]; order: string[] }> {
  const { scenarios, modes, rounds } = context.settings;
  const records: RunRecord[] = [];
  const order: string[] = [];
  const total = scenarios.length * modes.length * rounds;
  const retrySpent = { s: 0 };
  for (const scenario of scenarios) {
    for (let round = 0; round < rounds; round++) {
      const sequenceModes = round % 2 === 0 ? [...modes] : [...modes].reverse();
      order.push(`${scenario} round ${round + 1}: ${sequenceModes.join(', ')}`);
      for (const mode of sequenceModes) {
        const record: RunRecord = { scenario, mode, round, sequence: records.length };
        records.push(record);
        await measure(context, record, total, retrySpent);
        // Let the kernel settle (TIME_WAIT sockets, freed memory) between servers.
        await sleep(scenario === 'connrate' || scenario === 'idle' ? 1000 : 300);
      }
    }
  }
  return { records, order };
}
