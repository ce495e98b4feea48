/**
 * The `tcp-echo.*` instruments over EchoStats' plain numbers (userver's `Stats` + `DumpMetric`):
 * observable instruments read the fields at collection time, so nothing OpenTelemetry runs per
 * data chunk; the duration histogram is recorded once per finished connection.
 */
import type { Attributes, BatchObservableCallback, Meter } from '@opentelemetry/api';
import { CLOSE_REASONS, type CloseReason } from '../telemetry/connection-trace.js';
import { ExemplarStore, type ExemplarSpan } from '../telemetry/metrics/exemplar-store.js';
import type { StatisticsStorage } from '../telemetry/statistics-storage.js';
import type { EchoStats } from './stats.js';

/** The instrument of open connections; the cluster reads it per worker (tcp-echo.workers.sockets.active). */
export const SOCKETS_ACTIVE_METRIC = 'tcp-echo.sockets.active';

/** Upper bounds of `tcp-echo.connection.duration`, seconds: 1 ms to 1 h, roughly 1-2.5-5 steps. */
export const CONNECTION_DURATION_BOUNDS_S: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600, 1800, 3600,
];

// One frozen attribute object per reason, built once: observe() hashes what it is given.
const REASON_ATTRIBUTES = {} as Record<CloseReason, Attributes>;
for (const reason of CLOSE_REASONS) REASON_ATTRIBUTES[reason] = Object.freeze({ reason });

/** The duration histogram's attributes, none: given, so the SDK makes no empty object per record. */
const NO_ATTRIBUTES: Attributes = Object.freeze({});

/** The instrument name of the connection-duration histogram. */
export const CONNECTION_DURATION = 'tcp-echo.connection.duration_seconds';

/**
 * Registers the echo instruments on `meter`, reading `stats`, and routes `stats.recordDuration`
 * into the duration histogram, and a sampled connection's span ids into `exemplars` (built on
 * {@link CONNECTION_DURATION_BOUNDS_S}). Returns a function that undoes both.
 */
export function registerEchoInstruments(meter: Meter, stats: EchoStats, exemplars?: ExemplarStore): () => void {
  const opened = meter.createObservableCounter('tcp-echo.sockets.opened', {
    description: 'Connections accepted (rejected ones included).',
  });
  const closed = meter.createObservableCounter('tcp-echo.sockets.closed', {
    description: 'Connections finished, for any reason (see tcp-echo.sockets.close-reasons).',
  });
  const active = meter.createObservableUpDownCounter(SOCKETS_ACTIVE_METRIC, {
    description: 'Connections open now.',
  });
  const closeReasons = meter.createObservableCounter('tcp-echo.sockets.close-reasons', {
    description:
      'Connections finished, by reason: eof, reset, timeout, error, shutdown, rejected, and with the PROXY ' +
      'protocol on proxy-missing, proxy-malformed, proxy-oversized, proxy-timeout.',
  });
  const bytesRead = meter.createObservableCounter('tcp-echo.bytes.read', {
    description: 'Bytes read from clients.',
  });
  const bytesWritten = meter.createObservableCounter('tcp-echo.bytes.written', {
    description: 'Bytes written back to clients (handed to the kernel).',
  });
  const pauses = meter.createObservableCounter('tcp-echo.backpressure.pauses', {
    description: 'Times a connection write side hit its bound and reading paused until it drained.',
  });
  const buffered = meter.createObservableUpDownCounter('tcp-echo.backpressure.buffered-bytes', {
    description: 'Bytes read but not yet written back, over all open connections.',
  });
  const acceptErrors = meter.createObservableCounter('tcp-echo.accept.errors', {
    description:
      'Failed accepts reported by the listener (EMFILE/ENFILE, ENOBUFS). max_connections stays below the ' +
      'open-file limit, so connections refused for lack of descriptors show up as close reason rejected instead.',
  });
  const observables = [opened, closed, active, closeReasons, bytesRead, bytesWritten, pauses, buffered, acceptErrors];

  const callback: BatchObservableCallback = (result) => {
    result.observe(opened, stats.opened);
    result.observe(closed, stats.closed);
    result.observe(active, stats.active);
    for (const reason of stats.reportedCloseReasons) {
      result.observe(closeReasons, stats.closeReasons[reason], REASON_ATTRIBUTES[reason]);
    }
    result.observe(bytesRead, stats.bytesRead());
    result.observe(bytesWritten, stats.bytesWritten());
    result.observe(pauses, stats.backpressurePauses);
    result.observe(buffered, stats.bufferedBytes());
    result.observe(acceptErrors, stats.acceptErrors);
  };
  meter.addBatchObservableCallback(callback, observables);

  // `_seconds`: Prometheus wants the base unit in the name; the JSON path drops it (snapshot.ts).
  const duration = meter.createHistogram(CONNECTION_DURATION, {
    description: 'Connection lifetime, from accept to close, in seconds.',
    unit: 's',
    advice: { explicitBucketBoundaries: [...CONNECTION_DURATION_BOUNDS_S] },
  });
  const previous = stats.recordDuration;
  // Once per connection. An unsampled connection's trace has no span id: no exemplar, no extra work.
  stats.recordDuration =
    exemplars === undefined
      ? (seconds) => duration.record(seconds, NO_ATTRIBUTES)
      : (seconds, trace) => {
          duration.record(seconds, NO_ATTRIBUTES);
          // `sampled` first: reading the ids of a sampled trace cuts their hex strings.
          if (trace !== undefined && trace.sampled === true) exemplars.recordSpan(seconds, trace as ExemplarSpan);
        };

  return () => {
    meter.removeBatchObservableCallback(callback, observables);
    stats.recordDuration = previous;
  };
}

/**
 * Declares the echo instruments on `storage`, with the duration histogram's exemplar store beside
 * them (registered under the histogram's name, so the OpenMetrics view shows its exemplars).
 */
export function registerEchoMetrics(storage: StatisticsStorage, stats: EchoStats): void {
  const exemplars = new ExemplarStore(CONNECTION_DURATION_BOUNDS_S);
  storage.registerExemplars(CONNECTION_DURATION, exemplars);
  storage.register((meter) => registerEchoInstruments(meter, stats, exemplars));
}
