/**
 * otel/prometheus/: promtool (Debian's, same release as the test Prometheus) accepts both scrape
 * configs and the alert rules, and the alerts' own unit tests (alerts.test.yml) pass.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { ROOT } from '../../helpers/service.js';

const run = promisify(execFile);
const DIR = path.join(ROOT, 'otel', 'prometheus');

async function promtool(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run('promtool', args, { cwd: DIR, timeout: 60_000 });
    return stdout + stderr;
  } catch (error) {
    const e = error as Error & { stdout?: string; stderr?: string };
    throw new Error(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
}

test('promtool check config accepts both scrape configs (and the rule files they load)', async () => {
  for (const file of ['prometheus.yml', 'prometheus.host.yml']) {
    const out = await promtool('check', 'config', file);
    assert.match(out, /SUCCESS: 1 rule files found/, out);
    assert.match(out, /is valid prometheus config file syntax/, out);
  }
});

test('promtool check rules accepts the alert rules; every required alert is there', async () => {
  const out = await promtool('check', 'rules', 'alerts.yml');
  assert.match(out, /SUCCESS: \d+ rules found/, out);
  const rules = (parse(readFileSync(path.join(DIR, 'alerts.yml'), 'utf8')) as {
    groups: Array<{ rules: Array<{ alert?: string; labels?: Record<string, string>; annotations?: Record<string, string> }> }>;
  }).groups.flatMap((g) => g.rules);
  const names = rules.map((r) => r.alert);
  for (const name of ['TcpEchoDown', 'TcpEchoConnectionErrorsRising', 'TcpEchoEventLoopDelayHigh', 'TcpEchoSpansDropped']) {
    assert.ok(names.includes(name), `alert ${name}`);
  }
  for (const rule of rules) {
    assert.ok(rule.labels?.severity, `${rule.alert}: severity label`);
    assert.ok(rule.annotations?.summary && rule.annotations.description, `${rule.alert}: summary and description`);
  }
});

test('promtool test rules: each alert fires on its condition and not on a healthy service', async () => {
  const out = await promtool('test', 'rules', 'alerts.test.yml');
  assert.match(out, /SUCCESS/, out);
  // Every alert has at least one test in which it is expected to fire.
  const tests = (parse(readFileSync(path.join(DIR, 'alerts.test.yml'), 'utf8')) as {
    tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
  }).tests;
  const fired = new Set(tests.flatMap((t) => t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname));
  const alerts = readFileSync(path.join(DIR, 'alerts.yml'), 'utf8').match(/alert: (\w+)/g)!.map((m) => m.slice(7));
  assert.deepEqual([...fired].sort(), [...alerts].sort());
});

test('the compose scrape config targets tcp-echo:8182 every 5 s, the host one host.docker.internal', () => {
  const load = (file: string) =>
    parse(readFileSync(path.join(DIR, file), 'utf8')) as {
      global: { scrape_interval: string };
      scrape_configs: Array<{ job_name: string; metrics_path: string; static_configs: Array<{ targets: string[] }> }>;
    };
  for (const [file, target] of [
    ['prometheus.yml', 'tcp-echo:8182'],
    ['prometheus.host.yml', 'host.docker.internal:8182'],
  ] as const) {
    const config = load(file);
    assert.equal(config.global.scrape_interval, '5s', file);
    assert.deepEqual(
      config.scrape_configs.map((j) => [j.job_name, j.metrics_path, j.static_configs.flatMap((s) => s.targets)]),
      [['tcp-echo', '/metrics', [target]]],
      file,
    );
  }
});
