/** The notes under a run's table: failures, errors, unverified bytes, span counts, generator-bound runs, background load. */
import os from 'node:os';
import { cpuShare, median, NEAR_BOUND_MARGIN_PERCENT, NEAR_BOUND_SHARE, type RunRecord } from './figures.js';
import { formatNumber } from './markdown.js';

/** Everything a reader of the table should know: failures, errors, unverified bytes, span counts. */
export function notesFor(records: RunRecord[], keptDir: string | undefined): string[] {
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
  for (const mode of ['traced', 'full'] as const) {
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
  const bound = records.filter((r) => r.result && cpuShare(r.result)?.generatorBound);
  if (bound.length > 0) {
    notes.push(
      `${bound.length} run(s) were generator-bound (the load generator used more CPU than the server): ` +
        bound.map((r) => `${r.scenario}/${r.mode}/round ${r.round + 1}`).join(', '),
    );
  }
  const near = records.filter((r) => r.result && cpuShare(r.result)?.generatorNearBound);
  if (near.length > 0) {
    notes.push(
      `${near.length} run(s) came within ${NEAR_BOUND_MARGIN_PERCENT}% of generator-bound (the generator used at least ` +
        `${NEAR_BOUND_SHARE.toFixed(2)} of the server's CPU): ` +
        near.map((r) => `${r.scenario}/${r.mode}/round ${r.round + 1}`).join(', '),
    );
  }
  if (keptDir) notes.push(`configs and server logs kept in ${keptDir}`);
  return notes;
}

