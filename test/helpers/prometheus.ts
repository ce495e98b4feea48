/**
 * Starts a real Prometheus (Debian's `/usr/bin/prometheus`) on a free loopback port, scraping the
 * given targets, with its storage in a temp dir; queries it over the HTTP API; stops it by PID.
 *
 * The scrape config is either generated (one job `tcp-echo`) or the shipped
 * `otel/prometheus/prometheus.yml` text with every static target rewritten to the test's ports, so a
 * test exercises the same job name, metrics path and relabelling a user runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { freePort } from './service.js';

/** Where Debian's `prometheus` package installs the server; `PROMETHEUS_BIN` overrides it. */
export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';

/** One sample of an instant vector, as the HTTP API returns it: `[unix seconds, "value"]`. */
export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PrometheusOptions {
  /**
   * A whole Prometheus config file (YAML text), e.g. the shipped `otel/prometheus/prometheus.yml`.
   * Every `static_configs[].targets` of every scrape job is replaced by `targets`; `rule_files` is
   * replaced by `ruleFiles` (container paths would not exist here); `alerting` is dropped (no
   * Alertmanager in tests). Without it, one job named `tcp-echo` is generated.
   */
  scrapeConfigYaml?: string;
  /** `host:port` of each target to scrape (loopback). */
  targets: string[];
  /** Scrape and rule-evaluation interval. @default '1s' */
  scrapeInterval?: string;
  /** Rule files (absolute or relative to the cwd) Prometheus loads and evaluates. @default [] */
  ruleFiles?: string[];
  /** Overrides `metrics_path` of every job. @default the config's own, else '/metrics' */
  metricsPath?: string;
  /** Milliseconds to wait for `/-/ready`. @default 20000 */
  readyTimeoutMs?: number;
  /** Where the temp dir (config, storage) is created. @default os.tmpdir() */
  parentDir?: string;
  /** `--enable-feature` values, e.g. `exemplar-storage` (what the compose Prometheus runs with). @default [] */
  enableFeatures?: readonly string[];
}

/** A running Prometheus. `stop()` is safe to call twice. */
export interface RunningPrometheus {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** The config file Prometheus was started with (in its temp dir). */
  readonly configFile: string;
  /** Instant query; a scalar result is returned as one sample without labels. Throws on API errors. */
  query(expr: string): Promise<PromSample[]>;
  /** GET an API path (e.g. `/api/v1/rules`) and return its `data`; throws unless `status` is success. */
  api<T = unknown>(apiPath: string): Promise<T>;
  /** Everything Prometheus logged so far (it logs to stderr). */
  log(): string;
  /** SIGTERM, then SIGKILL after `timeoutMs`; removes the temp dir. */
  stop(timeoutMs?: number): Promise<void>;
}

// Prometheus children still alive: killed if the test process exits without stopping them, so a
// failed test never leaves a server (and its port) behind on a shared machine.
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Builds the config Prometheus will run with (exported for unit tests). */
export function buildPrometheusConfig(options: PrometheusOptions): Record<string, unknown> {
  const interval = options.scrapeInterval ?? '1s';
  const config: Record<string, unknown> = options.scrapeConfigYaml
    ? ((parse(options.scrapeConfigYaml) as Record<string, unknown> | null) ?? {})
    : { scrape_configs: [{ job_name: 'tcp-echo' }] };
  const global = (config.global as Record<string, unknown> | undefined) ?? {};
  config.global = { ...global, scrape_interval: interval, evaluation_interval: interval, scrape_timeout: interval };
  delete config.alerting;
  config.rule_files = (options.ruleFiles ?? []).map((file) => path.resolve(file));
  const jobs = config.scrape_configs;
  if (!Array.isArray(jobs) || jobs.length === 0) throw new Error('the Prometheus config has no scrape_configs');
  for (const job of jobs as Array<Record<string, unknown>>) {
    // The job's own interval and timeout would override the fast test interval.
    delete job.scrape_interval;
    delete job.scrape_timeout;
    if (options.metricsPath !== undefined) job.metrics_path = options.metricsPath;
    const statics = Array.isArray(job.static_configs) ? (job.static_configs as Array<Record<string, unknown>>) : [];
    const labels = statics[0]?.labels;
    job.static_configs = [{ targets: options.targets, ...(labels ? { labels } : {}) }];
  }
  return config;
}

