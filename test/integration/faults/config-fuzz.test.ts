/**
 * Config fuzz, spawned: a sample of the generated static configs of
 * test/unit/config/config-fuzz.test.ts (which runs them all in-process through the real loader
 * and validator) run as real processes, a few of each kind: configs that must start, syntax
 * faults, key-level faults, and valid-looking ones that may be rejected by a cross-key rule at
 * construction. Each must either start and serve (then exit 0 on SIGTERM), or exit non-zero
 * with one stderr line naming the file and the key path (or just the file for syntax faults) —
 * never a stack trace, never a hang (a 60 s guard; how fast it decides is reported, not asserted).
 *
 * Reproduce a failure with FUZZ_SEED=<seed> (printed) and FUZZ_ONLY=<index>; FUZZ_CASES sets the
 * number of generated cases the sample is drawn from.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { exitedWithOutput } from '../../helpers/child-exit.js';
import { sleep } from '../../helpers/echo-client.js';
import { fuzzCase, rejectionProblem, type Expectation, type FuzzCase, type SchemaDoc } from '../../helpers/faults-config.js';
import { looksLikeStackTrace } from '../../helpers/monitor-client.js';
import { rawHttp } from '../../helpers/raw-http.js';
import { MAIN, canConnect, freePortPair, lostPortRace, runCli } from '../../helpers/service.js';
import { parse } from 'yaml';

const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
const CASES = Number(process.env.FUZZ_CASES ?? 200);
const ONLY = process.env.FUZZ_ONLY === undefined ? undefined : Number(process.env.FUZZ_ONLY);
/** Processes at once: start-up is CPU-bound and the machine has 2 cores. */
const PARALLEL = 3;
/** Spawned cases per expectation: the first ones of that kind among the generated cases. */
const SAMPLE: Readonly<Record<Expectation['kind'], number>> = { start: 3, 'file-error': 3, error: 3, either: 6 };
/**
 * How long to watch a process before calling it hung: a deadline for a hang, not a speed bound (a
 * start-up on 2 busy cores can take seconds). The contract's 5 s for rejecting a bad config is
 * asserted on the decision itself, in-process, for every generated case
 * (test/unit/config/config-fuzz.test.ts); here the slowest exit is reported.
 */
const WATCH_MS = Number(process.env.FUZZ_WATCH_MS ?? 60_000);
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
  const exited = exitedWithOutput(child).then((code) => (exit = code));
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
  return rejectionProblem(c, o.stderr, file);
}

/** The indexes of the spawned sample: the first SAMPLE[kind] generated cases of each kind. */
function sampleIndexes(schema: SchemaDoc): number[] {
  const left = { ...SAMPLE };
  const picked: number[] = [];
  for (let index = 0; index < CASES && Object.values(left).some((n) => n > 0); index++) {
    // The kind of a case does not depend on its ports.
    const kind = fuzzCase(SEED, index, schema, 40_001, 40_002).expect.kind;
    if (left[kind] > 0) {
      left[kind]--;
      picked.push(index);
    }
  }
  return picked;
}

test(`config fuzz, spawned: a sample of each kind of generated config (seed ${SEED})`, { timeout: 280_000 }, async (t) => {
  const printed = await runCli(['--print-config-schema']);
  assert.equal(printed.code, 0, `--print-config-schema failed: ${printed.stderr}`);
  const schema = parse(printed.stdout) as SchemaDoc;
  const dir = mkdtempSync(path.join(tmpdir(), 'tcp-echo-fuzz-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  const indexes = ONLY === undefined ? sampleIndexes(schema) : [ONLY];
  const total = Object.values(SAMPLE).reduce((a, b) => a + b, 0);
  if (ONLY === undefined) assert.equal(indexes.length, total, `the generator made fewer than ${total} cases of the sampled kinds`);
  const failures: string[] = [];
  const tally = new Map<string, number>();
  const slowest = { ms: 0, label: '' };
  const eitherExits: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < indexes.length && failures.length < 10) {
      const index = indexes[next++] as number;
      const file = path.join(dir, `case-${index}.yaml`);
      let c: FuzzCase;
      let outcome: Outcome;
      for (let attempt = 1; ; attempt++) {
        const [echoPort, monitorPort] = await freePortPair();
        c = fuzzCase(SEED, index, schema, echoPort, monitorPort);
        outcome = await run(c, file, echoPort, monitorPort);
        // Another process took a picked port before the service bound it: that run says nothing
        // about the config; the same case runs again on other ports (one that clashes by itself
        // clashes every time and is judged on the third run).
        if (attempt >= 3 || outcome.kind !== 'exited' || !lostPortRace(outcome.stderr, [echoPort, monitorPort])) break;
      }
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
  // The sample must really contain both outcomes: the configs that must start did, the faults exited.
  if (ONLY === undefined) {
    assert.equal(tally.get('start->started'), SAMPLE.start);
    assert.equal(tally.get('error->exited'), SAMPLE.error);
    assert.equal(tally.get('file-error->exited'), SAMPLE['file-error']);
  }
});
