/**
 * Config fuzz: a few hundred generated static configs (wrong types, out-of-range values, unknown
 * keys, deep nesting, huge strings, broken YAML, anchor/alias bombs, substitutions). Each must
 * either start and serve (then exit 0 on SIGTERM), or exit non-zero within 5 s with one stderr
 * line naming the file and the key path (or just the file for syntax faults) — never a stack trace.
 *
 * Reproduce a failure with FUZZ_SEED=<seed> (printed) and FUZZ_ONLY=<index>; FUZZ_CASES sets the count.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { sleep } from '../../helpers/faults-clients.js';
import { fuzzCase, type FuzzCase, type SchemaDoc } from '../../helpers/faults-config.js';
import { looksLikeStackTrace } from '../../helpers/faults-monitor.js';
import { rawHttp } from '../../helpers/raw-http.js';
import { MAIN, canConnect, freePort, runCli } from '../../helpers/service.js';
import { parse } from 'yaml';

const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
const CASES = Number(process.env.FUZZ_CASES ?? 200);
const ONLY = process.env.FUZZ_ONLY === undefined ? undefined : Number(process.env.FUZZ_ONLY);
/** Processes at once: start-up is CPU-bound and the machine has 2 cores. */
const PARALLEL = 3;
/** The contract: a bad config exits within this (FUZZ_DECIDE_MS overrides it on a slow machine). */
const DECIDE_MS = Number(process.env.FUZZ_DECIDE_MS ?? 5000);
/** How long to watch a process before calling it hung; longer than DECIDE_MS so a slow exit is measured. */
const WATCH_MS = Math.max(3 * DECIDE_MS, 15_000);
const STOP_MS = 10_000;

interface Outcome {
  readonly kind: 'exited' | 'started' | 'undecided';
  readonly code?: number | string;
  readonly ms: number;
  readonly stderr: string;
  readonly stopCode?: number | string;
}

async function run(c: FuzzCase, file: string, echoPort: number, monitorPort: number): Promise<Outcome> {
  writeFileSync(file, c.text);
  const started = Date.now();
  const child = spawn(process.execPath, [MAIN, '-c', file], {
    env: { PATH: process.env.PATH ?? '', HOME: tmpdir(), OTEL_SDK_DISABLED: 'true', ...c.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < 1 << 20) stderr += d;
  });
  let exit: number | string | undefined;
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve((exit = code ?? signal ?? -1))),
  );
  const stop = async (signal: NodeJS.Signals): Promise<number | string> => {
    if (exit === undefined) child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_MS);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  const ready = async (): Promise<boolean> =>
    (!c.probe.echo || (await canConnect(echoPort))) && (!c.probe.ping || (await pingServes(monitorPort)));
  const canStart = c.expect.kind === 'start' || c.expect.kind === 'either';
  while (Date.now() - started < WATCH_MS) {
    if (exit !== undefined) return { kind: 'exited', code: exit, ms: Date.now() - started, stderr };
    if (canStart && (c.probe.echo || c.probe.ping) && (await ready())) {
      // A process that stops listening right after start is caught by the exit check above next time;
      // one more look here makes "started" mean "still up and serving".
      await sleep(50);
      if (exit === undefined && (await ready())) {
        const ms = Date.now() - started;
        const stopCode = await stop('SIGTERM');
        return { kind: 'started', ms, stderr, stopCode };
      }
    }
    await sleep(50);
  }
  if (exit !== undefined) return { kind: 'exited', code: exit, ms: Date.now() - started, stderr };
  await stop('SIGKILL');
  return { kind: 'undecided', ms: Date.now() - started, stderr };
}

/**
 * GET /ping with the Host header only, HTTP/1.0 so the server closes after answering: a request
 * every valid config must serve. fetch sends about seven headers, and Node 22/24 answer 431 to a
 * request with more than `server.listener.max_headers_count`: with it, a case setting that to 1
 * would never look ready.
 */
async function pingServes(port: number): Promise<boolean> {
  const response = await rawHttp(port, ['GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n'], { timeoutMs: 1000 });
  return response.status === 200;
}

