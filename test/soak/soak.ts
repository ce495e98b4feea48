/**
 * Soak: `npm run soak -- --minutes N` (not part of `npm test`; needs `npm run build` first).
 *
 * Starts the built service (tracing on, exporting to an in-process OTLP sink; logging at warning),
 * runs a mixed load for N minutes — 4 long full-duplex streams (~2.5 MiB/s each), 16 paced
 * ping-pong clients, 4 churn workers (connect, echo 32 B, close), 8 slow readers (read 1 s in 3) —
 * verifying every echoed byte, and samples every 10 s: RSS and open fds (/proc), event-loop
 * delay p99 and the counters (/service/monitor?format=json), ping-pong p99 and churn rate.
 *
 * It fails (exit 1) when, after warm-up:
 *  - RSS trends upward: the least-squares slope over the post-warm-up samples projects a growth
 *    over that window of more than T, AND the median of the last third of those samples exceeds
 *    the median of the first third by more than T, with T = max(10 MiB, 5% of the first-third
 *    median). (Both: a GC sawtooth moves one of them, a leak moves both.)
 *  - fds trend upward: the median of (open fds − open connections) over the last third exceeds
 *    that of the first third by more than 4; and after the load stops and connections settle, the
 *    process holds more than 2 fds beyond its count before the load.
 *  - counters do not balance: opened ≠ closed + active in any sample, or after the settle
 *    active ≠ 0, or the service's opened count differs from the connections the clients made.
 *  - any echoed byte differs from what was sent, or a client sees an error.
 */
import { writeFileSync } from 'node:fs';
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import {
  PatternReceiver,
  connect,
  drained,
  echoOnce,
  patternSlice,
  percentile,
  sleep,
  waitFor,
  writePattern,
} from '../helpers/echo-client.js';
import { startFaultyCollector } from '../helpers/faults-collector.js';
import { echoCounters, metricValue, monitorJson } from '../helpers/monitor-client.js';
import { openFds, rssBytes, startService } from '../helpers/service.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    'sample-seconds': { type: 'string', default: '10' },
    'warmup-minutes': { type: 'string' },
    json: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write('usage: soak [--minutes N] [--sample-seconds S] [--warmup-minutes W] [--json out.json]\n');
  process.exit(0);
}
const MINUTES = Number(args.minutes);
const SAMPLE_MS = Number(args['sample-seconds']) * 1000;
const WARMUP_MS = (args['warmup-minutes'] === undefined ? Math.min(2, MINUTES / 5) : Number(args['warmup-minutes'])) * 60_000;
if (!(MINUTES > 0) || !(SAMPLE_MS >= 1000) || !(WARMUP_MS >= 0) || WARMUP_MS >= MINUTES * 60_000) {
  process.stderr.write('soak: --minutes must be > 0, --sample-seconds >= 1, and warm-up shorter than the run\n');
  process.exit(2);
}

const MiB = 1024 * 1024;
const LOAD = { streams: 4, streamChunk: MiB / 4, streamPauseMs: 100, pingPongClients: 16, pingPongPauseMs: 10, churnWorkers: 4, churnPauseMs: 5, slowReaders: 8 };

/** Client-side tallies, reset per sample window where noted. */
const client = {
  connects: 0,
  streamedBytes: 0,
  churnCycles: 0,
  pingLatencies: [] as number[], // this window
  errors: [] as string[],
  mismatches: 0,
};
let running = true;
let stopFailed = false;

function fail(what: string): void {
  if (client.errors.length < 1000) client.errors.push(what);
}

async function open(port: number): Promise<net.Socket> {
  const socket = await connect(port, { timeoutMs: 10_000, allowHalfOpen: false });
  client.connects++;
  socket.on('error', (error) => running && fail(`socket error: ${error.message}`));
  return socket;
}

