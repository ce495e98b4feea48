/**
 * docker-compose.yml and docker-compose.host.yml, checked with Debian's docker-compose (1.29: no
 * engine needed for `config`) and by reading the normalised model it prints: pinned images, the
 * published ports, the monitor listener kept inside the network, mounts that exist, and the two
 * files in step.
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
    const model = await composeConfig(file);
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
  const model = await composeConfig('docker-compose.yml');
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

  const shared = await composeConfig('docker-compose.yml', { BIND_ADDRESS: '0.0.0.0', TCP_ECHO_LOG_LEVEL: 'debug' });
  assert.deepEqual(shared.services['tcp-echo']?.ports, ['0.0.0.0:8181:8181/tcp'], 'BIND_ADDRESS shares the ports');
  assert.equal(shared.services['tcp-echo']?.environment?.LOG_LEVEL, 'debug');
});

test('docker-compose.yml: Prometheus and Grafana get the shipped otel/ files; Grafana is anonymous viewer', async () => {
  const model = await composeConfig('docker-compose.yml');
  const prometheus = model.services.prometheus!;
  assert.ok(prometheus.command?.includes('--config.file=/etc/prometheus/prometheus.yml'));
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
