/**
 * The Kubernetes config run for real: `tcp-echo -c deploy/kubernetes/static_config.yaml` (what the
 * Deployment's container runs, from the ConfigMap), with the ports moved to free ones through the
 * environment the config reads. The Deployment's probe paths and the PodMonitor's scrape path answer
 * on the monitor port, the echo echoes, and tests-control is not reachable.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { connect, ping } from '../helpers/echo-client.js';
import { find, KUBERNETES_DIR, readManifests } from '../helpers/kubernetes-manifests.js';
import { freePort, spawnMain } from '../helpers/service.js';

test('the ConfigMap config starts the service; probes, scrape path and echo answer where the manifests say', { timeout: 60_000 }, async (t) => {
  const manifests = readManifests();
  const container = find(manifests, 'Deployment').spec.template.spec.containers[0];
  const [fileName] = Object.keys(find(manifests, 'ConfigMap').data ?? {});
  const echoPort = await freePort();
  const monitorPort = await freePort();
  const { child, exited, stderr } = spawnMain(t, ['-c', path.join(KUBERNETES_DIR, fileName!)], {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    ECHO_PORT: String(echoPort),
    MONITOR_PORT: String(monitorPort),
    OTEL_SDK_DISABLED: 'true',
  });

  const base = `http://127.0.0.1:${monitorPort}`;
  const get = async (url: string) => {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      return { status: response.status, body: await response.text() };
    } catch {
      return { status: 0, body: '' };
    }
  };
  const deadline = performance.now() + 30_000;
  while ((await get(`${base}${container.readinessProbe.httpGet.path}`)).status !== 200) {
    assert.equal(child.exitCode, null, `the service exited:\n${stderr()}`);
    assert.ok(performance.now() < deadline, `readiness probe never 200:\n${stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal((await get(`${base}${container.livenessProbe.httpGet.path}`)).status, 200);
  assert.equal((await get(`${base}${container.startupProbe.httpGet.path}`)).status, 200);
  const scrape = find(manifests, 'PodMonitor').spec.podMetricsEndpoints[0];
  const metrics = await get(`${base}${scrape.path}`);
  assert.equal(metrics.status, 200);
  assert.match(metrics.body, /^# HELP tcp_echo_sockets_opened_total /m);
  assert.equal((await get(`${base}/tests/reset_metrics`)).status, 404, 'tests-control is off');

  const socket = await connect(echoPort);
  await ping(socket, Buffer.from('hello from a pod\n'));
  socket.destroy();

  child.kill('SIGTERM');
  // The drain window is 20 s; nothing is open, so the service stops within it.
  assert.equal(await exited, 0, stderr());
});