/** Long full-duplex streams: 256 KiB rounds (paced), echo checked; a new connection every ~60 s. */
async function streamLoop(port: number): Promise<void> {
  while (running) {
    const socket = await open(port);
    const receiver = new PatternReceiver(socket);
    const until = Date.now() + 60_000;
    let sent = 0;
    while (running && Date.now() < until) {
      sent += await writePattern(socket, LOAD.streamChunk, { chunkSize: 65_536, startOffset: sent, timeoutMs: 30_000 });
      if (!(await receiver.until(sent, 30_000))) {
        fail(`stream: ${receiver.received}/${sent} bytes back`);
        break;
      }
      client.streamedBytes += LOAD.streamChunk;
      await sleep(LOAD.streamPauseMs);
    }
    if (receiver.mismatchAt !== undefined) client.mismatches++;
    socket.destroy();
  }
}

/** Ping-pong, paced: latencies per window. */
async function pingPongLoop(port: number): Promise<void> {
  while (running) {
    const socket = await open(port);
    socket.setNoDelay(true);
    const receiver = new PatternReceiver(socket);
    let offset = 0;
    const until = Date.now() + 30_000;
    while (running && Date.now() < until) {
      const started = performance.now();
      socket.write(patternSlice(offset, 64));
      offset += 64;
      if (!(await receiver.until(offset, 10_000))) {
        fail('ping-pong: no echo within 10 s');
        break;
      }
      client.pingLatencies.push(performance.now() - started);
      await sleep(LOAD.pingPongPauseMs);
    }
    if (receiver.mismatchAt !== undefined) client.mismatches++;
    socket.destroy();
  }
}

/** Churn: connect, echo 32 bytes, close. */
async function churnLoop(port: number): Promise<void> {
  while (running) {
    try {
      await echoOnce(port, 32, 10_000);
      client.connects++;
      client.churnCycles++;
    } catch (error) {
      fail(`churn: ${(error as Error).message}`);
    }
    await sleep(LOAD.churnPauseMs);
  }
}

/** Slow readers: send 256 KiB bursts; read for 1 s out of every 3, so the service's bound is hit. */
async function slowReaderLoop(port: number): Promise<void> {
  while (running) {
    const socket = await open(port);
    const receiver = new PatternReceiver(socket);
    socket.pause();
    let sent = 0;
    const until = Date.now() + 45_000;
    while (running && Date.now() < until) {
      const writing = (async () => {
        for (let i = 0; i < 4 && running; i++) {
          const more = socket.write(patternSlice(sent, 65_536));
          sent += 65_536;
          if (!more && !(await drained(socket, 3000))) break;
        }
      })();
      await sleep(2000);
      socket.resume();
      await sleep(1000);
      socket.pause();
      await writing;
    }
    socket.resume();
    if (!(await receiver.until(sent, 30_000))) fail(`slow reader: ${receiver.received}/${sent} bytes back`);
    if (receiver.mismatchAt !== undefined) client.mismatches++;
    socket.destroy();
  }
}

interface Sample {
  t: number;
  rssMiB: number;
  fds: number;
  active: number;
  opened: number;
  closed: number;
  balanced: boolean;
  loopDelayP99Ms: number | undefined;
  bufferedKiB: number | undefined;
  pingP99Ms: number;
  churnPerSec: number;
  streamMiBPerSec: number;
}

