/**
 * One kind of repeated event (a refused connection, a failed accept), reported in at most one log
 * line per interval: the first at once, the ones after it within the interval summed into one line
 * when the interval ends. A burst's tail is reported too, not only when another event comes later,
 * and the timer is unref'd, so it never keeps the process alive; `flush()` reports what is pending
 * at once (at shutdown). The metric that counts each event is the owner's; this only shapes lines.
 */
import { performance } from 'node:perf_hooks';

/** Writes one line for `count` events; `last` describes the latest of them. */
export type ReportLine<Detail> = (count: number, last: Detail) => void;

export class RateLimitedReport<Detail> {
  private pending = 0;
  private last: Detail | undefined;
  private reportedAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly line: ReportLine<Detail>,
  ) {}

  /** Counts one event; reports now or when the interval since the last report ends. */
  note(detail: Detail): void {
    this.pending++;
    this.last = detail;
    if (this.timer !== undefined) return;
    const wait = this.reportedAt + this.intervalMs - performance.now();
    if (wait <= 0) {
      this.flush();
      return;
    }
    this.timer = setTimeout(this.onInterval, Math.ceil(wait));
    this.timer.unref();
  }

  /** Reports what is pending now (nothing when nothing is). */
  flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending === 0) return;
    const count = this.pending;
    const last = this.last as Detail;
    this.pending = 0;
    this.last = undefined;
    this.reportedAt = performance.now();
    this.line(count, last);
  }

  private readonly onInterval = (): void => {
    this.timer = undefined;
    this.flush();
  };
}
