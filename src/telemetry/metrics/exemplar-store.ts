/**
 * Exemplars for one explicit-bucket histogram: per bucket, the latest recorded value that came
 * with a sampled span, and that span's ids. OpenTelemetry JS keeps no exemplars
 * (opentelemetry-js#5147), so this store sits beside the histogram and is fed from the same
 * once-per-connection record call. Memory is fixed at construction: one slot per bucket (the
 * bounds plus the overflow bucket), overwritten in place, so a record allocates nothing.
 */

/** One exemplar: a recorded value, the span it came from, and when (ms since the epoch). */
export interface Exemplar {
  readonly value: number;
  readonly traceId: string;
  readonly spanId: string;
  readonly timestampMs: number;
}

/**
 * The exemplars of one histogram at one moment: `exemplars[i]` belongs to the bucket with upper
 * bound `bounds[i]` (values in `(bounds[i-1], bounds[i]]`, as OpenTelemetry buckets them), and
 * `exemplars[bounds.length]` to the overflow bucket. Plain data (it crosses the cluster IPC channel).
 */
export interface ExemplarSet {
  readonly bounds: readonly number[];
  readonly exemplars: ReadonlyArray<Exemplar | null>;
}

/**
 * Where an exemplar's ids are read from when the exemplars are rendered, not when recorded: a
 * connection's trace keeps them as bytes, and cutting two hex strings per connection for the few
 * that stay a bucket's latest would be waste. The ids must never change.
 */
export interface ExemplarSpan {
  readonly traceId: string;
  readonly spanId: string;
}

/** The latest exemplar per bucket of one histogram. */
export class ExemplarStore {
  readonly #bounds: readonly number[];
  // Parallel arrays, sized once: a record writes three slots and allocates nothing.
  readonly #values: Float64Array;
  readonly #timestamps: Float64Array;
  readonly #spans: Array<ExemplarSpan | undefined>;

  /** @param bounds the histogram's explicit bucket boundaries, ascending. */
  constructor(bounds: readonly number[]) {
    this.#bounds = [...bounds];
    const slots = bounds.length + 1;
    this.#values = new Float64Array(slots);
    this.#timestamps = new Float64Array(slots);
    this.#spans = new Array<ExemplarSpan | undefined>(slots).fill(undefined);
  }

  /** Keeps `value` with the span's ids as its bucket's exemplar, replacing the previous one. */
  record(value: number, traceId: string, spanId: string, timestampMs: number = Date.now()): void {
    this.recordSpan(value, { traceId, spanId }, timestampMs);
  }

  /** As {@link record}, with the ids read from `span` when the exemplars are rendered. */
  recordSpan(value: number, span: ExemplarSpan, timestampMs: number = Date.now()): void {
    const slot = bucketIndex(this.#bounds, value);
    this.#values[slot] = value;
    this.#timestamps[slot] = timestampMs;
    this.#spans[slot] = span;
  }

  /** The current exemplars (a copy). */
  snapshot(): ExemplarSet {
    const exemplars: Array<Exemplar | null> = [];
    for (let i = 0; i < this.#values.length; i++) {
      const span = this.#spans[i];
      exemplars.push(
        span === undefined
          ? null
          : { value: this.#values[i] as number, traceId: span.traceId, spanId: span.spanId, timestampMs: this.#timestamps[i] as number },
      );
    }
    return { bounds: this.#bounds, exemplars };
  }
}

/**
 * The bucket of `value`: the first bound at or above it, else the overflow bucket. The same rule
 * as the SDK's explicit-bucket aggregation (`binarySearchUB` in sdk-metrics), so an exemplar always
 * sits in the bucket its value was counted in.
 */
export function bucketIndex(bounds: readonly number[], value: number): number {
  let lo = 0;
  let hi = bounds.length - 1;
  let found = bounds.length;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if ((bounds[mid] as number) < value) lo = mid + 1;
    else {
      found = mid;
      hi = mid - 1;
    }
  }
  return found;
}

/**
 * Merges the exemplar sets of several processes (cluster mode): per bucket the latest exemplar
 * wins. Sets whose bounds differ from the first one's are left out, as the histogram merge does.
 */
export function mergeExemplarSets(sets: readonly ExemplarSet[]): ExemplarSet | undefined {
  const first = sets[0];
  if (first === undefined) return undefined;
  const exemplars = [...first.exemplars];
  for (const set of sets.slice(1)) {
    if (!sameBounds(set.bounds, first.bounds)) continue;
    set.exemplars.forEach((candidate, i) => {
      const current = exemplars[i];
      if (candidate !== null && (current == null || candidate.timestampMs > current.timestampMs)) exemplars[i] = candidate;
    });
  }
  return { bounds: first.bounds, exemplars };
}

/**
 * Merges the exemplars of several processes, each given as (instrument name, set) pairs: per
 * instrument, {@link mergeExemplarSets}. One set per instrument, however many inputs.
 */
export function mergeExemplarsByInstrument(
  lists: Iterable<Iterable<readonly [string, ExemplarSet]>>,
): Map<string, ExemplarSet> {
  const byName = new Map<string, ExemplarSet[]>();
  for (const list of lists) {
    for (const [name, set] of list) {
      const sets = byName.get(name);
      if (sets) sets.push(set);
      else byName.set(name, [set]);
    }
  }
  const merged = new Map<string, ExemplarSet>();
  for (const [name, sets] of byName) merged.set(name, mergeExemplarSets(sets) as ExemplarSet);
  return merged;
}

function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((bound, i) => bound === b[i]);
}
