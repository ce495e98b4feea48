/**
 * Whether the service is serving: the state `/ping` answers with (and readiness probes build on).
 * A component whose work is the service (the echo listener, the echo workers of cluster mode)
 * holds a gate that stays closed until it serves; the manager holds one until every component has
 * started. The service serves while every gate is open and shutdown has not begun.
 */
import type { Lifecycle } from './component.js';

/** What the service is doing: not serving yet, serving, or shutting down (never serving again). */
export type ServiceState = 'starting' | 'serving' | 'stopping';

/** One component's say in readiness. Starts closed. */
export interface ReadinessGate {
  /** The component serves now. */
  open(): void;
  /** The component stopped serving (e.g. every echo worker died); the service is not ready until it opens again. */
  close(): void;
}

/** The gates of one service (one per ComponentManager). */
export class Readiness {
  readonly #closed = new Set<string>();

  /** A closed gate named after its component; the service is not ready until it opens. */
  gate(name: string): ReadinessGate {
    this.#closed.add(name);
    return {
      open: () => void this.#closed.delete(name),
      close: () => void this.#closed.add(name),
    };
  }

  /** True when every gate is open. */
  get ready(): boolean {
    return this.#closed.size === 0;
  }

  /** Names of the closed gates (what the service still waits for). */
  get waitingFor(): readonly string[] {
    return [...this.#closed];
  }
}

/** The service's state from its lifecycle and readiness: `stopping` wins, then the gates decide. */
export function serviceState(lifecycle: Pick<Lifecycle, 'stopping'>, readiness: Pick<Readiness, 'ready'> | undefined): ServiceState {
  if (lifecycle.stopping) return 'stopping';
  return readiness === undefined || readiness.ready ? 'serving' : 'starting';
}