function median(values: number[]): number {
  return percentile(values, 50);
}

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += ((xs[i] as number) - mx) * ((ys[i] as number) - my);
    den += ((xs[i] as number) - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

async function main(): Promise<number> {
  const collector = await startFaultyCollector({ kind: 'ok' });
  const service = await startService({
    components: (c) => {
      (c.logging as { loggers: { default: Record<string, unknown> } }).loggers.default.level = 'warning';
      c.tracer = { 'log-spans': 'never' };
    },
    env: { OTEL_SDK_DISABLED: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_TRACES_SAMPLER: 'always_on' },
  });
  const problems: string[] = [];
  try {
    await sleep(500);
    const fdsBefore = openFds(service.pid);
    const countersBefore = await echoCounters(service.monitorUrl);
    process.stdout.write(
      `soak: ${MINUTES} min (warm-up ${(WARMUP_MS / 60_000).toFixed(1)} min), pid ${service.pid}, ` +
        `load ${JSON.stringify(LOAD)}; fds before ${fdsBefore}\n`,
    );
    process.stdout.write('   t(s)  rss(MiB)  fds  active     opened  balanced  loop-p99(ms)  buffered(KiB)  ping-p99(ms)  churn/s  stream MiB/s\n');

    const port = service.echoPort;
    const loops = [
      ...Array.from({ length: LOAD.streams }, () => streamLoop(port)),
      ...Array.from({ length: LOAD.pingPongClients }, () => pingPongLoop(port)),
      ...Array.from({ length: LOAD.churnWorkers }, () => churnLoop(port)),
      ...Array.from({ length: LOAD.slowReaders }, () => slowReaderLoop(port)),
    ].map((p) => p.catch((error: Error) => fail(`load loop crashed: ${error.message}`)));

    const started = Date.now();
    const end = started + MINUTES * 60_000;
    const samples: Sample[] = [];
    let lastChurn = 0;
    let lastStreamed = 0;
    let lastAt = started;
    while (Date.now() < end) {
      await sleep(Math.min(SAMPLE_MS, end - Date.now()));
      if (service.child.exitCode !== null || service.child.signalCode !== null) {
        problems.push(`the service exited (${service.child.exitCode ?? service.child.signalCode})`);
        break;
      }
      const snapshot = await monitorJson(service.monitorUrl);
      const now = Date.now();
      const opened = metricValue(snapshot, 'tcp-echo.sockets.opened', {}, 'exact') ?? Number.NaN;
      const closed = metricValue(snapshot, 'tcp-echo.sockets.closed', {}, 'exact') ?? Number.NaN;
      const active = metricValue(snapshot, 'tcp-echo.sockets.active', {}, 'exact') ?? Number.NaN;
      const delay = metricValue(snapshot, 'engine.event-loop.delay.p99', {}, 'exact');
      const buffered = metricValue(snapshot, 'tcp-echo.backpressure.buffered-bytes', {}, 'exact');
      const seconds = (now - lastAt) / 1000;
      const sample: Sample = {
        t: Math.round((now - started) / 1000),
        rssMiB: rssBytes(service.pid) / MiB,
        fds: openFds(service.pid),
        active,
        opened,
        closed,
        balanced: opened === closed + active,
        // The gauge is in seconds (OpenTelemetry's unit for durations).
        loopDelayP99Ms: delay === undefined ? undefined : delay * 1000,
        bufferedKiB: buffered === undefined ? undefined : buffered / 1024,
        pingP99Ms: percentile(client.pingLatencies, 99),
        churnPerSec: (client.churnCycles - lastChurn) / seconds,
        streamMiBPerSec: (client.streamedBytes - lastStreamed) / MiB / seconds,
      };
      client.pingLatencies = [];
      lastChurn = client.churnCycles;
      lastStreamed = client.streamedBytes;
      lastAt = now;
      samples.push(sample);
      if (!sample.balanced) problems.push(`t=${sample.t}s: opened ${opened} != closed ${closed} + active ${active}`);
      const f = (n: number | undefined, w: number, d = 1): string => (n === undefined || Number.isNaN(n) ? '-' : n.toFixed(d)).padStart(w);
      process.stdout.write(
        `${f(sample.t, 7, 0)} ${f(sample.rssMiB, 9)} ${f(sample.fds, 4, 0)} ${f(active, 7, 0)} ${f(opened, 10, 0)} ` +
          `${String(sample.balanced).padStart(9)} ${f(sample.loopDelayP99Ms, 13, 2)} ${f(sample.bufferedKiB, 14)} ` +
          `${f(sample.pingP99Ms, 13, 2)} ${f(sample.churnPerSec, 8, 0)} ${f(sample.streamMiBPerSec, 13)}\n`,
      );
    }

    running = false;
    await Promise.race([Promise.all(loops), sleep(60_000)]);
    let settled = await echoCounters(service.monitorUrl);
    await waitFor(async () => (settled = await echoCounters(service.monitorUrl)).active === 0, 15_000, 200);
    let fdsAfter = openFds(service.pid);
    await waitFor(() => (fdsAfter = openFds(service.pid)) <= fdsBefore + 2, 5000, 200);

    // Verdicts.
    const post = samples.filter((s) => s.t * 1000 >= WARMUP_MS);
    const trend: Record<string, unknown> = { postWarmupSamples: post.length };
    if (post.length >= 6) {
      const third = Math.max(2, Math.floor(post.length / 3));
      const first = post.slice(0, third);
      const last = post.slice(-third);
      const rssFirst = median(first.map((s) => s.rssMiB));
      const rssLast = median(last.map((s) => s.rssMiB));
      const rssSlope = slope(post.map((s) => s.t), post.map((s) => s.rssMiB)); // MiB per second
      const window = (post[post.length - 1] as Sample).t - (post[0] as Sample).t;
      const threshold = Math.max(10, 0.05 * rssFirst);
      const projected = rssSlope * window;
      const fdFirst = median(first.map((s) => s.fds - s.active));
      const fdLast = median(last.map((s) => s.fds - s.active));
      Object.assign(trend, {
        rssFirstThirdMiB: +rssFirst.toFixed(1),
        rssLastThirdMiB: +rssLast.toFixed(1),
        rssSlopeMiBPerMin: +(rssSlope * 60).toFixed(3),
        rssProjectedGrowthMiB: +projected.toFixed(1),
        rssThresholdMiB: +threshold.toFixed(1),
        fdsMinusActiveFirstThird: fdFirst,
        fdsMinusActiveLastThird: fdLast,
      });
      if (projected > threshold && rssLast - rssFirst > threshold) {
        problems.push(`RSS trends upward: ${rssFirst.toFixed(1)} -> ${rssLast.toFixed(1)} MiB, slope ${(rssSlope * 60).toFixed(2)} MiB/min (threshold ${threshold.toFixed(1)} MiB)`);
      }
      if (fdLast - fdFirst > 4) problems.push(`fds trend upward: fds - active ${fdFirst} -> ${fdLast}`);
    } else {
      problems.push(`only ${post.length} samples after warm-up: run longer (at least 6 are needed for the trend rule)`);
    }
    if (fdsAfter > fdsBefore + 2) problems.push(`fd leak: ${fdsBefore} before the load, ${fdsAfter} after it settled`);
    if (settled.active !== 0) problems.push(`${settled.active} connections still open after the load stopped`);
    if (settled.opened !== settled.closed + settled.active) problems.push(`final counters do not balance: ${JSON.stringify(settled)}`);
    const servedConnects = settled.opened - countersBefore.opened;
    if (servedConnects !== client.connects) problems.push(`the service counted ${servedConnects} connections, the clients made ${client.connects}`);
    if (client.mismatches > 0) problems.push(`${client.mismatches} connections got back bytes that differ from what they sent`);
    if (client.errors.length > 0) problems.push(`${client.errors.length} client errors, first: ${client.errors.slice(0, 5).join(' | ')}`);

    const summary = {
      minutes: MINUTES,
      warmupMinutes: WARMUP_MS / 60_000,
      load: LOAD,
      connections: client.connects,
      streamedMiB: +(client.streamedBytes / MiB).toFixed(1),
      churnCycles: client.churnCycles,
      spanExports: collector.requests(),
      fdsBefore,
      fdsAfter,
      countersAfter: settled,
      rssMiB: { min: +Math.min(...samples.map((s) => s.rssMiB)).toFixed(1), max: +Math.max(...samples.map((s) => s.rssMiB)).toFixed(1) },
      loopDelayP99MsMax: Math.max(...samples.map((s) => s.loopDelayP99Ms ?? 0)),
      pingP99MsMedian: +median(samples.map((s) => s.pingP99Ms)).toFixed(2),
      trend,
      problems,
      samples,
    };
    if (args.json) writeFileSync(args.json, `${JSON.stringify(summary, null, 2)}\n`);
    const { samples: _omit, ...brief } = summary;
    void _omit;
    process.stdout.write(`${JSON.stringify(brief, null, 2)}\n`);
    process.stdout.write(problems.length === 0 ? 'soak: PASS\n' : `soak: FAIL\n  ${problems.join('\n  ')}\n`);
    return problems.length === 0 ? 0 : 1;
  } finally {
    running = false;
    const code = await service.stop();
    if (code !== 0) {
      stopFailed = true;
      process.stdout.write(`soak: FAIL: the service exited with ${code} on SIGTERM\n`);
    }
    await collector.close();
  }
}

const verdict = await main();
process.exitCode = verdict !== 0 || stopFailed ? 1 : 0;
