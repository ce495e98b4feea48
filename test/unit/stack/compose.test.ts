/**
 * docker-compose.yml and docker-compose.host.yml, checked with Debian's docker-compose (1.29: no
 * engine needed for `config`) and by reading the normalised model it prints: pinned images, the
 * published ports, the monitor listener kept inside the network, mounts that exist, and the two
 * files in step; and the `collector` profile: only adds services, and its collector and Jaeger
 * configs parse and are wired (every pipeline uses only components its file defines).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { ROOT } from '../../helpers/service.js';

const run = promisify(execFile);

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string>;
  ports?: string[];
  expose?: string[];
  volumes?: string[];
  extra_hosts?: string[];
  command?: string[];
  depends_on?: Record<string, unknown>;
  init?: boolean;
  profiles?: string[];
}
interface Model {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const models = new Map<string, Promise<Model>>();

/**
 * `docker-compose -f file config`, normalised; the environment is scrubbed of the caller's
 * overrides. Memoised: docker-compose takes about a second to start.
 */
function composeConfig(file: string, env: Record<string, string> = {}): Promise<Model> {
  const key = JSON.stringify([file, env]);
  let model = models.get(key);
  if (!model) {
    model = run('docker-compose', ['--project-directory', ROOT, '-f', path.join(ROOT, file), 'config'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      timeout: 30_000,
    }).then(({ stdout }) => parse(stdout) as Model);
    models.set(key, model);
  }
  return model;
}

/**
 * What `docker compose up` runs: the model without the services of a profile (docker-compose 1.29
 * prints every service, profiled or not).
 */
async function defaultServices(file: string, env: Record<string, string> = {}): Promise<Model> {
  const model = await composeConfig(file, env);
  return { ...model, services: Object.fromEntries(Object.entries(model.services).filter(([, s]) => !s.profiles?.length)) };
}

const FILES = ['docker-compose.yml', 'docker-compose.host.yml'];

test('docker-compose config -q accepts every compose file', async () => {
  for (const file of FILES) {
    // Throws (non-zero exit, with docker-compose's message) when the file is invalid.
    const { stdout, stderr } = await run('docker-compose', ['-f', file, 'config', '-q'], { cwd: ROOT, timeout: 30_000 });
    assert.equal(stdout, '', `${file}: config -q prints nothing`);
    assert.doesNotMatch(stderr, /WARN|ERROR/i, `${file}: ${stderr}`);
  }
});

test('every image is pinned to a version tag, the same in both files', async () => {
  const images = new Map<string, string>();
  for (const file of FILES) {
    const model = await defaultServices(file);
    for (const [name, service] of Object.entries(model.services)) {
      if (service.build) continue;
      assert.ok(service.image, `${file}: ${name} has an image`);
      assert.match(service.image, /^[\w./-]+:v?\d+\.\d+\.\d+$/, `${file}: ${name} pins an exact version, not ${service.image}`);
      const seen = images.get(name);
      if (seen) assert.equal(service.image, seen, `${name}: the same image in both compose files`);
      images.set(name, service.image);
    }
  }
  assert.deepEqual([...images.keys()].sort(), ['grafana', 'jaeger', 'prometheus']);
  assert.match(images.get('jaeger')!, /^jaegertracing\/jaeger:2\./, 'Jaeger v2 all-in-one');
});

