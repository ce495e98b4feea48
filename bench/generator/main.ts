/**
 * The load generator: its own process, with worker threads sharing the connections of one scenario.
 * Its main thread does no load itself: it starts the workers, samples the server's CPU and RSS from
 * /proc at the edges of the measured window (and every 100 ms for the peak), optionally scrapes the
 * server's metrics endpoints, and prints one JSON result line on stdout.
 *
 * Usage: node main.js --scenario throughput --port 8181 [--server-pid PID] [--threads 1] ...
 * (see `usage` below).
 */
import { Worker } from 'node:worker_threads';
import { numberFlag, parseFlags, stringFlag, listFlag } from '../lib/args.js';
import { machineBusySeconds, ProcReader, type ProcSample } from '../lib/proc.js';
import { Histogram } from './histogram.js';
import { SCENARIOS, type Scenario, type WorkerMessage, type WorkerResult, type WorkerTask } from './protocol.js';

const usage = `load generator for tcp-echo benchmarks
  --scenario throughput|pingpong|connrate|idle   (required)
  --port N            server port on --host (required)
  --host ADDR         default 127.0.0.1 (loopback only)
  --threads N         worker threads (default 1)
  --connections N     throughput/pingpong connections, connrate loops, idle connections
  --message-size B    throughput bytes per write (default 16384)
  --window B          throughput bytes in flight per connection (default 262144)
  --request-size B    pingpong/connrate/idle request bytes (default 32)
  --warmup S          seconds before the measured window (default 1)
  --duration S        seconds measured (default 5)
  --hold S            idle: seconds the connections are held while RSS is sampled (default 3)
  --connect-concurrency N   idle: connects in flight per thread (default 64)
  --server-pid PID    measure this process and its children from /proc
  --helper-pid PID    a helper of the run (the OTLP sink): its CPU is reported and not counted as background
  --scrape URL,URL    GET these every --scrape-interval ms during the run (metrics scrapers)
  --scrape-interval MS      default 1000`;

/** Latency percentiles in microseconds. */
export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  mean: number;
  max: number;
  count: number;
}

/** What one generator run measured; printed as one JSON line. */
export interface GeneratorResult {
  scenario: Scenario;
  threads: number;
  connections: number;
  durationS: number;
  /** Echoed and verified inside the window. */
  windowBytes: number;
  mbPerSec: number;
  /** Requests (pingpong) or cycles (connrate) per second in the window. */
  opsPerSec: number;
  /** Requests or cycles over the whole run, warm-up and wind-down included. */
  totalOps: number;
  latencyUs: LatencySummary | undefined;
  /** Server CPU seconds inside the window (process tree, from /proc). */
  serverCpuS: number | undefined;
  /** The generator's own CPU seconds inside the window (all its threads). */
  generatorCpuS: number | undefined;
  /** CPU seconds of the --helper-pid process (the OTLP sink) inside the window. */
  helperCpuS: number | undefined;
  /** Cores kept busy by every other process during the window (machine busy − server − generator − helper). */
  otherCores: number | undefined;
  /** Server CPU seconds per 1e9 bytes echoed (throughput). */
  cpuPerGB: number | undefined;
  /** Server CPU seconds per 1,000 connections (connrate) or per 1e6 requests (pingpong). */
  cpuPer1kConn: number | undefined;
  cpuPer1MReq: number | undefined;
  rssStartBytes: number | undefined;
  rssPeakBytes: number | undefined;
  /** idle: server RSS while the connections were held (median of samples) and per connection. */
  rssHeldBytes: number | undefined;
  rssPerIdleConnBytes: number | undefined;
  established: number;
  errors: Record<string, number>;
  verifyFailures: number;
  incomplete: number;
  scrapes: { ok: number; failed: number };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  if (flags.has('help')) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const [scenario] = listFlag(flags, 'scenario', SCENARIOS, []);
  if (!scenario) throw new Error(`--scenario is required\n${usage}`);
  const port = numberFlag(flags, 'port', 0, 1);
  if (port === 0) throw new Error(`--port is required\n${usage}`);
  const host = stringFlag(flags, 'host', '127.0.0.1');
  const threads = numberFlag(flags, 'threads', 1, 1);
  const defaults: Record<Scenario, number> = { throughput: 64, pingpong: 32, connrate: 32, idle: 10_000 };
  const connections = numberFlag(flags, 'connections', defaults[scenario], 1);
  const warmupMs = numberFlag(flags, 'warmup', 1) * 1000;
  const durationMs = numberFlag(flags, 'duration', 5, 0.1) * 1000;
  const holdMs = numberFlag(flags, 'hold', 3, 0.2) * 1000;
  const serverPid = numberFlag(flags, 'server-pid', 0);
  const scrapeUrls = stringFlag(flags, 'scrape', '').split(',').filter(Boolean);
  const scrapeIntervalMs = numberFlag(flags, 'scrape-interval', 1000, 10);

