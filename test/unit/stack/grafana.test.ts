/**
 * otel/grafana/: the provisioning files and the dashboard parse; every datasource uid the dashboard
 * uses is provisioned; every PromQL expression is valid PromQL (promtool); every metric of the
 * agreed set feeds a panel; panels sit on the grid without overlapping; the dashboard links to the
 * service's traces; docs/stack.md lists every panel.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { dashboardQueries, substituteGrafanaVariables } from '../../helpers/prometheus.js';
import { ROOT } from '../../helpers/service.js';

const run = promisify(execFile);
const GRAFANA = path.join(ROOT, 'otel', 'grafana');

interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Array<{ expr: string; refId: string; datasource?: { type: string; uid: string } }>;
  fieldConfig?: { defaults?: { links?: Array<{ url: string }> } };
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  links: Array<{ title: string; url: string }>;
  templating: { list: Array<{ name: string; type: string; datasource?: { uid: string }; query: unknown; current?: { value: unknown } }> };
}

const dashboard = JSON.parse(readFileSync(path.join(GRAFANA, 'dashboards', 'tcp-echo.json'), 'utf8')) as Dashboard;
const datasources = (
  parse(readFileSync(path.join(GRAFANA, 'provisioning', 'datasources', 'datasources.yml'), 'utf8')) as {
    apiVersion: number;
    datasources: Array<{ name: string; uid: string; type: string; url: string }>;
  }
).datasources;
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);

/** The metric set agreed with the metrics code (Prometheus names as the exporter prints them). */
const METRICS = [
  'tcp_echo_sockets_opened_total',
  'tcp_echo_sockets_closed_total',
  'tcp_echo_sockets_active',
  'tcp_echo_sockets_close_reasons_total',
  'tcp_echo_bytes_read_total',
  'tcp_echo_bytes_written_total',
  'tcp_echo_connection_duration_seconds_bucket',
  'tcp_echo_backpressure_pauses_total',
  'tcp_echo_backpressure_buffered_bytes',
  'tcp_echo_tracing_spans_exported_total',
  'tcp_echo_tracing_spans_dropped_total',
  'logger_lines_written_total',
  'logger_lines_dropped_total',
  'process_memory_rss_bytes',
  'process_cpu_time_seconds_total',
  'process_open_fds',
  'process_uptime_seconds',
  'engine_event_loop_delay_p50_seconds',
  'engine_event_loop_delay_p99_seconds',
  'engine_event_loop_utilization',
];

test('provisioning files parse and point at the compose services', () => {
  assert.equal(datasources.length, 2);
  const byType = Object.fromEntries(datasources.map((d) => [d.type, d]));
  assert.equal(byType.prometheus?.url, 'http://prometheus:9090');
  assert.equal(byType.jaeger?.url, 'http://jaeger:16686');
  assert.equal(new Set(datasources.map((d) => d.uid)).size, datasources.length, 'uids are unique');
  const providers = parse(readFileSync(path.join(GRAFANA, 'provisioning', 'dashboards', 'dashboards.yml'), 'utf8')) as {
    apiVersion: number;
    providers: Array<{ type: string; options: { path: string } }>;
  };
  assert.equal(providers.apiVersion, 1);
  assert.deepEqual(providers.providers.map((p) => [p.type, p.options.path]), [['file', '/var/lib/grafana/dashboards']]);
  // Everything under provisioning/ is YAML Grafana can read.
  for (const sub of ['datasources', 'dashboards']) {
    for (const file of readdirSync(path.join(GRAFANA, 'provisioning', sub))) {
      assert.match(file, /\.ya?ml$/, `${sub}/${file}`);
    }
  }
});

