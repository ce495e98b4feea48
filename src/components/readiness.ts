/**
 * The readiness contract: what a component that serves traffic tells the readiness probe. The echo
 * (one process) and the cluster supervisor (`workers` > 1) implement it; the monitor asks it.
 */

/** A component whose traffic readiness depends on. */
export interface ReadinessSource {
  /**
   * True once it accepts traffic (the echo listener listens; in cluster mode every worker listened)
   * and until shutdown begins.
   */
  readonly ready: boolean;
}

/** True when `component` reports readiness (has a boolean `ready`). */
export function isReadinessSource(component: unknown): component is ReadinessSource {
  return typeof component === 'object' && component !== null && typeof (component as { ready?: unknown }).ready === 'boolean';
}
