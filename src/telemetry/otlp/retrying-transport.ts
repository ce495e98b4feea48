/**
 * Retries an export the transport calls retryable, with the policy of the SDK's own
 * RetryingTransport (which @opentelemetry/otlp-exporter-base does not export): up to 5 retries,
 * exponential backoff from 1 s by 1.5× to at most 5 s with ±20% jitter, the collector's
 * Retry-After in place of the backoff when it sends one, and never past the export's deadline: a
 * wait that would end after it returns the last answer instead.
 */
import { diag } from '@opentelemetry/api';
import type { ExportResponse, IExporterTransport } from '@opentelemetry/otlp-exporter-base';

export const RETRY_POLICY = { maxRetries: 5, initialBackoffMs: 1000, maxBackoffMs: 5000, multiplier: 1.5, jitter: 0.2 } as const;

export class RetryingTransport implements IExporterTransport {
  constructor(
    private readonly inner: IExporterTransport,
    private readonly random: () => number = Math.random,
  ) {}

  async send(data: Uint8Array, timeoutMillis: number): Promise<ExportResponse> {
    const deadline = Date.now() + timeoutMillis;
    let backoff: number = RETRY_POLICY.initialBackoffMs;
    let result = await this.inner.send(data, timeoutMillis);
    for (let retries = 0; result.status === 'retryable' && retries < RETRY_POLICY.maxRetries; retries++) {
      const jittered = backoff * (1 + (this.random() * 2 - 1) * RETRY_POLICY.jitter);
      const wait = result.retryInMillis ?? Math.max(0, Math.min(jittered, RETRY_POLICY.maxBackoffMs));
      backoff *= RETRY_POLICY.multiplier;
      const remaining = deadline - Date.now();
      if (wait >= remaining) {
        diag.info(`Export retry time ${Math.round(wait)}ms exceeds remaining timeout ${Math.round(remaining)}ms, not retrying further.`);
        return result;
      }
      await new Promise<void>((resolve) => setTimeout(resolve, wait));
      result = await this.inner.send(data, deadline - Date.now());
    }
    if (result.status === 'retryable') diag.info(`Export failed after maximum retry attempts (${RETRY_POLICY.maxRetries}).`);
    else if (result.status === 'failure') diag.info(`Export failed with non-retryable error: ${result.error.message}`);
    return result;
  }

  shutdown(): void {
    this.inner.shutdown();
  }
}
