/**
 * The load generator: its own process. The load itself runs in the native generator (C, epoll,
 * `--native PATH`, see native/loadgen.c) or, without one, in JavaScript worker threads
 * (worker.ts). This main thread does no load: it starts the load, samples the server's CPU and
 * RSS from /proc at the edges of the measured window (and every 100 ms for the peak), measures the
 * load's own CPU over the same window, optionally scrapes the server's metrics endpoints, and
 * prints one JSON result line (a GeneratorResult) on stdout.
 *
 * Usage: node main.js --scenario throughput --port 8181 [--server-pid PID] [--native PATH] ...
 * (see `usage` below).
 */
import { numberFlag, parseFlags, stringFlag, listFlag } from '../lib/args.js';
import { machineBusySeconds, ProcReader, type ProcSample } from '../lib/proc.js';
import { Histogram } from './histogram.js';
import { startJsLoad, startNativeLoad, type LoadRun } from './load.js';
import { SCENARIOS, type GeneratorResult, type Scenario, type WorkerTask } from './protocol.js';

const usage = `load generator for tcp-echo benchmarks
  --scenario throughput|pingpong|connrate|idle   (required)
  --port N            server port on --host (required)
  --host ADDR         default 127.0.0.1 (loopback only)
  --native PATH       run the load in the native generator at PATH (else JavaScript worker threads)
  --threads N         JavaScript worker threads (default 1; the native generator is one thread)
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

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** CPU seconds of this process's main thread (the harness), where Node can tell (22.19+/23.9+). */
function mainThreadCpuSeconds(): number | undefined {
  const threadCpuUsage = (process as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage;
  if (typeof threadCpuUsage !== 'function') return undefined;
  const usage = threadCpuUsage.call(process);
  return (usage.user + usage.system) / 1e6;
}

function processCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

/** One reading of everything whose CPU a window accounts for. */
interface Edge {
  server: ProcSample | undefined;
  /** The server's V8 worker threads' CPU seconds so far. */
  v8Workers: number | undefined;
  machine: number;
  load: number;
  process: number;
  mainThread: number | undefined;
  helper: number;
  at: number;
}

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
  const nativePath = stringFlag(flags, 'native', '');
  const threads = nativePath === '' ? numberFlag(flags, 'threads', 1, 1) : 1;
  const defaults: Record<Scenario, number> = { throughput: 64, pingpong: 32, connrate: 16, idle: 10_000 };
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
  const task: WorkerTask = {
    scenario,
    host: stringFlag(flags, 'host', '127.0.0.1'),
    port,
    connections,
    workerIndex: 0,
    messageSize: numberFlag(flags, 'message-size', 16_384, 1),
    window: numberFlag(flags, 'window', 262_144, 1),
    requestSize: numberFlag(flags, 'request-size', 32, 1),
    measureStart,
    measureEnd,
    connectConcurrency: numberFlag(flags, 'connect-concurrency', 64, 1),
    drainTimeoutMs: 10_000,
  };
  if (task.window < task.messageSize) throw new Error(`--window (${task.window}) must be ≥ --message-size (${task.messageSize})`);

  let load: LoadRun | undefined;
  // The server's, the machine's, the load's and this process's CPU over the same window: what is
  // left of the machine's is other processes' load, which on a shared machine explains a noisy figure.
  const edge = (): Edge => ({
    server: proc?.sample(),
    v8Workers: proc?.v8WorkerSeconds(),
    machine: machineBusySeconds(),
    load: load?.cpuSeconds() ?? 0,
    process: processCpuSeconds(),
    mainThread: mainThreadCpuSeconds(),
    helper: helper?.sample().cpuSeconds ?? 0,
    at: performance.now(),
  });
  let first: Edge | undefined;
  let last: Edge | undefined;
  if (scenario === 'idle') first = edge();
  load = nativePath === '' ? startJsLoad(task, threads) : startNativeLoad(nativePath, task);
  // Resolves once the window's last edge is read (idle: once held), whenever the load reports.
  let windowClosed: () => void = () => {};
  const closed = new Promise<void>((resolve) => (windowClosed = resolve));
  if (scenario !== 'idle') {
    setTimeout(() => (first = edge()), measureStart - Date.now());
    setTimeout(() => {
      last = edge();
      windowClosed();
    }, measureEnd - Date.now());
  }

  let rssHeld: number | undefined;
  if (scenario === 'idle') {
    // Opening is bounded: the load settles every connection (echoed, failed or refused). The CPU
    // window of idle is this opening: connect and echo once, per connection, on both sides.
    await load.held;
    last = edge();
    windowClosed();
    const samples: number[] = [];
    const holdEnd = Date.now() + holdMs;
    while (Date.now() < holdEnd) {
      if (proc) samples.push(proc.sample().rssBytes);
      await sleep(100);
    }
    // The second half of the hold: after the allocator and GC settled on the held connections.
    const settled = samples.slice(Math.floor(samples.length / 2)).sort((a, b) => a - b);
    rssHeld = settled[Math.floor(settled.length / 2)];
    load.release();
  }

  let r: Awaited<LoadRun['done']>;
  try {
    r = await load.done;
    await closed;
  } finally {
    load.finish();
  }
  clearInterval(sampler);
  if (scraper) clearInterval(scraper);

  const latency = r.latency ? Histogram.fromData(r.latency) : new Histogram();
  const seconds = durationMs / 1000;
  const measured = first !== undefined && last !== undefined && first.server !== undefined && last.server !== undefined;
  const cpu = measured ? last!.server!.cpuSeconds - first!.server!.cpuSeconds : undefined;
  const cpuWindowS = measured ? (last!.at - first!.at) / 1000 : undefined;
  const loadCpu = measured ? last!.load - first!.load : undefined;
  // The harness: this process minus the load (JS workers share it); the native load is another process.
  const harnessCpu = !measured
    ? undefined
    : nativePath !== ''
      ? last!.process - first!.process
      : last!.mainThread !== undefined && first!.mainThread !== undefined
        ? last!.mainThread - first!.mainThread
        : undefined;
  const helperCpu = measured ? last!.helper - first!.helper : 0;
  const otherCores =
    cpu === undefined
      ? undefined
      : Math.max(0, last!.machine - first!.machine - cpu - (loadCpu ?? 0) - (harnessCpu ?? 0) - helperCpu) / cpuWindowS!;
  const windowOps = scenario === 'idle' ? r.established : scenario === 'throughput' ? r.windowBytes : r.windowOps;
  const result: GeneratorResult = {
    scenario,
    generator: nativePath === '' ? 'js' : 'native',
    threads,
    connections,
    durationS: scenario === 'idle' ? holdMs / 1000 : seconds,
    windowBytes: r.windowBytes,
    mbPerSec: scenario === 'throughput' ? r.windowBytes / 1e6 / seconds : 0,
    opsPerSec: scenario === 'pingpong' || scenario === 'connrate' ? r.windowOps / seconds : 0,
    totalOps: r.totalOps,
    windowOps,
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
    cpuWindowS,
    serverCpuS: cpu,
    serverV8WorkerCpuS: measured && last!.v8Workers !== undefined && first!.v8Workers !== undefined ? last!.v8Workers - first!.v8Workers : undefined,
    generatorCpuS: loadCpu,
    harnessCpuS: harnessCpu,
    helperCpuS: cpu === undefined || !helper ? undefined : helperCpu,
    otherCores,
    cpuPerGB: cpu !== undefined && scenario === 'throughput' && r.windowBytes > 0 ? cpu / (r.windowBytes / 1e9) : undefined,
    cpuUsPerConn:
      cpu === undefined || windowOps === 0 ? undefined : scenario === 'connrate' || scenario === 'idle' ? (cpu / windowOps) * 1e6 : undefined,
    cpuUsPerReq: cpu !== undefined && scenario === 'pingpong' && r.windowOps > 0 ? (cpu / r.windowOps) * 1e6 : undefined,
    rssStartBytes: start?.rssBytes,
    rssPeakBytes: proc ? peak : undefined,
    rssHeldBytes: rssHeld,
    rssPerIdleConnBytes: rssHeld !== undefined && start && r.established > 0 ? (rssHeld - start.rssBytes) / r.established : undefined,
    established: r.established,
    errors: r.errors,
    verifyFailures: r.verifyFailures,
    incomplete: r.incomplete,
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
