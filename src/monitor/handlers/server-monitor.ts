/**
 * `handler-server-monitor` (userver's handler of that name): `/service/monitor` renders the
 * metrics as json (default), prometheus, pretty or graphite, filtered by `prefix`, `path` and
 * `labels`; the same component serves the Prometheus text at `metrics_path` (`/metrics`), or
 * OpenMetrics with exemplars to a scraper that asks for it.
 */
import { defineComponent } from '../../components/component.js';
import { string } from '../../config/schema.js';
import { HttpBadRequestError } from '../../errors.js';
import type { StatisticsStorage } from '../../telemetry/statistics-storage.js';
import { filterSnapshot, parseLabelsParameter, type MetricsFilter } from '../formats/filter.js';
import { renderGraphite } from '../formats/graphite.js';
import { renderJson } from '../formats/json.js';
import { renderPretty } from '../formats/pretty.js';
import { OPENMETRICS_CONTENT_TYPE, renderOpenMetrics } from '../formats/openmetrics.js';
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from '../formats/prometheus.js';
import { handlerSchema, mountHandler } from '../handler-config.js';
import type { HttpHandler } from '../http.js';
import { prefersOpenMetrics } from '../openmetrics-negotiation.js';

const NAME = 'handler-server-monitor';

/** The formats of `/service/monitor?format=`. */
const MONITOR_FORMATS = ['json', 'prometheus', 'pretty', 'graphite'] as const;
type MonitorFormat = (typeof MONITOR_FORMATS)[number];

/** A parsed `/service/monitor` query. */
export interface MonitorQuery {
  readonly format: MonitorFormat;
  readonly filter: MetricsFilter;
}

/** Parses `format`, `prefix`, `path` and `labels`; throws HttpBadRequestError (400) on bad values. */
export function parseMonitorQuery(query: URLSearchParams): MonitorQuery {
  const format = query.get('format') ?? 'json';
  if (!(MONITOR_FORMATS as readonly string[]).includes(format)) {
    throw new HttpBadRequestError(`unknown format '${format}': expected one of ${MONITOR_FORMATS.join(', ')}`);
  }
  const filter: { prefix?: string; path?: string; labels?: Record<string, string> } = {};
  const prefix = query.get('prefix');
  const path = query.get('path');
  const labels = query.get('labels');
  if (prefix !== null) filter.prefix = prefix;
  if (path !== null) filter.path = path;
  if (labels !== null) filter.labels = parseLabelsParameter(labels);
  return { format: format as MonitorFormat, filter };
}

const TEXT = 'text/plain; charset=utf-8';

/** The `/service/monitor` handler over `storage`. */
function monitorHandler(storage: StatisticsStorage): HttpHandler {
  return async (request) => {
    const { format, filter } = parseMonitorQuery(request.query);
    if (format === 'prometheus') {
      return { status: 200, headers: { 'content-type': PROMETHEUS_CONTENT_TYPE }, body: renderPrometheus(await storage.collect(), filter) };
    }
    const snapshot = filterSnapshot(await storage.snapshot(), filter);
    switch (format) {
      case 'json':
        return { status: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, body: renderJson(snapshot) };
      case 'pretty':
        return { status: 200, headers: { 'content-type': TEXT }, body: renderPretty(snapshot) };
      case 'graphite':
        return { status: 200, headers: { 'content-type': TEXT }, body: renderGraphite(snapshot) };
    }
  };
}

/**
 * The `/metrics` handler: every metric, never offset by resets; OpenMetrics 1.0 with exemplars when
 * the `Accept` header prefers it, else the Prometheus text 0.0.4. `Vary: Accept` tells caches so.
 */
export function prometheusHandler(storage: StatisticsStorage): HttpHandler {
  return async (request) => {
    if (prefersOpenMetrics(request.headers.accept)) {
      const body = renderOpenMetrics(await storage.collect(), storage.exemplars());
      return { status: 200, headers: { 'content-type': OPENMETRICS_CONTENT_TYPE, vary: 'Accept' }, body };
    }
    return { status: 200, headers: { 'content-type': PROMETHEUS_CONTENT_TYPE, vary: 'Accept' }, body: renderPrometheus(await storage.collect()) };
  };
}

export const serverMonitorHandlerComponent = defineComponent({
  name: NAME,
  schema: handlerSchema(
    'Metrics: userver formats at `path` (json, prometheus, pretty, graphite) and Prometheus text at `metrics_path`.',
    { path: '/service/monitor', method: 'GET' },
    {
      metrics_path: string({ description: 'Where Prometheus scrapes the text exposition (GET)', default: '/metrics' }),
    },
  ),
  create: (config, context) => {
    const storage = context.find<StatisticsStorage>('statistics-storage');
    mountHandler(context, NAME, config, monitorHandler(storage));
    mountHandler(context, NAME, { path: config.metrics_path, method: 'GET' }, prometheusHandler(storage), {
      path: 'metrics_path',
      method: 'metrics_path',
    });
    return { start() {}, stop() {} };
  },
});
