/**
 * deploy/kubernetes as the API server would receive it after `kubectl apply -k`: the resources that
 * kustomization.yaml lists, plus the ConfigMap its configMapGenerator makes, each checked against
 * the schemas of `kubernetes-models` (generated from the Kubernetes OpenAPI spec) and
 * `@kubernetes-models/prometheus-operator` (generated from the Prometheus Operator CRDs).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments, parse } from 'yaml';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { ROOT } from './service.js';

/** The folder `kubectl apply -k` is pointed at. */
export const KUBERNETES_DIR = path.join(ROOT, 'deploy', 'kubernetes');

/** One Kubernetes object. */
export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly labels?: Record<string, string> };
  readonly spec?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  readonly data?: Record<string, string>;
  /** Which file it came from (the generator's source for the ConfigMap). */
  readonly file: string;
}

/** The schema-backed model of each kind the deployment uses; `validate()` throws on a violation. */
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'v1/ConfigMap': ConfigMap,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
};

/** Validates one object against its kind's schema; throws naming the file, kind and problem. */
export function validateManifest(manifest: Manifest): void {
  const key = `${manifest.apiVersion}/${manifest.kind}`;
  const Model = MODELS[key];
  if (Model === undefined) throw new Error(`${manifest.file}: no schema for ${key}`);
  const { file: _file, ...object } = manifest;
  try {
    new Model(object).validate();
  } catch (error) {
    throw new Error(`${manifest.file}: ${key} ${manifest.metadata.name}: ${(error as Error).message}`);
  }
}

/** kustomization.yaml, parsed. */
export interface Kustomization {
  resources: string[];
  configMapGenerator?: Array<{ name: string; files?: string[] }>;
  images?: Array<{ name: string; newName?: string; newTag?: string }>;
}

export function readKustomization(dir = KUBERNETES_DIR): Kustomization {
  return parse(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
}

/** Every object of the deployment: the listed resources, then the generated ConfigMaps. */
export function readManifests(dir = KUBERNETES_DIR): Manifest[] {
  const kustomization = readKustomization(dir);
  const manifests: Manifest[] = [];
  for (const resource of kustomization.resources) {
    const file = path.join(dir, resource);
    for (const document of parseAllDocuments(readFileSync(file, 'utf8'))) {
      if (document.errors.length > 0) throw new Error(`${resource}: ${document.errors[0]!.message}`);
      const value = document.toJS() as Omit<Manifest, 'file'> | null;
      if (value !== null) manifests.push({ ...value, file: resource });
    }
  }
  for (const generator of kustomization.configMapGenerator ?? []) {
    const data: Record<string, string> = {};
    for (const entry of generator.files ?? []) data[path.basename(entry)] = readFileSync(path.join(dir, entry), 'utf8');
    manifests.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: generator.name }, data, file: 'kustomization.yaml' });
  }
  return manifests;
}

/** The objects of `examples/` (documented, not applied by kustomization.yaml). */
export function readExamples(dir = path.join(KUBERNETES_DIR, 'examples')): Manifest[] {
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .flatMap((f) =>
      parseAllDocuments(readFileSync(path.join(dir, f), 'utf8'))
        .map((d) => d.toJS() as Omit<Manifest, 'file'> | null)
        .filter((v): v is Omit<Manifest, 'file'> => v !== null)
        .map((v) => ({ ...v, file: `examples/${f}` })),
    );
}

/** The one object of `kind` (named `name`, when several); throws when absent. */
export function find(manifests: readonly Manifest[], kind: string, name?: string): Manifest {
  const found = manifests.filter((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0]!;
}
