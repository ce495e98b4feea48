/** A fixed collection (what the SDK would hand a reader) for the golden tests of every format. */
import { ValueType } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType, type ResourceMetrics } from '@opentelemetry/sdk-metrics';

const T: [number, number] = [1_700_000_000, 0];
const point = <V>(value: V, attributes: Record<string, string> = {}) => ({
  startTime: T,
  endTime: T,
  attributes,
  value,
});
const descriptor = (name: string, description: string, unit = '') => ({ name, description, unit, valueType: ValueType.DOUBLE });

/** Collected at 2023-11-14T22:13:20Z. */
export const FIXED_TIME_MS = 1_700_000_000_123;

export const FIXED_METRICS: ResourceMetrics = {
  resource: resourceFromAttributes({ 'service.name': 'tcp-echo' }),
  scopeMetrics: [
    {
      scope: { name: 'tcp-echo' },
      metrics: [
        {
          descriptor: descriptor('tcp-echo.sockets.opened', 'Connections accepted.'),
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.SUM,
          isMonotonic: true,
          dataPoints: [point(3)],
        },
        {
          descriptor: descriptor('tcp-echo.sockets.active', 'Connections open now.'),
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.SUM,
          isMonotonic: false,
          dataPoints: [point(1)],
        },
        {
          descriptor: descriptor('tcp-echo.sockets.close-reasons', 'Closes by reason.'),
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.SUM,
          isMonotonic: true,
          dataPoints: [point(2, { reason: 'eof' }), point(0, { reason: 'reset' })],
        },
        {
          descriptor: descriptor('process.memory.rss_bytes', 'Resident set size.', 'By'),
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.GAUGE,
          dataPoints: [point(1048576)],
        },
        {
          descriptor: descriptor('tcp-echo.connection.duration_seconds', 'Connection lifetime.', 's'),
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.HISTOGRAM,
          dataPoints: [
            point({ buckets: { boundaries: [0.001, 0.01], counts: [3, 1, 0] }, sum: 0.012, count: 4, min: 0.0005, max: 0.009 }),
          ],
        },
      ],
    },
  ],
};
