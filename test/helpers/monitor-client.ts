/** Reads single metric values from a running service's `/service/monitor` JSON view. */
import { performance } from 'node:perf_hooks';
import type { RunningService } from './service.js';

/** One metric value from `/service/monitor?format=json` (the first node matching `labels`). */
export async function metric(service: RunningService, path: string, labels: Record<string, string> = {}): Promise<number> {
  const response = await fetch(`${service.monitorUrl}/service/monitor?format=json&path=${encodeURIComponent(path)}`);
  const body = (await response.json()) as Record<string, Array<{ value: number; labels: Record<string, string> }>>;
  const node = body[path]?.find((n) => Object.entries(labels).every(([k, v]) => n.labels[k] === v));
  if (!node) throw new Error(`metric ${path} ${JSON.stringify(labels)} not in ${JSON.stringify(body)}`);
  return node.value;
}

/** Polls a metric every 50 ms until `accept` holds (at most `timeoutMs`, generous: it returns as soon as it holds); returns the last value. */
export async function metricUntil(
  service: RunningService,
  path: string,
  labels: Record<string, string>,
  accept: (value: number) => boolean,
  timeoutMs = 60_000,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await metric(service, path, labels);
    if (accept(value) || performance.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
