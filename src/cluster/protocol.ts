/**
 * The messages between the primary and its echo workers over the cluster IPC channel. Few and
 * rare: a handshake at start, one request/answer per metrics collection, and shutdown. Nothing per
 * connection or per data chunk travels here.
 */
import type { ScopeMetrics } from '@opentelemetry/sdk-metrics';
import type { ExemplarSet } from '../telemetry/metrics/exemplar-store.js';

/** Every message of ours carries this tag, so Node's own cluster messages are never mistaken for ours. */
export const TAG = 'tcp-echo/cluster';

/** Environment variable that gives a worker its slot number (1..N); set by the primary at fork. */
export const WORKER_SLOT_ENV = 'TCP_ECHO_WORKER_SLOT';

/** Worker → primary. */
export type WorkerMessage =
  /** Listening for messages: send the config. */
  | { readonly tag: typeof TAG; readonly kind: 'hello' }
  /** Every worker component started; the echo listener is accepting. */
  | { readonly tag: typeof TAG; readonly kind: 'ready' }
  /** Start failed (bad config, port in use): `message` is what a single process would print; then it exits. */
  | { readonly tag: typeof TAG; readonly kind: 'failed'; readonly message: string; readonly code?: string }
  /** The answer to `collect` number `id`. */
  | {
      readonly tag: typeof TAG;
      readonly kind: 'metrics';
      readonly id: number;
      readonly scopeMetrics: ScopeMetrics[];
      /** The worker's histogram exemplars by instrument name (pairs: a Map does not cross IPC). */
      readonly exemplars?: ReadonlyArray<readonly [string, ExemplarSet]>;
    };

/** Primary → worker. */
export type PrimaryMessage =
  /** The validated, substituted static config the primary runs with (the worker reads no file). */
  | {
      readonly tag: typeof TAG;
      readonly kind: 'config';
      readonly file: string;
      readonly root: Readonly<Record<string, unknown>>;
    }
  /** Collect local metrics now and answer with `metrics` carrying the same id. */
  | { readonly tag: typeof TAG; readonly kind: 'collect'; readonly id: number }
  /** Shut down gracefully (drain connections), then exit 0. */
  | { readonly tag: typeof TAG; readonly kind: 'shutdown' };

/** True for a message of this protocol (of any kind). */
export function isOurs<M extends WorkerMessage | PrimaryMessage>(message: unknown): message is M {
  return typeof message === 'object' && message !== null && (message as { tag?: unknown }).tag === TAG;
}
