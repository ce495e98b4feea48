/**
 * The one OpenTelemetry Resource of the service: traces, OTLP metrics and Prometheus `target_info`
 * all carry it, so a backend joins them on the same attributes.
 */
import {
  defaultResource,
  detectResources,
  envDetector,
  hostDetector,
  processDetector,
  resourceFromAttributes,
  type ResourceDetector,
  type Resource,
} from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

/** The tracer section's service name when the config sets none. */
export const DEFAULT_SERVICE_NAME = 'tcp-echo';

/**
 * The resource for `serviceName` (the config's `tracer.service-name`). Later merges win: SDK
 * defaults < the config's service name < process and host < OTEL_RESOURCE_ATTRIBUTES and
 * OTEL_SERVICE_NAME (env detector) — the spec's precedence and ours (env over file).
 */
export function serviceResource(serviceName: string): Resource {
  return defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName }))
    .merge(detectResources({ detectors: [processWithoutArgs, hostDetector] }))
    .merge(detectResources({ detectors: [envDetector] }));
}

/**
 * The process detector less `process.command_args`: the whole argv (node flags included) is a
 * label of Prometheus `target_info` too, hundreds of bytes saying nothing the executable and
 * `process.command` do not.
 */
const processWithoutArgs: ResourceDetector = {
  detect(config) {
    const detected = processDetector.detect(config);
    const { 'process.command_args': _args, ...attributes } = detected.attributes ?? {};
    return { ...detected, attributes };
  },
};

/**
 * Waits, at most `timeoutMs`, for the resource's async attributes (host.id reads a file), so that
 * exports and scrapes never wait for them. Never rejects.
 */
export async function settleResource(resource: Resource, timeoutMs: number): Promise<void> {
  if (!resource.asyncAttributesPending || !resource.waitForAsyncAttributes) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    timer.unref();
    resource.waitForAsyncAttributes!().then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      () => {
        clearTimeout(timer);
        resolve();
      },
    );
  });
}

/** `tracer.service-name` read from the whole static config (statistics-storage is built before the tracer). */
export function serviceNameFromStaticConfig(staticConfig: Readonly<Record<string, unknown>> | undefined): string {
  const manager = staticConfig?.components_manager as Record<string, unknown> | undefined;
  const components = manager?.components as Record<string, unknown> | undefined;
  const tracer = components?.tracer as Record<string, unknown> | undefined;
  const name = tracer?.['service-name'];
  // The tracer's schema rejects a non-string; until then the default stands in.
  return typeof name === 'string' && name !== '' ? name : DEFAULT_SERVICE_NAME;
}
