/**
 * The Prometheus test helper against a real Prometheus and a tiny real exporter: it starts, scrapes
 * the given target, answers queries, reports rule health, and stops cleanly (twice).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { buildPrometheusConfig, startPrometheus, waitForQuery, waitForRuleEvaluation } from '../../helpers/prometheus.js';

test('buildPrometheusConfig rewrites every job of a shipped config to the test targets', () => {
  const shipped = [
    'global: { scrape_interval: 15s }',
    'rule_files: [/etc/prometheus/alerts.yml]',
    'alerting: { alertmanagers: [{ static_configs: [{ targets: [am:9093] }] }] }',
    'scrape_configs:',
    '  - job_name: tcp-echo',
    '    scrape_interval: 5s',
    '    metrics_path: /metrics',
    '    static_configs: [{ targets: [tcp-echo:8182], labels: { env: demo } }]',
  ].join('\n');
  const config = buildPrometheusConfig({ scrapeConfigYaml: shipped, targets: ['127.0.0.1:1234'], ruleFiles: ['/x/a.yml'] });
  assert.deepEqual(config.rule_files, ['/x/a.yml']);
  assert.equal(config.alerting, undefined);
  assert.deepEqual((config.global as Record<string, unknown>).scrape_interval, '1s');
  const [job] = config.scrape_configs as Array<Record<string, unknown>>;
  assert.equal(job!.scrape_interval, undefined);
  assert.equal(job!.metrics_path, '/metrics');
  assert.deepEqual(job!.static_configs, [{ targets: ['127.0.0.1:1234'], labels: { env: 'demo' } }]);
  assert.throws(() => buildPrometheusConfig({ scrapeConfigYaml: 'global: {}', targets: [] }), /no scrape_configs/);
});

test('startPrometheus scrapes a real target, queries, evaluates rules and stops', async (t) => {
  let hits = 0;
  const exporter = http.createServer((request, response) => {
    hits++;
    response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    response.end(`# HELP demo_hits_total Scrapes served.\n# TYPE demo_hits_total counter\ndemo_hits_total ${hits}\n`);
  });
  exporter.listen(0, '127.0.0.1');
  await once(exporter, 'listening');
  t.after(() => exporter.close());
  const target = `127.0.0.1:${(exporter.address() as AddressInfo).port}`;

  const dir = mkdtempSync(path.join(tmpdir(), 'prom-helper-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const rules = path.join(dir, 'rules.yml');
  writeFileSync(rules, 'groups:\n  - name: demo\n    rules:\n      - alert: DemoUp\n        expr: up == 1\n');

  const prom = await startPrometheus({ targets: [target], ruleFiles: [rules], scrapeInterval: '500ms' });
  t.after(() => prom.stop());
  assert.match(prom.url, /^http:\/\/127\.0\.0\.1:\d+$/);

  const up = await waitForQuery(prom, 'up{job="tcp-echo"} == 1', { timeoutMs: 20_000 });
  assert.equal(up[0]!.metric.instance, target);
  const hitsSamples = await waitForQuery(prom, 'demo_hits_total', { accept: (s) => Number(s[0]!.value[1]) >= 2 });
  assert.ok(Number(hitsSamples[0]!.value[1]) >= 2);
  assert.deepEqual(await prom.query('vector(0) > 1'), []);
  const scalar = await prom.query('scalar(vector(3))');
  assert.equal(scalar[0]!.value[1], '3');
  await assert.rejects(prom.query('rate(demo_hits_total[1m]'), /bad_data/);

  const rulesNow = await waitForRuleEvaluation(prom);
  assert.deepEqual(
    rulesNow.map(({ group, name, type, health }) => ({ group, name, type, health })),
    [{ group: 'demo', name: 'DemoUp', type: 'alerting', health: 'ok' }],
  );

  const dataDir = path.dirname(prom.configFile);
  await prom.stop();
  await prom.stop();
  assert.equal(existsSync(dataDir), false, 'the temp dir is removed');
  assert.throws(() => process.kill(prom.pid, 0), /ESRCH/);
});

test('startPrometheus rejects with Prometheus\'s own message on a bad config and cleans up', async (t) => {
  const parentDir = mkdtempSync(path.join(tmpdir(), 'prom-helper-parent-'));
  t.after(() => rmSync(parentDir, { recursive: true, force: true }));
  await assert.rejects(
    startPrometheus({
      targets: ['127.0.0.1:9'],
      // Not a Prometheus duration: Prometheus refuses the config and exits.
      scrapeInterval: '1 second',
      readyTimeoutMs: 15_000,
      parentDir,
    }),
    /prometheus exited before ready[\s\S]*(not a valid duration|1 second)/,
  );
  assert.deepEqual(readdirSync(parentDir), [], 'no temp dir left behind');
});