/** Starts Prometheus and waits until `/-/ready`; the caller should `t.after(() => prom.stop())`. */
export async function startPrometheus(options: PrometheusOptions): Promise<RunningPrometheus> {
  if (!existsSync(PROMETHEUS_BIN)) {
    throw new Error(`${PROMETHEUS_BIN} not found: run scripts/install-system-deps.sh (Debian package "prometheus")`);
  }
  const dir = mkdtempSync(path.join(options.parentDir ?? tmpdir(), 'tcp-echo-prometheus-'));
  const configFile = path.join(dir, 'prometheus.yml');
  writeFileSync(configFile, stringify(buildPrometheusConfig(options)));
  // freePort() releases the port before Prometheus binds it; another process can take it in
  // between, so retry a bounded number of times when the bind is what failed.
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      return await launch(dir, configFile, port, options.readyTimeoutMs ?? 60_000, options.enableFeatures ?? []);
    } catch (error) {
      lastError = error as Error;
      if (!/address already in use/i.test(lastError.message)) break;
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError ?? new Error('prometheus did not start');
}

/** Starts one Prometheus on `port`; on failure it is killed, and `dir` is left to the caller. */
async function launch(
  dir: string,
  configFile: string,
  port: number,
  readyTimeoutMs: number,
  enableFeatures: readonly string[],
): Promise<RunningPrometheus> {
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dir, `data-${port}`)}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
      // A short lookback so a stopped target's series disappear quickly from instant queries.
      '--query.lookback-delta=1m',
      '--log.level=warn',
      ...(enableFeatures.length > 0 ? [`--enable-feature=${enableFeatures.join(',')}`] : []),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '' } },
  );
  live.add(child);
  let log = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    // Bounded: keep the last 64 KiB so a chatty server cannot grow the test's memory.
    log = (log + d).slice(-65_536);
  });
  let spawnError: Error | undefined;
  // 'exit' may not follow a spawn 'error' (Node docs), so either settles it.
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (error) => {
      spawnError = error;
      resolve();
    });
  });
  void exited.then(() => live.delete(child));

  const terminate = async (timeoutMs: number): Promise<void> => {
    if (!spawnError && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  };
  let stopped: Promise<void> | undefined;
  const stop = (timeoutMs = 10_000): Promise<void> => {
    stopped ??= terminate(timeoutMs).then(() => rmSync(dir, { recursive: true, force: true }));
    return stopped;
  };

  const api = async <T>(apiPath: string): Promise<T> => {
    const response = await fetch(`${url}${apiPath}`, { signal: AbortSignal.timeout(10_000) });
    const text = await response.text();
    let body: { status?: string; data?: T; error?: string; errorType?: string };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new Error(`prometheus ${apiPath}: HTTP ${response.status}, not JSON: ${text.slice(0, 200)}`);
    }
    if (body.status !== 'success') {
      throw new Error(`prometheus ${apiPath}: ${body.errorType ?? `HTTP ${response.status}`}: ${body.error ?? text.slice(0, 200)}`);
    }
    return body.data as T;
  };

  const query = async (expr: string): Promise<PromSample[]> => {
    const data = await api<{ resultType: string; result: unknown }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
    if (data.resultType === 'vector') return data.result as PromSample[];
    if (data.resultType === 'scalar') return [{ metric: {}, value: data.result as [number, string] }];
    throw new Error(`prometheus query ${JSON.stringify(expr)}: unexpected result type ${data.resultType}`);
  };

  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (spawnError || child.exitCode !== null || child.signalCode !== null) {
      await terminate(5_000);
      throw new Error(`prometheus exited before ready (${spawnError?.message ?? child.exitCode ?? child.signalCode}):\n${log}`);
    }
    if (Date.now() > deadline) {
      await terminate(5_000);
      throw new Error(`prometheus not ready at ${url} after ${readyTimeoutMs} ms:\n${log}`);
    }
    try {
      const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.status === 200) break;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, port, pid: child.pid!, configFile, query, api, log: () => log, stop };
}

/**
 * Polls `expr` until it returns at least one sample (and `accept` agrees), at most `timeoutMs`
 * milliseconds; throws with the last result or error otherwise.
 */
export async function waitForQuery(
  prom: Pick<RunningPrometheus, 'query'>,
  expr: string,
  options: { timeoutMs?: number; intervalMs?: number; accept?: (samples: PromSample[]) => boolean } = {},
): Promise<PromSample[]> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const intervalMs = options.intervalMs ?? 250;
  const deadline = Date.now() + timeoutMs;
  let last = 'no result';
  for (let attempt = 0; attempt < Math.ceil(timeoutMs / intervalMs) + 1; attempt++) {
    try {
      const samples = await prom.query(expr);
      if (samples.length > 0 && (options.accept?.(samples) ?? true)) return samples;
      last = `result ${JSON.stringify(samples).slice(0, 500)}`;
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`query ${JSON.stringify(expr)} returned no acceptable data within ${timeoutMs} ms; last: ${last}`);
}

