/**
 * Process and runtime metrics a userver user looks for (`process.*`, `engine.*`): RSS, CPU time,
 * open file descriptors, uptime, event-loop delay quantiles and utilisation. All observable: they
 * cost nothing between collections.
 */
import { readdirSync } from 'node:fs';
import { monitorEventLoopDelay, performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { BatchObservableCallback, Meter } from '@opentelemetry/api';
import type { GaugeMerge } from './merge.js';

const USER = Object.freeze({ mode: 'user' });
const SYSTEM = Object.freeze({ mode: 'system' });
/** Interval of the event-loop delay timer, in ms: fine enough for delays that matter to an echo, cheap (one timer). */
const DELAY_RESOLUTION_MS = 10;
/** The same in the histogram's unit (ns). */
const DELAY_RESOLUTION_NS = DELAY_RESOLUTION_MS * 1e6;

/**
 * Node's delay histogram records the time between two ticks of a timer that is due every
 * `resolution` ms, so an idle loop records the resolution itself: the delay is what lies beyond it.
 */
function delaySeconds(recordedNs: number): number {
  return Math.max(0, recordedNs - DELAY_RESOLUTION_NS) / 1e9;
}

/**
 * Event-loop delay and utilisation over the window since the previous sample. Both the Prometheus
 * scrape and the JSON view collect; samples closer together than `minIntervalMs` reuse the last
 * window so one collection does not leave the next a window of a few microseconds.
 */
export class EventLoopSampler {
  // @types/node 24 names it ELDHistogram, 22 IntervalHistogram: the return type fits both.
  readonly #delay: ReturnType<typeof monitorEventLoopDelay>;
  readonly #minIntervalMs: number;
  #elu: EventLoopUtilization;
  #sampledAt = Number.NEGATIVE_INFINITY;
  #p50 = 0;
  #p99 = 0;
  #utilization = 0;

  constructor(minIntervalMs = 1000) {
    this.#minIntervalMs = minIntervalMs;
    this.#delay = monitorEventLoopDelay({ resolution: DELAY_RESOLUTION_MS });
    this.#delay.enable();
    this.#elu = performance.eventLoopUtilization();
  }

  /** `[p50 seconds, p99 seconds, utilisation 0..1]` of the current window. */
  sample(now = performance.now()): readonly [number, number, number] {
    if (now - this.#sampledAt >= this.#minIntervalMs) {
      this.#sampledAt = now;
      const h = this.#delay;
      // An empty histogram reports nonsense extremes; no samples means no measured delay.
      this.#p50 = h.count > 0 ? delaySeconds(h.percentile(50)) : 0;
      this.#p99 = h.count > 0 ? delaySeconds(h.percentile(99)) : 0;
      h.reset();
      const current = performance.eventLoopUtilization();
      this.#utilization = performance.eventLoopUtilization(current, this.#elu).utilization;
      this.#elu = current;
    }
    return [this.#p50, this.#p99, this.#utilization];
  }

  /** Stops the delay timer. Safe to call twice. */
  stop(): void {
    this.#delay.disable();
  }
}

/**
 * How a gauge of this module combines over the processes of a cluster: the service's uptime is
 * the oldest process's, and an event loop's delay or busy share is a per-loop figure whose worst
 * value is what an alert needs; every other gauge (RSS, open fds, open sockets) is summed.
 */
export function gaugeMergeOf(instrumentName: string): GaugeMerge {
  return instrumentName === 'process.uptime_seconds' || instrumentName.startsWith('engine.event-loop.') ? 'max' : 'sum';
}

/** Number of open file descriptors of this process, or undefined where /proc is not available. */
function openFileDescriptors(): number | undefined {
  try {
    // readdir holds one descriptor on the directory itself while listing it.
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return undefined;
  }
}

/**
 * Registers the `process.*` and `engine.*` instruments. Returns a function that unregisters them
 * and stops the event-loop sampler.
 */
export function registerRuntimeInstruments(meter: Meter): () => void {
  const sampler = new EventLoopSampler();
  // `_bytes`/`_seconds` suffixes: Prometheus base units; the JSON path drops them (snapshot.ts).
  const rss = meter.createObservableGauge('process.memory.rss_bytes', {
    description: 'Resident set size of the process, in bytes.',
    unit: 'By',
  });
  const cpu = meter.createObservableCounter('process.cpu.time_seconds', {
    description: 'CPU time used by the process, in seconds, by mode (user, system).',
    unit: 's',
  });
  const fds = meter.createObservableGauge('process.open-fds', {
    description: 'Open file descriptors of the process.',
  });
  const uptime = meter.createObservableGauge('process.uptime_seconds', {
    description: 'Seconds since the process started.',
    unit: 's',
  });
  const delayP50 = meter.createObservableGauge('engine.event-loop.delay.p50_seconds', {
    description: 'Event-loop delay (lateness of a 10 ms timer; 0 when idle), median over the last collection window, in seconds.',
    unit: 's',
  });
  const delayP99 = meter.createObservableGauge('engine.event-loop.delay.p99_seconds', {
    description: 'Event-loop delay (lateness of a 10 ms timer; 0 when idle), 99th percentile over the last collection window, in seconds.',
    unit: 's',
  });
  const utilization = meter.createObservableGauge('engine.event-loop.utilization', {
    description: 'Share of time the event loop was busy over the last collection window (0..1).',
  });
  const observables = [rss, cpu, fds, uptime, delayP50, delayP99, utilization];

  const callback: BatchObservableCallback = (result) => {
    result.observe(rss, process.memoryUsage.rss());
    const usage = process.cpuUsage();
    result.observe(cpu, usage.user / 1e6, USER);
    result.observe(cpu, usage.system / 1e6, SYSTEM);
    const open = openFileDescriptors();
    if (open !== undefined) result.observe(fds, open);
    result.observe(uptime, process.uptime());
    const [p50, p99, busy] = sampler.sample();
    result.observe(delayP50, p50);
    result.observe(delayP99, p99);
    result.observe(utilization, busy);
  };
  meter.addBatchObservableCallback(callback, observables);

  return () => {
    meter.removeBatchObservableCallback(callback, observables);
    sampler.stop();
  };
}
