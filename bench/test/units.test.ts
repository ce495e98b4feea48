/** Unit tests of the benchmark's pure parts: pattern, histogram, flags, /proc parsing, aggregation, reports. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import type { GeneratorResult } from '../generator/protocol.js';
import { Histogram } from '../generator/histogram.js';
import { makePattern, matches, PERIOD, slice } from '../generator/pattern.js';
import { listFlag, numberFlag, parseFlags } from '../lib/args.js';
import { machineBusySeconds, parseStat, ProcReader, v8WorkerSeconds } from '../lib/proc.js';
import { aggregate, cpuShare, FIGURES, median, type RunRecord } from '../report/figures.js';
import { cpuLines, renderMarkdown } from '../report/markdown.js';
import { notesFor } from '../report/notes.js';
import type { BenchReport } from '../report/types.js';
import { renderSvg } from '../report/svg.js';
import { MODE_DESCRIPTIONS, MODES } from '../lib/servers.js';
import { areaOf } from '../profile-summary.js';
import { allocationShares, NODE_OWN, renderAllocations, type HeapProfileNode } from '../report/allocations.js';

test('pattern: a stream matches itself at any phase and across the period boundary', () => {
  const pattern = makePattern();
  for (const offset of [0, 1, PERIOD - 3, PERIOD, 5 * PERIOD + 17]) {
    const chunk = Buffer.from(slice(pattern, offset, 70_000));
    assert.ok(matches(pattern, offset, chunk), `offset ${offset}`);
  }
});

test('pattern: a changed, shifted or misplaced byte is caught', () => {
  const pattern = makePattern();
  const chunk = Buffer.from(slice(pattern, 1000, 4096));
  chunk[4000] = chunk[4000]! ^ 1;
  assert.equal(matches(pattern, 1000, chunk), false);
  assert.equal(matches(pattern, 1001, Buffer.from(slice(pattern, 1000, 4096))), false, 'shifted by one');
  // No short sub-period: a chunk 251 bytes late does not match either.
  assert.equal(matches(pattern, 1000, Buffer.from(slice(pattern, 1251, 4096))), false);
});

test('histogram: percentiles within 1% of the exact ones, merge adds', () => {
  const a = new Histogram();
  const b = new Histogram();
  for (let i = 1; i <= 10_000; i++) (i % 2 ? a : b).record(i);
  a.merge(Histogram.fromData(b.toData()));
  assert.equal(a.count, 10_000);
  for (const [q, exact] of [[0.5, 5000], [0.9, 9000], [0.99, 9900], [0.999, 9990]] as const) {
    const got = a.quantile(q);
    assert.ok(got >= exact && got <= exact * 1.011, `q${q}: ${got} vs ${exact}`);
  }
  assert.equal(a.quantile(1), 10_000);
  assert.ok(Number.isNaN(new Histogram().quantile(0.5)));
});

test('flags: values, booleans, lists and errors that name the flag', () => {
  const flags = parseFlags(['--quick', '--duration', '3', '--modes=bare,off']);
  assert.equal(flags.get('quick'), true);
  assert.equal(numberFlag(flags, 'duration', 1), 3);
  assert.deepEqual(listFlag(flags, 'modes', MODES, []), ['bare', 'off']);
  assert.throws(() => numberFlag(parseFlags(['--duration', 'x']), 'duration', 1), /--duration must be a number/);
  assert.throws(() => listFlag(parseFlags(['--modes', 'bare,of']), 'modes', MODES, []), /unknown of/);
  assert.throws(() => parseFlags(['stray']), /unexpected argument 'stray'/);
});

test('proc: stat parsing survives spaces and parentheses in the command name', () => {
  const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
  fields[4 - 3] = '77'; // ppid
  fields[14 - 3] = '100';
  fields[15 - 3] = '50';
  fields[16 - 3] = '30';
  fields[17 - 3] = '20';
  const parsed = parseStat(`1234 (a (weird) name) ${fields.join(' ')}`);
  assert.deepEqual(parsed, { ppid: 77, cpuSeconds: 2 });
});

test('proc: the CPU of a node process\'s V8 worker threads (compilers, parallel GC); 0 without any', async () => {
  // Allocation with survivors keeps V8's parallel scavenger and concurrent marker (worker threads) busy.
  const child = spawn(process.execPath, ['-e', 'let keep = []; for (;;) { keep.push({ a: [1, 2, 3], s: "x" + Math.random() }); if (keep.length > 2e5) keep = []; }'], { stdio: 'ignore' });
  try {
    await new Promise((resolve) => child.once('spawn', resolve));
    // Waits for the condition, not for a time: a loaded machine gives the child little CPU.
    const deadline = Date.now() + 120_000;
    let seconds = 0;
    while (Date.now() < deadline && (seconds = v8WorkerSeconds(child.pid!)) < 0.02) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(seconds >= 0.02, `V8 worker threads of a busy node process: ${seconds} s`);
    const reader = new ProcReader(child.pid!);
    reader.sample();
    assert.ok(reader.v8WorkerSeconds() >= seconds, 'the reader sums the same threads');
  } finally {
    child.kill('SIGKILL');
  }
  const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    await new Promise((resolve) => sleeper.once('spawn', resolve));
    assert.equal(v8WorkerSeconds(sleeper.pid!), 0, 'a process without V8');
  } finally {
    sleeper.kill('SIGKILL');
  }
  assert.equal(v8WorkerSeconds(2 ** 22 + 7), 0, 'a process that is gone');
});

test('proc: reads this process, and machine busy time moves forward', () => {
  const reader = new ProcReader(process.pid);
  const first = reader.sample();
  const busy = machineBusySeconds();
  // Burn CPU until /proc shows 0.1 s more (bounded: a loaded machine may give us little of it).
  const start = process.cpuUsage();
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && process.cpuUsage(start).user < 150_000);
  const second = reader.sample();
  assert.ok(first.rssBytes > 10 * 1024 * 1024, `rss ${first.rssBytes}`);
  assert.ok(second.cpuSeconds - first.cpuSeconds >= 0.1, `cpu ${second.cpuSeconds - first.cpuSeconds}`);
  assert.ok(machineBusySeconds() - busy >= 0.1);
  assert.throws(() => new ProcReader(2 ** 22 + 7).sample(), /is gone/);
});

function result(overrides: Partial<GeneratorResult>): GeneratorResult {
  return {
    scenario: 'throughput', generator: 'native', threads: 1, connections: 1, durationS: 1, windowBytes: 0, mbPerSec: 0, opsPerSec: 0, totalOps: 0,
    windowOps: 0, latencyUs: undefined, cpuWindowS: undefined, serverCpuS: undefined, serverV8WorkerCpuS: undefined, generatorCpuS: undefined, harnessCpuS: undefined,
    helperCpuS: undefined, otherCores: undefined, cpuPerGB: undefined, cpuUsPerConn: undefined, cpuUsPerReq: undefined, rssStartBytes: undefined, rssPeakBytes: undefined, rssHeldBytes: undefined,
    rssPerIdleConnBytes: undefined, established: 0, errors: {}, verifyFailures: 0, incomplete: 0, scrapes: { ok: 0, failed: 0 },
    ...overrides,
  };
}

function sampleRecords(): RunRecord[] {
  const records: RunRecord[] = [];
  let sequence = 0;
  const add = (mode: RunRecord['mode'], round: number, mb: number, peak: number): void => {
    records.push({ scenario: 'throughput', mode, round, sequence: sequence++, result: result({ mbPerSec: mb, rssPeakBytes: peak }) });
    records.push({ scenario: 'idle', mode, round, sequence: sequence++, result: result({ scenario: 'idle', rssPeakBytes: peak / 2, rssPerIdleConnBytes: 6 * 1024 }) });
  };
  add('bare', 0, 1000, 100);
  add('full', 0, 900, 300);
  add('bare', 1, 1200, 100);
  add('full', 1, 1180, 200);
  add('bare', 2, 1100, 100);
  add('full', 2, 1050, 250);
  return records;
}

test('aggregate: median over rounds, ratio to bare, target status, peak over scenarios', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.equal(median([]), undefined);
  const table = aggregate(sampleRecords(), ['bare', 'full'], 3);
  const throughput = table.get('throughput_mb_s')!;
  assert.equal(throughput.get('bare')!.value, 1100);
  assert.equal(throughput.get('full')!.value, 1050);
  assert.ok(Math.abs(throughput.get('full')!.ratio! - 1050 / 1100) < 1e-12);
  // 0.95 of bare misses the ≥ 1.0 target.
  assert.equal(throughput.get('full')!.met, false);
  assert.deepEqual(throughput.get('full')!.rounds, [900, 1180, 1050]);
  assert.equal(table.get('rss_peak_mib')!.get('full')!.value, 250 / (1024 * 1024));
  const idle = table.get('rss_per_idle_conn_kib')!.get('full')!;
  assert.equal(idle.ratio, 1);
  assert.equal(table.get('pingpong_req_s')!.get('full')!.value, undefined);
});

test('reports: Markdown marks met/missed/not measured, SVG has a bar per measured ratio', () => {
  const records = sampleRecords();
  const table = aggregate(records, ['bare', 'full'], 3);
  const report: BenchReport = {
    startedAt: '2026-01-01T00:00:00Z', elapsedS: 1, machine: { cpu: 'cpu', cores: 2, node: 'v20', commit: 'abc' },
    settings: {
      quick: true, generator: 'native', rounds: 3, modes: ['bare', 'full'], scenarios: ['throughput', 'idle'], warmupS: 1, connrateWarmupS: 1, durationS: 1, serverNodeFlags: [], maxBackground: 0.5, retries: 1,
      threads: { throughput: 2, pingpong: 1, connrate: 2, idle: 2 },
      throughput: { connections: 64, messageSize: 16384, window: 262144 }, pingpong: { connections: 32, requestSize: 32 },
      connrate: { connections: 32, requestSize: 32 }, idle: { connections: 10, requestSize: 32, holdS: 1 },
    },
    order: ['throughput round 1: bare, shipped'], modeDescriptions: MODE_DESCRIPTIONS,
    table: Object.fromEntries([...table].map(([k, row]) => [k, Object.fromEntries(row)])),
    targets: [], notes: ['a note'], runs: records,
  };
  const markdown = renderMarkdown(report);
  assert.match(markdown, /\| throughput \(MB\/s\) \| 1,100 \| 1,050 \(0\.95\) \| ≥ 1\.00 \| \*\*missed\*\* \|/);
  assert.match(markdown, /\| ping-pong requests\/s \(req\/s\) \| — \| — \| ≥ 1\.00 \| not measured \|/);
  // The targets table of `full`: bare, full, ratio, target, status.
  assert.match(markdown, /## Targets[^\n]*\n\n\| figure \| bare \| full \| ratio \| target \| \|\n/);
  assert.match(markdown, /\| RSS per idle connection \(KiB\) \| 6\.00 \| 6\.00 \| 1\.00 \| ≤ 1\.00 \| \*\*met\*\* \|/);
  assert.match(markdown, /- a note/);
  const svg = renderSvg(report);
  assert.ok(svg.startsWith('<svg') && svg.trimEnd().endsWith('</svg>'));
  const measured = FIGURES.filter((f) => report.table[f.key]?.full?.ratio !== undefined).length;
  assert.equal((svg.match(/<rect x="290" y="\d+" width="[\d.]+" height="8"/g) ?? []).length, measured);
});

test('generator CPU: shown next to the server\'s per run; a run whose generator was busier is flagged generator-bound', () => {
  const run = (mode: RunRecord['mode'], round: number, server: number, generator: number): RunRecord => ({
    scenario: 'connrate', mode, round, sequence: round,
    result: result({ scenario: 'connrate', serverCpuS: server, generatorCpuS: generator, cpuWindowS: 2 }),
  });
  assert.deepEqual(cpuShare(result({ serverCpuS: 1, generatorCpuS: 0.25, cpuWindowS: 2 })), {
    serverCores: 0.5, generatorCores: 0.125, generatorPerServer: 0.25, generatorBound: false, generatorNearBound: false, v8WorkerShare: undefined,
  });
  const near = cpuShare(result({ serverCpuS: 1, generatorCpuS: 0.96, cpuWindowS: 2 }))!;
  assert.deepEqual([near.generatorBound, near.generatorNearBound], [false, true], 'within 5% of the server: near, not bound');
  assert.equal(cpuShare(result({ serverCpuS: 1, generatorCpuS: 0.94, cpuWindowS: 2 }))!.generatorNearBound, false);
  assert.equal(cpuShare(result({ serverCpuS: 1, generatorCpuS: 1.5, cpuWindowS: 2 }))!.generatorNearBound, false, 'bound is not also near');
  assert.equal(cpuShare(result({ serverCpuS: 1, serverV8WorkerCpuS: 0.1, generatorCpuS: 0.25, cpuWindowS: 2 }))!.v8WorkerShare, 0.1);
  assert.equal(cpuShare(result({ serverCpuS: 1, generatorCpuS: 1.5, cpuWindowS: 2 }))!.generatorBound, true);
  assert.equal(cpuShare(result({ serverCpuS: 1, generatorCpuS: undefined, cpuWindowS: 2 })), undefined);
  const full = run('full', 0, 1.8, 0.4);
  full.result!.serverV8WorkerCpuS = 0.09;
  const lines = cpuLines([run('bare', 0, 1.6, 0.4), run('bare', 1, 1.4, 0.5), run('bare', 2, 1.0, 1.2), full], ['bare', 'full']);
  assert.equal(lines[2], '| connrate | bare | 0.70 | — | 0.25 | 0.36 (max 1.20) | **1 of 3: generator-bound** |');
  assert.equal(lines[3], '| connrate | full | 0.90 | 5.0% | 0.20 | 0.22 (max 0.22) | 0 of 1 |');
  const nearLines = cpuLines([run('off', 0, 1.0, 0.97), run('off', 1, 1.0, 0.5), run('off', 2, 1.0, 1.1)], ['off']);
  assert.equal(nearLines[2], '| connrate | off | 0.50 | — | 0.48 | 0.97 (max 1.10) | **1 of 3: generator-bound** (1 within 5% of it) |');
});

test('notes: generator-bound runs and runs within 5% of it are listed by scenario, mode and round', () => {
  const run = (mode: RunRecord['mode'], round: number, server: number, generator: number): RunRecord => ({
    scenario: 'connrate', mode, round, sequence: round,
    result: result({ scenario: 'connrate', serverCpuS: server, generatorCpuS: generator, cpuWindowS: 2 }),
  });
  const notes = notesFor([run('bare', 0, 1.0, 0.98), run('bare', 1, 1.0, 0.5), run('full', 0, 1.0, 1.2)], undefined);
  assert.ok(notes.includes('1 run(s) were generator-bound (the load generator used more CPU than the server): connrate/full/round 1'), notes.join('\n'));
  assert.ok(notes.includes("1 run(s) came within 5% of generator-bound (the generator used at least 0.95 of the server's CPU): connrate/bare/round 1"), notes.join('\n'));
  assert.ok(!notesFor([run('bare', 0, 1.0, 0.5)], undefined).some((n) => n.includes('generator-bound')));
});

test('profile areas: our code, OpenTelemetry, Node internals, GC', () => {
  assert.equal(areaOf('', '(garbage collector)'), 'GC');
  assert.equal(areaOf('node:net', 'Socket'), 'Node.js internals');
  assert.equal(areaOf('file:///r/node_modules/@opentelemetry/sdk-metrics/build/src/x.js', 'f'), 'OpenTelemetry');
  assert.equal(areaOf('file:///r/node_modules/.cache/tcp-echo-bench/server/dist/echo/connection.js', 'f'), 'tcp-echo: echo');
  assert.equal(areaOf('file:///r/dist/log/tskv.js', 'f'), 'tcp-echo: log');
  assert.equal(areaOf('file:///r/node_modules/yaml/dist/index.js', 'f'), 'package: yaml/dist');
});

/** A heap-profile node: `selfSize` bytes sampled in `fn` at `url`. */
function heapNode(fn: string, url: string, selfSize: number, children: HeapProfileNode[] = []): HeapProfileNode {
  return { callFrame: { functionName: fn, url, lineNumber: 0 }, selfSize, children };
}