/** The rule groups of `/api/v1/rules`, flattened: one entry per rule with its health and error. */
export async function ruleHealth(
  prom: Pick<RunningPrometheus, 'api'>,
): Promise<Array<{ group: string; name: string; type: string; health: string; lastError?: string; evaluated: boolean }>> {
  const data = await prom.api<{
    groups: Array<{ name: string; rules: Array<{ name: string; type: string; health: string; lastError?: string; lastEvaluation?: string }> }>;
  }>('/api/v1/rules');
  return data.groups.flatMap((group) =>
    group.rules.map((rule) => ({
      group: group.name,
      name: rule.name,
      type: rule.type,
      health: rule.health,
      ...(rule.lastError ? { lastError: rule.lastError } : {}),
      // Never-evaluated rules report lastEvaluation as the zero time.
      evaluated: rule.lastEvaluation !== undefined && !rule.lastEvaluation.startsWith('0001-'),
    })),
  );
}

/**
 * Polls `/api/v1/rules` until every loaded rule has been evaluated at least once (at most
 * `timeoutMs`), then returns them; throws if no rule is loaded or some never evaluate.
 */
export async function waitForRuleEvaluation(
  prom: Pick<RunningPrometheus, 'api'>,
  timeoutMs = 20_000,
): Promise<Awaited<ReturnType<typeof ruleHealth>>> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; attempt < Math.ceil(timeoutMs / 250) + 1; attempt++) {
    const rules = await ruleHealth(prom);
    if (rules.length > 0 && rules.every((rule) => rule.evaluated)) return rules;
    if (Date.now() > deadline) {
      const pending = rules.filter((rule) => !rule.evaluated).map((rule) => rule.name);
      throw new Error(
        rules.length === 0 ? 'prometheus loaded no rules' : `rules never evaluated within ${timeoutMs} ms: ${pending.join(', ')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`rules never evaluated within ${timeoutMs} ms`);
}

/** One PromQL query of a Grafana dashboard panel. */
export interface PanelQuery {
  panel: string;
  refId: string;
  expr: string;
}

/** The parts of a Grafana panel the PromQL extraction reads. */
export interface GrafanaPanel {
  type?: string;
  title?: string;
  panels?: GrafanaPanel[];
  targets?: Array<{ expr?: string; refId?: string; hide?: boolean }>;
}

/** Every PromQL expression of every panel of a dashboard (rows' nested panels included). */
export function dashboardQueries(dashboard: { panels?: GrafanaPanel[] }): PanelQuery[] {
  const out: PanelQuery[] = [];
  const visit = (panels: GrafanaPanel[] | undefined) => {
    for (const panel of panels ?? []) {
      for (const target of panel.targets ?? []) {
        if (typeof target.expr === 'string' && !target.hide) {
          out.push({ panel: panel.title ?? '(untitled)', refId: target.refId ?? '?', expr: target.expr });
        }
      }
      visit(panel.panels);
    }
  };
  visit(dashboard.panels);
  return out;
}

/**
 * Replaces Grafana's variables in a PromQL expression the way Grafana would before sending it:
 * `$name`, `${name}`, `${name:format}` and `[[name]]` from `variables`, and the built-in intervals
 * (`$__rate_interval`, `$__interval`, `$__range`, ...) from `intervals`. Throws when a variable is
 * left that neither names, so a new dashboard variable cannot slip past the tests unsubstituted.
 */
export function substituteGrafanaVariables(
  expr: string,
  variables: Record<string, string>,
  intervals: { rateInterval: string; interval: string; range: string },
): string {
  const builtins: Record<string, string> = {
    __rate_interval: intervals.rateInterval,
    __interval: intervals.interval,
    __range: intervals.range,
  };
  const lookup = (name: string): string => {
    const value = builtins[name] ?? variables[name];
    if (value === undefined) throw new Error(`unknown Grafana variable $${name} in ${expr}`);
    return value;
  };
  return expr
    .replace(/\$\{(\w+)(?::\w+)?\}/g, (_, name: string) => lookup(name))
    .replace(/\[\[(\w+)\]\]/g, (_, name: string) => lookup(name))
    .replace(/\$(\w+)/g, (_, name: string) => lookup(name));
}