  const proc = serverPid > 0 ? new ProcReader(serverPid) : undefined;
  const helperPid = numberFlag(flags, 'helper-pid', 0);
  const helper = helperPid > 0 ? new ProcReader(helperPid) : undefined;
  const start = proc?.sample();
  let peak = start?.rssBytes ?? 0;
  const sampler = setInterval(() => {
    if (proc) peak = Math.max(peak, proc.sample().rssBytes);
  }, 100);

  const scrapes = { ok: 0, failed: 0 };
  const scraper = scrapeUrls.length === 0 ? undefined : setInterval(() => void scrapeAll(scrapeUrls, scrapes), scrapeIntervalMs);

  // Connections are set up before the window opens: 300 ms plus the warm-up.
  const measureStart = Date.now() + 300 + warmupMs;
  const measureEnd = measureStart + durationMs;
  let cpuAtStart: ProcSample | undefined;
  let cpuAtEnd: ProcSample | undefined;
  // The whole machine's and this generator's CPU over the same window: what is left is other
  // processes' load, which on a shared machine explains a noisy figure.
  const machine = { start: 0, end: 0, selfStart: process.cpuUsage(), selfEnd: process.cpuUsage(), helperStart: 0, helperEnd: 0 };
  if (proc && scenario !== 'idle') {
    setTimeout(() => {
      cpuAtStart = proc.sample();
      machine.start = machineBusySeconds();
      machine.selfStart = process.cpuUsage();
      machine.helperStart = helper?.sample().cpuSeconds ?? 0;
    }, measureStart - Date.now());
    setTimeout(() => {
      cpuAtEnd = proc.sample();
      machine.end = machineBusySeconds();
      machine.selfEnd = process.cpuUsage();
      machine.helperEnd = helper?.sample().cpuSeconds ?? 0;
    }, measureEnd - Date.now());
  }