test('docker-compose.yml: the service, its ports, its config from the environment', async () => {
  const model = await defaultServices('docker-compose.yml');
  const echo = model.services['tcp-echo'];
  assert.ok(echo?.build, 'tcp-echo is built from the Dockerfile');
  assert.equal(echo.build.dockerfile, 'Dockerfile');
  assert.equal(path.resolve(echo.build.context), ROOT);
  assert.equal(echo.init, true, 'an init reaps children and forwards signals');
  assert.equal(echo.environment?.OTLP_ENDPOINT, 'http://jaeger:4318', 'spans go to Jaeger over OTLP/HTTP inside the network');
  assert.equal(echo.environment?.ECHO_PORT, '8181');
  assert.equal(echo.environment?.MONITOR_PORT, '8182');

  // Published: what a user opens (echo, Jaeger UI, Prometheus, Grafana), on loopback by default,
  // and Jaeger's OTLP receivers on loopback (the README's OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318).
  const published = Object.entries(model.services).flatMap(([name, s]) => (s.ports ?? []).map((p) => `${name} ${p}`));
  assert.deepEqual(published.sort(), [
    'grafana 127.0.0.1:3000:3000/tcp',
    'jaeger 127.0.0.1:16686:16686/tcp',
    'jaeger 127.0.0.1:4317:4317/tcp',
    'jaeger 127.0.0.1:4318:4318/tcp',
    'prometheus 127.0.0.1:9090:9090/tcp',
    'tcp-echo 127.0.0.1:8181:8181/tcp',
  ]);
  assert.ok(!published.some((p) => /:8182/.test(p)), 'the monitor listener is not published on the host');
  assert.deepEqual(echo.expose, ['8182'], 'the monitor listener is reachable inside the network');

  // Every variable compose sets is one the container config reads (a typo would be silently ignored).
  const read = [...readFileSync(path.join(ROOT, 'config/container_config.yaml'), 'utf8').matchAll(/#env:\s*(\w+)/g)].map((m) => m[1]);
  for (const name of Object.keys(echo.environment ?? {})) {
    assert.ok(read.includes(name) || name.startsWith('OTEL_'), `compose sets ${name}, which config/container_config.yaml never reads`);
  }

  const shared = await defaultServices('docker-compose.yml', { BIND_ADDRESS: '0.0.0.0', TCP_ECHO_LOG_LEVEL: 'debug' });
  assert.deepEqual(shared.services['tcp-echo']?.ports, ['0.0.0.0:8181:8181/tcp'], 'BIND_ADDRESS shares the ports');
  assert.equal(shared.services['tcp-echo']?.environment?.LOG_LEVEL, 'debug');
});

test('docker-compose.yml: Prometheus and Grafana get the shipped otel/ files; Grafana is anonymous viewer', async () => {
  const model = await composeConfig('docker-compose.yml');
  const prometheus = model.services.prometheus!;
  assert.ok(prometheus.command?.includes('--config.file=/etc/prometheus/prometheus.yml'));
  assert.ok(prometheus.command?.includes('--enable-feature=exemplar-storage'), 'Prometheus keeps exemplars');
  const grafana = model.services.grafana!;
  assert.equal(grafana.environment?.GF_AUTH_ANONYMOUS_ENABLED, 'true');
  assert.equal(grafana.environment?.GF_AUTH_ANONYMOUS_ORG_ROLE, 'Viewer');
  const mounts = (service: Service) =>
    Object.fromEntries((service.volumes ?? []).map((v) => v.split(':')).map(([host, container]) => [container!, host!]));
  const promMounts = mounts(prometheus);
  assert.equal(promMounts['/etc/prometheus/prometheus.yml'], path.join(ROOT, 'otel/prometheus/prometheus.yml'));
  assert.equal(promMounts['/etc/prometheus/alerts.yml'], path.join(ROOT, 'otel/prometheus/alerts.yml'));
  const grafanaMounts = mounts(grafana);
  assert.equal(grafanaMounts['/etc/grafana/provisioning'], path.join(ROOT, 'otel/grafana/provisioning'));
  assert.equal(grafanaMounts['/var/lib/grafana/dashboards'], path.join(ROOT, 'otel/grafana/dashboards'));
  // The default home dashboard is the shipped file, at the path it is mounted at.
  const home = grafana.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH ?? '';
  assert.ok(existsSync(path.join(ROOT, 'otel/grafana/dashboards', path.relative('/var/lib/grafana/dashboards', home))), home);
});

test('every bind-mounted host path exists', async () => {
  for (const file of FILES) {
    const model = await composeConfig(file);
    for (const [name, service] of Object.entries(model.services)) {
      for (const volume of service.volumes ?? []) {
        const [source] = volume.split(':');
        if (!source!.startsWith('/')) {
          assert.ok(model.volumes && source! in model.volumes, `${file}: ${name}: named volume ${source} is declared`);
          continue;
        }
        assert.ok(existsSync(source!), `${file}: ${name} mounts ${source}, which does not exist`);
      }
    }
  }
});

test('docker-compose.host.yml: the stack scrapes the host through host-gateway; OTLP on host loopback', async () => {
  const model = await composeConfig('docker-compose.host.yml');
  assert.equal(model.services['tcp-echo'], undefined, 'tcp-echo runs on the host');
  const prometheus = model.services.prometheus!;
  assert.deepEqual(prometheus.extra_hosts, ['host.docker.internal:host-gateway']);
  const config = prometheus.volumes?.find((v) => v.includes(':/etc/prometheus/prometheus.yml'));
  assert.equal(config?.split(':')[0], path.join(ROOT, 'otel/prometheus/prometheus.host.yml'));
  assert.ok(model.services.jaeger?.ports?.includes('127.0.0.1:4318:4318/tcp'), 'the host service reaches Jaeger on localhost:4318');
  const main = await composeConfig('docker-compose.yml');
  assert.deepEqual(model.services.grafana?.environment, main.services.grafana?.environment, 'Grafana set up the same way');
});

test('docker-compose.host.yml: Prometheus keeps exemplars there too', async () => {
  const model = await composeConfig('docker-compose.host.yml');
  assert.ok(model.services.prometheus?.command?.includes('--enable-feature=exemplar-storage'));
});

/** One collector-style config: `service.pipelines` over the component sections it defines. */
interface PipelineConfig {
  receivers?: Record<string, unknown>;
  processors?: Record<string, unknown>;
  exporters?: Record<string, unknown>;
  connectors?: Record<string, unknown>;
  extensions?: Record<string, unknown>;
  service: {
    extensions?: string[];
    pipelines: Record<string, { receivers?: string[]; processors?: string[]; exporters?: string[] }>;
  };
}

/**
 * The wiring rules the collector applies at start: every name a pipeline lists is defined in its
 * section (a connector may stand as receiver or exporter); every connector is an exporter of one
 * pipeline and a receiver of another; every pipeline has receivers and exporters; every enabled
 * extension is defined; a pipeline's name starts with its signal (traces, metrics, logs).
 */
function wiringProblems(config: PipelineConfig): string[] {
  const problems: string[] = [];
  const defined = (section: keyof Omit<PipelineConfig, 'service'>) => new Set(Object.keys(config[section] ?? {}));
  const receivers = defined('receivers');
  const processors = defined('processors');
  const exporters = defined('exporters');
  const connectors = defined('connectors');
  const extensions = defined('extensions');
  const connectorAs = { receiver: new Set<string>(), exporter: new Set<string>() };
  for (const [name, pipeline] of Object.entries(config.service.pipelines)) {
    if (!/^(traces|metrics|logs)(\/.+)?$/.test(name)) problems.push(`pipeline ${name}: not named after a signal`);
    if (!pipeline.receivers?.length) problems.push(`pipeline ${name}: no receivers`);
    if (!pipeline.exporters?.length) problems.push(`pipeline ${name}: no exporters`);
    for (const r of pipeline.receivers ?? []) {
      if (connectors.has(r)) connectorAs.receiver.add(r);
      else if (!receivers.has(r)) problems.push(`pipeline ${name}: receiver ${r} is not defined`);
    }
    for (const p of pipeline.processors ?? []) if (!processors.has(p)) problems.push(`pipeline ${name}: processor ${p} is not defined`);
    for (const e of pipeline.exporters ?? []) {
      if (connectors.has(e)) connectorAs.exporter.add(e);
      else if (!exporters.has(e)) problems.push(`pipeline ${name}: exporter ${e} is not defined`);
    }
  }
  for (const c of connectors) {
    if (!connectorAs.receiver.has(c) || !connectorAs.exporter.has(c)) problems.push(`connector ${c}: not both exporter and receiver`);
  }
  for (const e of config.service.extensions ?? []) if (!extensions.has(e)) problems.push(`extension ${e} is not defined`);
  return problems;
}

const COLLECTOR_CONFIG = 'otel/otel-collector/otelcol-config.yml';
const JAEGER_MONITOR_CONFIG = 'otel/jaeger/jaeger-monitor.yml';

test('collector profile: `docker-compose --profile collector config -q` accepts the file; the profile only adds services', async () => {
  const { stdout, stderr } = await run('docker-compose', ['--profile', 'collector', '-f', 'docker-compose.yml', 'config', '-q'], {
    cwd: ROOT,
    timeout: 30_000,
  });
  assert.equal(stdout, '');
  assert.doesNotMatch(stderr, /WARN|ERROR/i, stderr);
  const model = await composeConfig('docker-compose.yml');
  const profiled = Object.entries(model.services).filter(([, s]) => s.profiles?.length);
  assert.deepEqual(profiled.map(([name, s]) => `${name} ${s.profiles!.join(',')}`).sort(), [
    'jaeger-monitor collector',
    'otel-collector collector',
    'tcp-echo-via-collector collector',
  ]);
  const services = model.services;
  assert.match(services['otel-collector']!.image!, /^otel\/opentelemetry-collector-contrib:\d+\.\d+\.\d+$/, 'a pinned contrib collector');
  assert.equal(services['jaeger-monitor']!.image, services.jaeger!.image, 'the same Jaeger image');
  const via = services['tcp-echo-via-collector']!;
  assert.equal(via.environment?.OTLP_ENDPOINT, 'http://otel-collector:4318', 'the second echo exports to the collector');
  assert.equal(via.image, services['tcp-echo']!.image);
  // Published only on loopback, and none of the default ports taken twice.
  const published = Object.values(services).flatMap((s) => s.ports ?? []);
  assert.equal(new Set(published.map((p) => p.split(':')[1])).size, published.length, published.join(' '));
  assert.ok(published.every((p) => p.startsWith('127.0.0.1:')), published.join(' '));
  // The collector and jaeger-monitor load the shipped files.
  const mount = (name: string, target: string) => services[name]!.volumes?.find((v) => v.split(':')[1] === target)?.split(':')[0];
  assert.equal(mount('otel-collector', '/etc/otelcol-config.yml'), path.join(ROOT, COLLECTOR_CONFIG));
  assert.ok(services['otel-collector']!.command?.includes('--config=/etc/otelcol-config.yml'));
  assert.equal(mount('jaeger-monitor', '/etc/jaeger/jaeger-monitor.yml'), path.join(ROOT, JAEGER_MONITOR_CONFIG));
  assert.ok(services['jaeger-monitor']!.command?.includes('--config=/etc/jaeger/jaeger-monitor.yml'));
  assert.ok(services.prometheus!.command?.includes('--web.enable-otlp-receiver'), 'Prometheus takes the pushed span metrics');
});

test('collector config: parses; every pipeline uses only what it defines; traces to both Jaegers, span metrics to Prometheus', () => {
  const config = parse(readFileSync(path.join(ROOT, COLLECTOR_CONFIG), 'utf8')) as PipelineConfig;
  assert.deepEqual(wiringProblems(config), []);
  const { traces, metrics } = config.service.pipelines;
  assert.deepEqual(traces?.exporters?.sort(), ['otlp/jaeger', 'otlp/jaeger-monitor', 'spanmetrics']);
  assert.ok(metrics?.receivers?.includes('spanmetrics') && metrics.receivers.includes('otlp'));
  const exporters = config.exporters as Record<string, { endpoint?: string; metrics_endpoint?: string }>;
  assert.equal(exporters['otlp/jaeger']?.endpoint, 'jaeger:4317');
  assert.equal(exporters['otlp/jaeger-monitor']?.endpoint, 'jaeger-monitor:4317');
  assert.equal(exporters['otlphttp/prometheus']?.metrics_endpoint, 'http://prometheus:9090/api/v1/otlp/v1/metrics');
  // The checker itself rejects a miswired config.
  const broken = structuredClone(config);
  broken.service.pipelines.traces!.exporters = ['otlp/nowhere'];
  assert.deepEqual(wiringProblems(broken), ['pipeline traces: exporter otlp/nowhere is not defined', 'connector spanmetrics: not both exporter and receiver']);
});

test('jaeger-monitor config: parses, wired, the Monitor tab reads Prometheus', () => {
  const config = parse(readFileSync(path.join(ROOT, JAEGER_MONITOR_CONFIG), 'utf8')) as PipelineConfig & {
    extensions: {
      jaeger_query: { storage: { traces: string; metrics: string } };
      jaeger_storage: { backends: Record<string, unknown>; metric_backends: Record<string, { prometheus?: { endpoint?: string } }> };
    };
    exporters: { jaeger_storage_exporter: { trace_storage: string } };
  };
  assert.deepEqual(wiringProblems(config), []);
  const { jaeger_query: query, jaeger_storage: storage } = config.extensions;
  assert.ok(query.storage.traces in storage.backends);
  assert.equal(config.exporters.jaeger_storage_exporter.trace_storage, query.storage.traces);
  assert.equal(storage.metric_backends[query.storage.metrics]?.prometheus?.endpoint, 'http://prometheus:9090');
});