test('allocations: each byte goes to the innermost frame of ours or a package, Node\'s own otherwise', () => {
  const echo = 'file:///r/node_modules/.cache/tcp-echo-bench/run-1/server/dist/echo/connection.js';
  const otel = 'file:///r/node_modules/@opentelemetry/sdk-metrics/dist/Instruments.mjs';
  const head = heapNode('(root)', '', 0, [
    heapNode('onconnection', 'node:net', 100, [
      heapNode('EchoConnection', echo, 50, [
        // Node's stream code called by ours: the echo's bytes.
        heapNode('Readable.pipe', 'node:internal/streams/readable', 200),
        heapNode('_record', otel, 30, [heapNode('now', '', 20)]),
      ]),
    ]),
  ]);
  const shares = allocationShares(head, 10);
  assert.equal(shares.bytesPerConnection, 40);
  assert.deepEqual(Object.fromEntries(shares.byArea), { [NODE_OWN]: 10, 'tcp-echo: echo': 25, OpenTelemetry: 5 });
  assert.deepEqual(Object.fromEntries(shares.byOwner), {
    [NODE_OWN]: 10,
    'tcp-echo: echo: echo/connection.js EchoConnection': 25,
    'OpenTelemetry: @opentelemetry/sdk-metrics/dist/Instruments.mjs _record': 5,
  });
  const text = renderAllocations(new Map([['full', shares]]), 2);
  assert.match(text, /\| \*\*all\*\* \| \*\*40\*\* \|/);
  assert.match(text, /\| tcp-echo: echo \| 25 \|/);
  assert.match(text, /full: the 2 largest owners/);
  assert.ok(!text.includes('_record'), 'only the 2 largest owners are listed');
});