  const workerFile = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);
  const workers: Worker[] = [];
  const held: Promise<number>[] = [];
  const done: Promise<WorkerResult>[] = [];
  for (let i = 0; i < threads; i++) {
    const share = Math.floor(connections / threads) + (i < connections % threads ? 1 : 0);
    if (share === 0) continue;
    const task: WorkerTask = {
      scenario,
      host,
      port,
      connections: share,
      workerIndex: i,
      messageSize: numberFlag(flags, 'message-size', 16_384, 1),
      window: numberFlag(flags, 'window', 262_144, 1),
      requestSize: numberFlag(flags, 'request-size', 32, 1),
      measureStart,
      measureEnd,
      connectConcurrency: numberFlag(flags, 'connect-concurrency', 64, 1),
      drainTimeoutMs: 10_000,
    };
    if (task.window < task.messageSize) throw new Error(`--window (${task.window}) must be ≥ --message-size (${task.messageSize})`);
    const worker = new Worker(workerFile, { workerData: task });
    workers.push(worker);
    const messages = (type: WorkerMessage['type']) =>
      new Promise<WorkerMessage>((resolve, reject) => {
        worker.on('message', (m: WorkerMessage) => m.type === type && resolve(m));
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`worker ${i} exited with ${code} before '${type}'`)));
      });
    if (scenario === 'idle') held.push(messages('held').then((m) => (m.type === 'held' ? m.established : 0)));
    done.push(messages('done').then((m) => (m as Extract<WorkerMessage, { type: 'done' }>).result));
  }

  let rssHeld: number | undefined;
  if (scenario === 'idle') {
    // Opening is bounded: a worker settles every connection (echoed, failed or refused).
    await Promise.all(held);
    const samples: number[] = [];
    const holdEnd = Date.now() + holdMs;
    while (Date.now() < holdEnd) {
      if (proc) samples.push(proc.sample().rssBytes);
      await sleep(100);
    }
    // The second half of the hold: after the allocator and GC settled on the held connections.
    const settled = samples.slice(Math.floor(samples.length / 2)).sort((a, b) => a - b);
    rssHeld = settled[Math.floor(settled.length / 2)];
    for (const worker of workers) worker.postMessage({ type: 'release' });
  }

  const results = await Promise.all(done);
  clearInterval(sampler);
  if (scraper) clearInterval(scraper);
  // terminate() resolves at once for a worker that already exited (they exit after reporting).
  await Promise.all(workers.map((w) => w.terminate()));

  const latency = new Histogram();
  const total = { windowBytes: 0, windowOps: 0, totalOps: 0, established: 0, verifyFailures: 0, incomplete: 0 };
  const errors: Record<string, number> = {};
  for (const r of results) {
    if (r.latency) latency.merge(r.latency);
    total.windowBytes += r.windowBytes;
    total.windowOps += r.windowOps;
    total.totalOps += r.totalOps;
    total.established += r.established;
    total.verifyFailures += r.verifyFailures;
    total.incomplete += r.incomplete;
    for (const [code, n] of Object.entries(r.errors)) errors[code] = (errors[code] ?? 0) + n;
  }
  const seconds = durationMs / 1000;
  const cpu = cpuAtStart && cpuAtEnd ? cpuAtEnd.cpuSeconds - cpuAtStart.cpuSeconds : undefined;
  const generatorCpu =
    (machine.selfEnd.user + machine.selfEnd.system - machine.selfStart.user - machine.selfStart.system) / 1e6;
  const helperCpu = machine.helperEnd - machine.helperStart;
  const otherCores =
    cpu === undefined ? undefined : Math.max(0, machine.end - machine.start - cpu - generatorCpu - helperCpu) / seconds;
  const result: GeneratorResult = {
    scenario,
    threads,
    connections,
    durationS: scenario === 'idle' ? holdMs / 1000 : seconds,
    windowBytes: total.windowBytes,
    mbPerSec: scenario === 'throughput' ? total.windowBytes / 1e6 / seconds : 0,
    opsPerSec: scenario === 'pingpong' || scenario === 'connrate' ? total.windowOps / seconds : 0,
    totalOps: total.totalOps,
    latencyUs:
      latency.count === 0
        ? undefined
        : {
            p50: latency.quantile(0.5),
            p90: latency.quantile(0.9),
            p99: latency.quantile(0.99),
            p999: latency.quantile(0.999),
            mean: latency.sum / latency.count,
            max: latency.max,
            count: latency.count,
          },
    serverCpuS: cpu,
    generatorCpuS: cpu === undefined ? undefined : generatorCpu,
    helperCpuS: cpu === undefined || !helper ? undefined : helperCpu,
    otherCores,
    cpuPerGB: cpu !== undefined && scenario === 'throughput' && total.windowBytes > 0 ? cpu / (total.windowBytes / 1e9) : undefined,
    cpuPer1kConn: cpu !== undefined && scenario === 'connrate' && total.windowOps > 0 ? (cpu / total.windowOps) * 1000 : undefined,
    cpuPer1MReq: cpu !== undefined && scenario === 'pingpong' && total.windowOps > 0 ? (cpu / total.windowOps) * 1e6 : undefined,
    rssStartBytes: start?.rssBytes,
    rssPeakBytes: proc ? peak : undefined,
    rssHeldBytes: rssHeld,
    rssPerIdleConnBytes:
      rssHeld !== undefined && start && total.established > 0 ? (rssHeld - start.rssBytes) / total.established : undefined,
    established: total.established,
    errors,
    verifyFailures: total.verifyFailures,
    incomplete: total.incomplete,
    scrapes,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

async function scrapeAll(urls: string[], counts: { ok: number; failed: number }): Promise<void> {
  await Promise.all(
    urls.map(async (url) => {
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
        await response.arrayBuffer();
        if (response.ok) counts.ok++;
        else counts.failed++;
      } catch {
        counts.failed++;
      }
    }),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`load generator: ${(error as Error).message}\n`);
  process.exitCode = 2;
});
