/**
 * Config fuzz, in-process: a few hundred generated static configs (wrong types, out-of-range
 * values, unknown keys, deep nesting, huge strings, broken YAML, anchor/alias bombs,
 * substitutions) go through the real loader and the real validator of the service's component
 * list, exactly as `daemonMain` runs them before anything is built. Each must either validate
 * (when it may start) or be rejected with a ConfigError whose message is the one stderr line the
 * service prints: naming the file and the key path, never a stack trace. The spawned sample in
 * test/integration/faults/config-fuzz.test.ts runs a few of these cases as real processes.
 *
 * Reproduce a failure with FUZZ_SEED=<seed> (printed) and FUZZ_ONLY=<index>; FUZZ_CASES sets the count.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { COMPONENTS } from '../../../src/component-list.js';
import { ComponentManager } from '../../../src/components/manager.js';
import { loadStaticConfig } from '../../../src/config/load.js';
import { staticConfigSchema } from '../../../src/config/manager-schema.js';
import { toSchemaDocument } from '../../../src/config/schema.js';
import { ConfigError } from '../../../src/errors.js';
import { fuzzCase, rejectionProblem, type SchemaDoc } from '../../helpers/faults-config.js';
import { runCli } from '../../helpers/service.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
const CASES = Number(process.env.FUZZ_CASES ?? 200);
const ONLY = process.env.FUZZ_ONLY === undefined ? undefined : Number(process.env.FUZZ_ONLY);
/**
 * A hang guard, not a speed bound: an alias bomb or a runaway validator takes minutes or forever, a busy
 * machine adds at most seconds. The slowest decision is reported as a diagnostic.
 */
const HANG_GUARD_MS = Number(process.env.FUZZ_DECIDE_MS ?? 60_000);
// Ports only appear in the generated configs: nothing listens in this test.
const ECHO_PORT = 40_001;
const MONITOR_PORT = 40_002;

/** The schema document `--print-config-schema` prints, built in-process from the same list. */
const SCHEMA = JSON.parse(JSON.stringify(toSchemaDocument(staticConfigSchema(COMPONENTS)))) as SchemaDoc;

test('the in-process schema is the one --print-config-schema prints', async () => {
  const printed = await runCli(['--print-config-schema']);
  assert.equal(printed.code, 0, `--print-config-schema failed: ${printed.stderr}`);
  assert.equal(printed.stdout, stringify(toSchemaDocument(staticConfigSchema(COMPONENTS)), { lineWidth: 0 }));
});

test(`config fuzz in-process: ${CASES} generated configs through the real loader and validator (seed ${SEED})`, (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tcp-echo-fuzz-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const indexes = ONLY === undefined ? Array.from({ length: CASES }, (_, i) => i) : [ONLY];
  const failures: string[] = [];
  const tally = new Map<string, number>();
  let slowest = 0;
  for (const index of indexes) {
    const c = fuzzCase(SEED, index, SCHEMA, ECHO_PORT, MONITOR_PORT);
    const file = path.join(dir, `case-${index}.yaml`);
    writeFileSync(file, c.text);
    const env = { PATH: process.env.PATH ?? '', HOME: tmpdir(), OTEL_SDK_DISABLED: 'true', ...c.env };
    const started = performance.now();
    let rejection: unknown;
    try {
      const loaded = loadStaticConfig({ configFile: file, env });
      // Validates every section; constructs nothing.
      new ComponentManager(COMPONENTS, loaded.file, loaded.root);
    } catch (error) {
      rejection = error;
    }
    const ms = performance.now() - started;
    slowest = Math.max(slowest, ms);
    const outcome = rejection === undefined ? 'valid' : 'rejected';
    tally.set(`${c.expect.kind}->${outcome}`, (tally.get(`${c.expect.kind}->${outcome}`) ?? 0) + 1);
    const head = `case ${index} (${c.label}): `;
    let problem: string | undefined;
    if (ms > HANG_GUARD_MS) problem = `${head}took ${Math.round(ms)} ms to decide: runaway (hang guard ${HANG_GUARD_MS} ms)`;
    else if (rejection === undefined) {
      if (c.expect.kind === 'error' || c.expect.kind === 'file-error') problem = `${head}validated, but the config is invalid`;
    } else if (!(rejection instanceof ConfigError)) {
      // The service would print this as a fatal error with its stack.
      problem = `${head}rejected with ${String(rejection)}, not a ConfigError`;
    } else {
      problem = rejectionProblem(c, rejection.message, file);
    }
    if (problem) failures.push(`${problem}\n  (reproduce: FUZZ_SEED=${SEED} FUZZ_ONLY=${index})`);
  }
  t.diagnostic(`outcomes (expected->actual): ${JSON.stringify(Object.fromEntries([...tally].sort()))}`);
  t.diagnostic(`slowest decision: ${Math.round(slowest)} ms`);
  assert.deepEqual(failures, []);
  // The mix must really contain both outcomes, or the generator lost its teeth.
  const valid = [...tally].filter(([k]) => k.endsWith('->valid')).reduce((a, [, n]) => a + n, 0);
  const rejected = [...tally].filter(([k]) => k.endsWith('->rejected')).reduce((a, [, n]) => a + n, 0);
  if (ONLY === undefined) {
    assert.ok(valid >= CASES / 10, `only ${valid} configs validated`);
    assert.ok(rejected >= CASES / 3, `only ${rejected} configs were rejected`);
  }
});
