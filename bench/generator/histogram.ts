/**
 * A log-bucketed latency histogram (about 1% relative precision, 100 ns to ~10 min) that merges by
 * adding counts, so worker threads record locally and the generator sums them.
 */

/** Ratio between neighbouring bucket bounds. */
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
/** Lower bound of bucket 0, in microseconds. */
const MIN_US = 0.1;
/** 3000 buckets reach MIN_US * 1.01^3000 ≈ 9e11 µs: far beyond any run. */
export const BUCKETS = 3000;

/** Counts per bucket plus exact min/max/sum, in microseconds. */
export class Histogram {
  readonly counts: Float64Array;
  count = 0;
  sum = 0;
  min = Infinity;
  max = 0;

  constructor(counts?: ArrayLike<number>) {
    this.counts = new Float64Array(BUCKETS);
    if (counts) this.counts.set(counts);
  }

  /** Records one value in microseconds. */
  record(us: number): void {
    const index = us <= MIN_US ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log(us / MIN_US) / LOG_GROWTH));
    this.counts[index]! += 1;
    this.count += 1;
    this.sum += us;
    if (us < this.min) this.min = us;
    if (us > this.max) this.max = us;
  }

  /** Adds another histogram's counts into this one. */
  merge(other: Pick<Histogram, 'count' | 'sum' | 'min' | 'max'> & { counts: ArrayLike<number> }): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += other.counts[i] ?? 0;
    this.count += other.count;
    this.sum += other.sum;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
  }

  /**
   * The value at quantile q (0..1): the upper bound of the bucket holding it, clamped to the exact
   * max, so a reported percentile is never below the true one by more than the bucket width.
   */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.max, MIN_US * GROWTH ** (i + 1));
    }
    return this.max;
  }

  /** Plain data for postMessage. */
  toData(): HistogramData {
    return { counts: Array.from(this.counts), count: this.count, sum: this.sum, min: this.min, max: this.max };
  }

  static fromData(data: HistogramData): Histogram {
    const histogram = new Histogram(data.counts);
    histogram.count = data.count;
    histogram.sum = data.sum;
    histogram.min = data.min;
    histogram.max = data.max;
    return histogram;
  }
}

/** A histogram as structured-clone data. */
export interface HistogramData {
  counts: number[];
  count: number;
  sum: number;
  min: number;
  max: number;
}