test('every datasource uid the dashboard uses is provisioned', () => {
  const provisioned = new Set(datasources.map((d) => d.uid));
  const used = new Set<string>();
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') {
      const record = value as Record<string, unknown>;
      const ds = record.datasource;
      if (ds && typeof ds === 'object' && typeof (ds as { uid?: unknown }).uid === 'string') {
        const uid = (ds as { uid: string }).uid;
        if (!uid.startsWith('-- ')) used.add(uid); // "-- Grafana --" is built in
      } else if (typeof ds === 'string') used.add(ds);
      Object.values(record).forEach(walk);
    }
  };
  walk(dashboard);
  // Datasources named inside link URLs (Explore) count too.
  for (const link of dashboard.links) {
    for (const match of decodeURIComponent(link.url).matchAll(/"uid":"([^"]+)"|"datasource":"([^"]+)"/g)) {
      used.add(match[1] ?? match[2]!);
    }
  }
  assert.ok(used.has('prometheus') && used.has('jaeger'), [...used].join(','));
  for (const uid of used) assert.ok(provisioned.has(uid), `datasource uid ${uid} is not provisioned`);
});

test('panels: unique ids, titles and descriptions, on the 24-column grid without overlaps', () => {
  assert.equal(dashboard.uid, 'tcp-echo');
  assert.equal(new Set(panels.map((p) => p.id)).size, panels.length, 'unique panel ids');
  const cells = new Map<string, string>();
  for (const panel of panels) {
    const { x, y, w, h } = panel.gridPos;
    assert.ok(x >= 0 && w > 0 && x + w <= 24, `${panel.title}: inside 24 columns`);
    for (let row = y; row < y + h; row++) {
      for (let col = x; col < x + w; col++) {
        const other = cells.get(`${row},${col}`);
        assert.equal(other, undefined, `${panel.title} overlaps ${other}`);
        cells.set(`${row},${col}`, panel.title);
      }
    }
    if (panel.type === 'row') continue;
    assert.ok(panel.description, `${panel.title}: a description names its metrics`);
    assert.ok(panel.targets && panel.targets.length > 0, `${panel.title}: has queries`);
    assert.equal(new Set(panel.targets.map((t) => t.refId)).size, panel.targets.length, `${panel.title}: unique refIds`);
  }
});

test('every metric of the agreed set feeds at least one panel', () => {
  const exprs = dashboardQueries(dashboard).map((q) => q.expr);
  const missing = METRICS.filter((name) => !exprs.some((e) => new RegExp(`\\b${name}\\b`).test(e)));
  assert.deepEqual(missing, []);
});

test('the panels the issue asks for are there', () => {
  const titles = panels.map((p) => p.title.toLowerCase());
  for (const want of [
    'opened / closed', 'active connections', 'bytes per second', 'close reasons', 'p50 / p90 / p99', 'backpressure',
    'event-loop delay', 'utilisation', 'resident memory', 'cpu', 'log lines', 'spans',
  ]) {
    assert.ok(titles.some((t) => t.includes(want)), `a panel for "${want}"`);
  }
});

test('every panel query is valid PromQL once variables are substituted (promtool check rules)', async () => {
  const queries = dashboardQueries(dashboard);
  assert.ok(queries.length >= 20, `${queries.length} queries`);
  const vars = { job: 'tcp-echo', instance: '.*', jaeger_url: 'http://localhost:16686' };
  const intervals = { rateInterval: '20s', interval: '5s', range: '15m' };
  // promtool parses PromQL offline only inside rule files: one recording rule per query.
  const rules = queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: substituteGrafanaVariables(q.expr, vars, intervals) }));
  for (const rule of rules) assert.doesNotMatch(rule.expr, /\$|\[\[/, `left unsubstituted: ${rule.expr}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'tcp-echo-dashboard-'));
  try {
    const file = path.join(dir, 'dashboard-rules.yml');
    writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
    const { stdout } = await run('promtool', ['check', 'rules', file], { timeout: 60_000 }).catch((error: Error & { stdout?: string; stderr?: string }) => {
      throw new Error(`promtool rejected a dashboard query:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
    });
    assert.match(stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('template variables: job and instance come from the service metrics; substitution is strict', () => {
  const byName = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v]));
  assert.deepEqual(Object.keys(byName).sort(), ['instance', 'jaeger_url', 'job']);
  assert.equal(byName.job?.datasource?.uid, 'prometheus');
  assert.match(JSON.stringify(byName.instance?.query), /label_values\(tcp_echo_sockets_active\{job=\\"\$job\\"\}, instance\)/);
  assert.throws(
    () => substituteGrafanaVariables('up{x="$nope"}', {}, { rateInterval: '1m', interval: '1s', range: '1h' }),
    /unknown Grafana variable \$nope/,
  );
  assert.equal(
    substituteGrafanaVariables('rate(a{j="${job}",i=~"[[instance]]"}[$__rate_interval])', { job: 'j', instance: '.*' }, {
      rateInterval: '1m',
      interval: '1s',
      range: '1h',
    }),
    'rate(a{j="j",i=~".*"}[1m])',
  );
});

