/**
 * deploy/kubernetes, offline: every object validates against the Kubernetes OpenAPI schemas
 * (kubernetes-models, generated from the Kubernetes API spec) and the PodMonitor against the
 * Prometheus Operator CRD schema (@kubernetes-models/prometheus-operator); unknown fields are
 * caught by the same generated types; and the manifests agree with the code: config, ports, probe
 * and scrape paths, selectors, the drain arithmetic.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { COMPONENTS } from '../../../src/component-list.js';
import { loadStaticConfig } from '../../../src/config/load.js';
import { validateStaticConfig } from '../../../src/config/static-config.js';
import { SHUTDOWN_FLUSH_MS } from '../../../src/echo/echo-component.js';
import { STOP_FLUSH_TIMEOUT_MS } from '../../../src/log/logging-component.js';
import { find, KUBERNETES_DIR, readExamples, readKustomization, readManifests, validateManifest, type Manifest } from '../../helpers/kubernetes-manifests.js';
import { ROOT } from '../../helpers/service.js';

const manifests = readManifests();
const examples = readExamples();
const deployment = find(manifests, 'Deployment');
const podSpec = deployment.spec.template.spec;
const container = podSpec.containers[0];

/**
 * The ConfigMap's static config through the service's own loader (substitution, with no config
 * vars and no ECHO_PORT/MONITOR_PORT, as in the pod) and validator.
 */
function validatedConfig() {
  const configMap = find(manifests, 'ConfigMap');
  const [fileName, text] = Object.entries(configMap.data ?? {})[0] ?? [];
  assert.ok(fileName && text, 'the ConfigMap holds the static config');
  const file = path.join(KUBERNETES_DIR, fileName);
  const { root } = loadStaticConfig({ configFile: file, env: {} });
  const { root: settings, plans } = validateStaticConfig(COMPONENTS, file, root);
  const section = (name: string) => plans.find((p) => p.definition.name === name);
  return { fileName, gracefulShutdownIntervalMs: settings.components_manager.graceful_shutdown_interval, section };
}

test('kustomization.yaml lists every manifest in the folder and nothing that is missing', () => {
  const kustomization = readKustomization();
  const generated = new Set((kustomization.configMapGenerator ?? []).flatMap((g) => g.files ?? []));
  const onDisk = readdirSync(KUBERNETES_DIR).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml' && !generated.has(f));
  assert.deepEqual([...kustomization.resources].sort(), onDisk.sort());
  assert.deepEqual(
    manifests.map((m) => m.kind).sort(),
    ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'PodMonitor', 'Service', 'Service'],
  );
  assert.ok(kustomization.images?.some((i) => i.name === container.image), 'the image name is set by kustomization.yaml');
});

test('every object validates against the Kubernetes OpenAPI schemas; the PodMonitor against the Prometheus Operator CRD', (t) => {
  for (const manifest of [...manifests, ...examples]) validateManifest(manifest);
  const names = (list: readonly Manifest[]) => list.map((m) => `${m.apiVersion} ${m.kind}/${m.metadata.name}`).join(', ');
  t.diagnostic(`validated ${manifests.length} objects: ${names(manifests)}; examples: ${names(examples)}`);
});

test('the validator is not vacuous: a wrong type, a missing required field and a bad enum are refused', () => {
  const broken = (edit: (copy: Manifest & { spec: any }) => void): Manifest => {
    const copy = structuredClone(deployment) as Manifest & { spec: any };
    edit(copy);
    return copy;
  };
  assert.throws(() => validateManifest(broken((d) => (d.spec.template.spec.containers[0].ports[0].containerPort = 'echo'))), /containerPort must be integer/);
  assert.throws(() => validateManifest(broken((d) => delete d.spec.template.spec.containers[0].name)), /must have required property '?name'?/);
  const monitor = structuredClone(find(manifests, 'PodMonitor')) as Manifest & { spec: any };
  monitor.spec.podMetricsEndpoints[0].scheme = 'gopher';
  assert.throws(() => validateManifest(monitor), /scheme/);
});

