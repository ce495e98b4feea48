/**
 * The README's examples, run as written: the `curl -g ...labels=...` line with the real curl
 * against the real service (only the port differs).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { roundTrip } from '../helpers/echo-client.js';
import { metricUntil } from '../helpers/monitor-client.js';
import { ROOT, startService } from '../helpers/service.js';

const run = promisify(execFile);

/** The README's curl command lines that pass a `labels` filter, as argv (the shell's quoting undone). */
function readmeLabelsCurls(): string[][] {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  return [...readme.matchAll(/^\s*(curl [^\n]*labels=[^\n]*)$/gm)].map((m) => {
    const line = m[1]!;
    // Words, and single-quoted words (all the README uses).
    return [...line.matchAll(/'([^']*)'|(\S+)/g)].map((w) => w[1] ?? w[2]!);
  });
}

test("the README's curl with a labels filter works as pasted (only the port differs)", { timeout: 120_000 }, async (t) => {
  const commands = readmeLabelsCurls();
  assert.ok(commands.length >= 1, 'the README shows a curl with a labels filter');
  const service = await startService();
  t.after(() => service.stop());
  await roundTrip(service.echoPort, Buffer.from('eof'), [3]);
  await metricUntil(service, 'tcp-echo.sockets.close-reasons', { reason: 'eof' }, 'exact', (v: number) => v >= 1);
  for (const [curl, ...args] of commands) {
    assert.equal(curl, 'curl');
    const argv = args.map((a) => a.replace('http://127.0.0.1:8182', service.monitorUrl));
    const { stdout } = await run('curl', ['--silent', '--show-error', '--fail', ...argv], { timeout: 30_000 });
    const json = JSON.parse(stdout) as Record<string, Array<{ labels: Record<string, string>; value: number }>>;
    const nodes = json['tcp-echo.sockets.close-reasons'] ?? [];
    assert.ok(nodes.length >= 1, `the filter matched: ${stdout}`);
    assert.ok(nodes.every((n) => n.labels.reason === 'eof'), `only reason=eof: ${stdout}`);
    // Without -g, curl takes the braces for a glob and eats them: the service gets
    // labels="reason":"eof" and answers 400 (why the README says -g).
    const withoutGlobOff = argv.filter((a) => a !== '-g');
    await assert.rejects(run('curl', ['--silent', '--fail', ...withoutGlobOff], { timeout: 30_000 }), (e: { code?: number }) => e.code === 22);
  }
});