test('the dashboard links to the service traces in Jaeger and in Grafana Explore', () => {
  const jaeger = dashboard.links.find((l) => l.url.includes('${jaeger_url}'));
  assert.ok(jaeger, 'a dashboard link to the Jaeger UI');
  assert.match(jaeger.url, /\/search\?service=tcp-echo/);
  const explore = dashboard.links.find((l) => l.url.startsWith('/explore'));
  assert.ok(explore, 'a link to Explore with the Jaeger datasource');
  const panes = JSON.parse(decodeURIComponent(new URL(explore.url, 'http://grafana').searchParams.get('panes') ?? '{}')) as Record<
    string,
    { queries: Array<{ service: string; datasource: { type: string } }> }
  >;
  const query = Object.values(panes)[0]?.queries[0];
  assert.equal(query?.service, 'tcp-echo');
  assert.equal(query?.datasource.type, 'jaeger');
  // Panel links carry the time range into Jaeger (Jaeger wants microseconds).
  const panelLinks = panels.flatMap((p) => p.fieldConfig?.defaults?.links ?? []).map((l) => l.url);
  assert.ok(panelLinks.length >= 3);
  for (const url of panelLinks) assert.match(url, /^\$\{jaeger_url\}\/search\?service=tcp-echo&start=\$\{__from\}000&end=\$\{__to\}000/);
});

test('docs/stack.md lists every panel', () => {
  const doc = readFileSync(path.join(ROOT, 'docs', 'stack.md'), 'utf8');
  const missing = panels.filter((p) => p.type !== 'row' && !doc.includes(`| ${p.title} |`)).map((p) => p.title);
  assert.deepEqual(missing, []);
});

test('dashboardQueries reads collapsed rows’ panels and skips hidden and non-PromQL targets', () => {
  const queries = dashboardQueries({
    panels: [
      { title: 'a', targets: [{ refId: 'A', expr: 'up' }, { refId: 'B', expr: 'hidden', hide: true }, { refId: 'C' }] },
      { type: 'row', title: 'r', panels: [{ title: 'b', targets: [{ refId: 'A', expr: 'x_total' }] }] },
    ],
  });
  assert.deepEqual(queries, [
    { panel: 'a', refId: 'A', expr: 'up' },
    { panel: 'b', refId: 'A', expr: 'x_total' },
  ]);
});

test('exemplars: the Prometheus datasource links trace_id to the provisioned Jaeger; the duration panel shows them', () => {
  const prometheus = datasources.find((d) => d.type === 'prometheus') as
    | { jsonData?: { exemplarTraceIdDestinations?: Array<{ name: string; datasourceUid?: string; url?: string }> } }
    | undefined;
  const destinations = prometheus?.jsonData?.exemplarTraceIdDestinations ?? [];
  // The label tcp-echo puts on every exemplar (src/monitor/formats/openmetrics.ts).
  const link = destinations.find((d) => d.name === 'trace_id');
  assert.ok(link, JSON.stringify(destinations));
  const jaeger = datasources.find((d) => d.type === 'jaeger');
  assert.ok(jaeger);
  assert.equal(link.datasourceUid, jaeger.uid, 'an internal link to the provisioned Jaeger datasource');
  const duration = panels.find((p) => p.targets?.some((t) => t.expr.includes('tcp_echo_connection_duration_seconds_bucket')));
  assert.ok(duration, 'a panel on the duration histogram');
  const targets = duration.targets as Array<{ exemplar?: boolean; expr: string }>;
  assert.equal(targets.filter((t) => t.exemplar === true).length, 1, 'exemplars on one query (the quantiles share the buckets)');
  assert.match(duration.description ?? '', /exemplar/i);
});