function check(c: FuzzCase, o: Outcome, file: string): string | undefined {
  const lines = o.stderr.split('\n').filter((l) => l.trim() !== '');
  const head = `case ${c.index} (${c.label}): `;
  if (looksLikeStackTrace(o.stderr)) return `${head}stack trace on stderr:\n${o.stderr.slice(0, 1500)}`;
  if (o.kind === 'undecided') return `${head}neither exited nor served within ${WATCH_MS} ms; stderr: ${o.stderr.slice(0, 500)}`;
  if (o.kind === 'started') {
    if (c.expect.kind === 'error' || c.expect.kind === 'file-error') return `${head}started, but the config is invalid`;
    if (o.stopCode !== 0) return `${head}started, but SIGTERM gave exit ${o.stopCode}; stderr tail: ${o.stderr.slice(-500)}`;
    return undefined;
  }
  // Exited.
  if (o.code === 0) return `${head}exited 0 without serving`;
  if (o.ms > DECIDE_MS) return `${head}took ${o.ms} ms to exit`;
  if (c.expect.kind === 'start') return `${head}should start but exited ${o.code}: ${o.stderr.slice(0, 500)}`;
  if (!o.stderr.includes(file)) return `${head}the message does not name the file ${file}: ${o.stderr.slice(0, 500)}`;
  // Config errors of every kind (schema, cross-key rules, component wiring) are one short line.
  if (lines.length !== 1) return `${head}expected one stderr line, got ${lines.length}: ${o.stderr.slice(0, 800)}`;
  if (o.stderr.length > 4096) return `${head}a ${o.stderr.length}-character message (huge values must be shortened): ${o.stderr.slice(0, 300)}`;
  if (c.expect.kind === 'either') {
    if (!/components_manager\.|: <root>:|--config/.test(o.stderr)) return `${head}the message names no key path: ${o.stderr.slice(0, 500)}`;
    return undefined;
  }
  if (c.expect.kind === 'error' && !o.stderr.includes(c.expect.keyPath)) {
    return `${head}the message does not name ${c.expect.keyPath}: ${o.stderr.slice(0, 500)}`;
  }
  return undefined;
}

test(`config fuzz: ${CASES} generated configs (seed ${SEED})`, { timeout: 280_000 }, async (t) => {
  const printed = await runCli(['--print-config-schema']);
  assert.equal(printed.code, 0, `--print-config-schema failed: ${printed.stderr}`);
  const schema = parse(printed.stdout) as SchemaDoc;
  const dir = mkdtempSync(path.join(tmpdir(), 'tcp-echo-fuzz-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  const indexes = ONLY === undefined ? Array.from({ length: CASES }, (_, i) => i) : [ONLY];
  const failures: string[] = [];
  const tally = new Map<string, number>();
  const slowest = { ms: 0, label: '' };
  const eitherExits: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < indexes.length && failures.length < 10) {
      const index = indexes[next++] as number;
      const echoPort = await freePort();
      const monitorPort = await freePort();
      const c = fuzzCase(SEED, index, schema, echoPort, monitorPort);
      const file = path.join(dir, `case-${index}.yaml`);
      const outcome = await run(c, file, echoPort, monitorPort);
      const key = `${c.expect.kind}->${outcome.kind}`;
      tally.set(key, (tally.get(key) ?? 0) + 1);
      if (outcome.kind === 'exited' && outcome.ms > slowest.ms) Object.assign(slowest, { ms: outcome.ms, label: c.label });
      if (c.expect.kind === 'either' && outcome.kind === 'exited' && eitherExits.length < 8) {
        const why = outcome.stderr.split('\n').find((l) => l.includes(file) || /level=(ERROR|CRITICAL)/.test(l)) ?? '';
        eitherExits.push(`${c.label} -> ${why.slice(0, 300)}`);
      }
      const problem = check(c, outcome, file);
      if (problem) failures.push(`${problem}\n  (reproduce: FUZZ_SEED=${SEED} FUZZ_ONLY=${index})`);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  t.diagnostic(`outcomes (expected->actual): ${JSON.stringify(Object.fromEntries([...tally].sort()))}`);
  t.diagnostic(`slowest exit: ${slowest.ms} ms (${slowest.label})`);
  for (const line of eitherExits) t.diagnostic(`valid-looking config rejected: ${line}`);
  assert.deepEqual(failures, []);
  // The mix must really contain both outcomes, or the generator lost its teeth.
  const startedCount = [...tally].filter(([k]) => k.endsWith('->started')).reduce((a, [, n]) => a + n, 0);
  const exitedCount = [...tally].filter(([k]) => k.endsWith('->exited')).reduce((a, [, n]) => a + n, 0);
  if (ONLY === undefined) {
    assert.ok(startedCount >= CASES / 10, `only ${startedCount} configs started`);
    assert.ok(exitedCount >= CASES / 3, `only ${exitedCount} configs were rejected`);
  }
});