/** Type-checks every object as a literal of its kind's generated interface: unknown keys are errors. */
function strictDiagnostics(objects: readonly Manifest[]): string[] {
  const types: Record<string, [string, string]> = {
    Deployment: ['IDeployment', 'kubernetes-models/apps/v1/Deployment'],
    Service: ['IService', 'kubernetes-models/v1/Service'],
    ConfigMap: ['IConfigMap', 'kubernetes-models/v1/ConfigMap'],
    PodDisruptionBudget: ['IPodDisruptionBudget', 'kubernetes-models/policy/v1/PodDisruptionBudget'],
    HorizontalPodAutoscaler: ['IHorizontalPodAutoscaler', 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler'],
    PodMonitor: ['IPodMonitor', '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor'],
  };
  const lines: string[] = [];
  objects.forEach(({ file: _file, ...object }, i) => {
    const [name, module] = types[object.kind] ?? [];
    assert.ok(name && module, `a type for ${object.kind}`);
    lines.push(`import type { ${name} as T${i} } from '${module}';`, `export const m${i}: T${i} = ${JSON.stringify(object)};`);
  });
  const virtual = path.join(ROOT, 'test', '__kubernetes_manifests__.ts');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
  };
  const host = ts.createCompilerHost(options);
  const text = lines.join('\n');
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (file, language, ...rest) =>
    file === virtual ? ts.createSourceFile(file, text, language, true) : getSourceFile(file, language, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (file) => file === virtual || fileExists(file);
  const program = ts.createProgram([virtual], options, host);
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

test('no unknown or misspelt field anywhere (strict, against the same generated schema types)', () => {
  assert.deepEqual(strictDiagnostics([...manifests, ...examples]), []);
  // And a typo is caught.
  const typo = structuredClone(deployment) as Manifest & { spec: any };
  typo.spec.template.spec.containers[0].readinesProbe = typo.spec.template.spec.containers[0].readinessProbe;
  const errors = strictDiagnostics([typo]);
  assert.ok(errors.some((e) => e.includes('readinesProbe') && e.includes('does not exist in type')), errors.join('\n'));
});

test('the ConfigMap is a valid tcp-echo config and the container runs it', () => {
  const { fileName } = validatedConfig();
  const volume = podSpec.volumes.find((v: any) => v.configMap?.name === find(manifests, 'ConfigMap').metadata.name);
  assert.ok(volume, 'a volume mounts the generated ConfigMap');
  const mount = container.volumeMounts.find((m: any) => m.name === volume.name);
  assert.deepEqual(container.args, ['-c', `${mount.mountPath}/${fileName}`]);
});

test('ports, probes and the PodMonitor point where the service listens and answers', () => {
  const { section } = validatedConfig();
  const echo = section('tcp-echo')!.config as { port: number; address: string };
  const listener = (section('server')!.config as { listener: { port: number; address: string } }).listener;
  const port = (name: string) => container.ports.find((p: any) => p.name === name)?.containerPort;
  assert.equal(port('echo'), echo.port);
  assert.equal(port('monitor'), listener.port);
  assert.ok(['0.0.0.0', '::'].includes(listener.address), `the monitor listens on ${listener.address}: the kubelet and Prometheus cannot reach it`);
  assert.ok(['0.0.0.0', '::'].includes(echo.address), `the echo listens on ${echo.address}`);

  const readiness = section('handler-readiness')!;
  const liveness = section('handler-liveness')!;
  assert.ok(readiness.load && liveness.load, 'both probe handlers are loaded');
  assert.equal(container.readinessProbe.httpGet.path, (readiness.config as { path: string }).path);
  assert.equal(container.livenessProbe.httpGet.path, (liveness.config as { path: string }).path);
  assert.equal(container.startupProbe.httpGet.path, (liveness.config as { path: string }).path);
  for (const probe of [container.readinessProbe, container.livenessProbe, container.startupProbe]) assert.equal(probe.httpGet.port, 'monitor');

  const monitor = find(manifests, 'PodMonitor');
  const scrape = monitor.spec.podMetricsEndpoints[0];
  assert.equal(scrape.port, 'monitor');
  const metricsHandler = section('handler-server-monitor')!;
  assert.ok(metricsHandler.load);
  assert.equal(scrape.path, (metricsHandler.config as { metrics_path: string }).metrics_path);
  assert.equal(section('tests-control')!.load, false, 'tests-control is off in a deployment');
});

test('selectors: Services, PodDisruptionBudget, PodMonitor and HPA all find the Deployment and its pods', () => {
  const podLabels = deployment.spec.template.metadata.labels as Record<string, string>;
  const selects = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => podLabels[k] === v);
  assert.ok(selects(deployment.spec.selector.matchLabels));
  for (const service of [...manifests, ...examples].filter((m) => m.kind === 'Service')) {
    assert.ok(selects(service.spec.selector), `${service.metadata.name} selects the pods`);
    for (const p of service.spec.ports) assert.ok(container.ports.some((c: any) => c.name === p.targetPort), `${service.metadata.name} targets ${p.targetPort}`);
  }
  assert.ok(selects(find(manifests, 'PodDisruptionBudget').spec.selector.matchLabels));
  assert.ok(selects(find(manifests, 'PodMonitor').spec.selector.matchLabels));
  const hpa = find(manifests, 'HorizontalPodAutoscaler');
  assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
  assert.ok(container.resources.requests.cpu, 'the HPA needs a CPU request to compute utilization');
});

test('the grace period covers preStop + the drain window + the close flush + the tracer and log flush bounds', (t) => {
  const { gracefulShutdownIntervalMs, section } = validatedConfig();
  const echo = section('tcp-echo')!.config as { graceful_shutdown_interval?: number };
  const tracer = section('tracer')!.config as { 'flush-timeout': number };
  const preStopMs = container.lifecycle.preStop.sleep.seconds * 1000;
  // The manager waits its interval before stopping components; the echo's window counts from the same start.
  const drainMs = Math.max(gracefulShutdownIntervalMs, echo.graceful_shutdown_interval ?? 0);
  const neededMs = preStopMs + drainMs + SHUTDOWN_FLUSH_MS + tracer['flush-timeout'] + STOP_FLUSH_TIMEOUT_MS;
  const graceMs = podSpec.terminationGracePeriodSeconds * 1000;
  t.diagnostic(`grace ${graceMs} ms >= preStop ${preStopMs} + drain ${drainMs} + close flush ${SHUTDOWN_FLUSH_MS} + tracer flush ${tracer['flush-timeout']} + log flush ${STOP_FLUSH_TIMEOUT_MS} = ${neededMs} ms`);
  assert.ok(drainMs > 0, 'a drain window is configured');
  assert.ok(graceMs >= neededMs, `terminationGracePeriodSeconds ${graceMs / 1000} s < ${neededMs / 1000} s`);
});

test('the pod runs hardened: non-root, read-only root filesystem, no privilege escalation, no capabilities', () => {
  assert.equal(podSpec.securityContext.runAsNonRoot, true);
  assert.ok(Number.isInteger(podSpec.securityContext.runAsUser) && podSpec.securityContext.runAsUser > 0);
  assert.equal(container.securityContext.readOnlyRootFilesystem, true);
  assert.equal(container.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(container.securityContext.capabilities.drop, ['ALL']);
  assert.ok(container.resources.limits.memory && container.resources.requests.memory);
  assert.ok(container.env.some((e: any) => e.name === 'OTEL_EXPORTER_OTLP_ENDPOINT'), 'the OTLP endpoint comes from the environment');
});
