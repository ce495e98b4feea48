/**
 * Starting and stopping the processes a benchmark run needs: the bare echo, tcp-echo in each mode
 * (from the built dist/main.js, with a generated config or the shipped one), and the OTLP sink.
 * Everything binds to 127.0.0.1 on free ports; every wait is bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
// The runner (tsx, from source) shares the test suite's process helpers rather than copying them.
import { canConnect, freePort } from '../../test/helpers/service.js';
import { ROOT } from './build.js';
import { onCores } from './cpu-pinning.js';

/** How the server under test is set up. */
export const MODES = ['bare', 'off', 'metrics', 'traced', 'full', 'cluster'] as const;
export type Mode = (typeof MODES)[number];

/** One line per mode, for the report. */
export const MODE_DESCRIPTIONS: Record<Mode, string> = {
  bare: "bare Node.js echo: `net.createServer(s => s.pipe(s))` (bench/bare-echo.ts)",
  off: 'tcp-echo, telemetry off: `tracer.enabled: false`, log level warning, metrics kept but never scraped',
  metrics: 'tcp-echo, metrics only: `tracer.enabled: false`, log level info, /metrics and /service/monitor scraped every second',
  traced: 'tcp-echo, metrics + tracing: 100% sampling, OTLP/HTTP to the local sink, log level info, scraped every second',
  full:
    'tcp-echo as users run it: config/static_config.yaml unchanged (ports via ECHO_PORT/MONITOR_PORT), every span exported ' +
    '(the default parent-based always-on sampler) over OTLP/HTTP to the local sink, connection log lines at info written to a file ' +
    '(the config\'s @stderr, redirected to the run\'s log file), /metrics scraped every second',
  cluster: 'tcp-echo as `traced`, with `tcp-echo.workers: auto` (one echo worker process per core; CPU and RSS summed over all of them)',
};

export const SHIPPED_CONFIG = path.join(ROOT, 'config', 'static_config.yaml');

/** A started process under test. */
export interface Server {
  readonly mode: Mode;
  readonly pid: number;
  readonly echoPort: number;
  /** `http://127.0.0.1:<port>` of the monitor listener (tcp-echo only). */
  readonly monitorUrl: string | undefined;
  /** SIGTERM, wait up to 15 s, then SIGKILL; resolves with the exit code or signal. Safe to call twice. */
  stop(): Promise<number | string>;
}

interface Launch {
  args: string[];
  env: Record<string, string>;
  /** File receiving stdout and stderr (the service's log). */
  logFile: string;
  /** The cores it may run on (taskset's list); undefined = any. */
  cores: string | undefined;
}

function launch({ args, env, logFile, cores }: Launch): { child: ChildProcess; exited: Promise<number | string> } {
  const log = openSync(logFile, 'a');
  const [command, commandArgs] = onCores(cores, process.execPath, args);
  const child = spawn(command, commandArgs, { cwd: ROOT, env, stdio: ['ignore', log, log] });
  closeSync(log);
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, exited };
}

function stopper(child: ChildProcess, exited: Promise<number | string>): () => Promise<number | string> {
  let stopping: Promise<number | string> | undefined;
  return () =>
    (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    })());
}

/** Waits until `ready()` holds, the process exits (error) or `timeoutMs` passes (error). */
async function waitReady(what: string, exited: Promise<number | string>, ready: () => Promise<boolean>, logFile: string, timeoutMs = 20_000): Promise<void> {
  let exitCode: number | string | undefined;
  void exited.then((code) => (exitCode = code));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exitCode !== undefined) throw new Error(`${what} exited with ${exitCode} before it was ready: ${logTail(logFile)}`);
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${timeoutMs} ms: ${logTail(logFile)}`);
    if (await ready()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The end of a server log, for an error message (the work directory may be gone by the time anyone looks). */
function logTail(logFile: string): string {
  try {
    const text = readFileSync(logFile, 'utf8').trim();
    return text === '' ? '(empty log)' : text.slice(-600);
  } catch {
    return '(no log)';
  }
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

/** A minimal environment: nothing from the caller's OTEL_* leaks into a measurement. */
function baseEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' };
}

export interface StartOptions {
  mode: Mode;
  /** The compiled bench directory (for bare-echo.js). */
  benchJs: string;
  /** The service's main.js (the run's snapshot of dist/). */
  main: string;
  /** The run's copy of config/static_config.yaml, for `full`. */
  shippedConfig: string;
  /** Where configs and logs go. */
  workDir: string;
  /** The sink's port, for traced and full. */
  sinkPort: number;
  /** A label unique within the run, for file names. */
  label: string;
  /** Write a V8 CPU profile of the server into this directory. */
  cpuProfDir?: string;
  /** Extra `node` flags for tcp-echo (not the bare echo), e.g. `--initial-heap-size=64` to try a GC setting. */
  nodeFlags?: string[];
  /** `node` flags for the bare echo, which runs without any unless given (bench:pair's per-side flags). */
  bareNodeFlags?: string[];
  /** The cores the server may run on (bench/lib/cpu-pinning.ts); ignored for cluster mode. */
  cores?: string;
}

/** Starts the server for `mode` and waits until it echoes (and, for tcp-echo, answers /ping). */
export async function startServer(options: StartOptions): Promise<Server> {
  const { mode, workDir, label } = options;
  // Cluster mode's point is a worker per core: pinned to one core it would measure nothing.
  const cores = mode === 'cluster' ? undefined : options.cores;
  const echoPort = await freePort();
  const logFile = path.join(workDir, `${label}.log`);
  const profile = options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`, `--cpu-prof-name=${label}.cpuprofile`] : [];
  if (mode === 'bare') {
    const { child, exited } = launch({ args: [...profile, ...(options.bareNodeFlags ?? []), path.join(options.benchJs, 'bare-echo.js'), String(echoPort)], env: baseEnv(), logFile, cores });
    await waitReady('bare echo', exited, () => canConnect(echoPort), logFile);
    return { mode, pid: child.pid!, echoPort, monitorUrl: undefined, stop: stopper(child, exited) };
  }
  const monitorPort = await freePort();
  const sink = `http://127.0.0.1:${options.sinkPort}`;
  let configFile = options.shippedConfig;
  const env = baseEnv();
  if (mode === 'full') {
    // The shipped config reads its ports from $echo_port / ECHO_PORT (no config_vars file given).
    Object.assign(env, { ECHO_PORT: String(echoPort), MONITOR_PORT: String(monitorPort), OTEL_EXPORTER_OTLP_ENDPOINT: sink });
  } else {
    configFile = path.join(workDir, `${label}.yaml`);
    writeFileSync(configFile, stringify(generatedConfig(mode, echoPort, monitorPort, sink)));
  }
  const { child, exited } = launch({ args: [...profile, ...(options.nodeFlags ?? []), options.main, '-c', configFile], env, logFile, cores });
  const monitorUrl = `http://127.0.0.1:${monitorPort}`;
  const stop = stopper(child, exited);
  try {
    await waitReady(`tcp-echo (${mode})`, exited, async () => (await canConnect(echoPort)) && (await httpOk(`${monitorUrl}/ping`)), logFile);
  } catch (error) {
    await stop();
    throw error;
  }
  return { mode, pid: child.pid!, echoPort, monitorUrl, stop };
}

/** The static config of a generated mode: the shipped shape with the mode's telemetry settings. */
export function generatedConfig(mode: Exclude<Mode, 'bare' | 'full'>, echoPort: number, monitorPort: number, sink: string): unknown {
  const traced = mode === 'traced' || mode === 'cluster';
  const tracer = traced ? { endpoint: sink, 'sampler-ratio': 1 } : { enabled: false };
  return {
    components_manager: {
      components: {
        logging: { loggers: { default: { file_path: '@stderr', level: mode === 'off' ? 'warning' : 'info', format: 'tskv' } } },
        tracer,
        'tcp-echo': { port: echoPort, address: '127.0.0.1', ...(mode === 'cluster' ? { workers: 'auto' } : {}) },
        server: { listener: { port: monitorPort, address: '127.0.0.1' } },
        'handler-server-monitor': { path: '/service/monitor', method: 'GET' },
        'handler-ping': { path: '/ping', method: 'GET' },
        'tests-control': { path: '/tests/{action}', method: 'POST' },
      },
    },
  };
}

/** The running OTLP sink. */
export interface Sink {
  readonly port: number;
  readonly pid: number;
  stats(): Promise<{ requests: number; bytes: number; spans: number; protobufRequests: number }>;
  stop(): Promise<number | string>;
}

export async function startSink(benchJs: string, workDir: string, cores: string | undefined): Promise<Sink> {
  const port = await freePort();
  const logFile = path.join(workDir, 'otlp-sink.log');
  const { child, exited } = launch({ args: [path.join(benchJs, 'otlp-sink.js'), String(port)], env: baseEnv(), logFile, cores });
  await waitReady('OTLP sink', exited, () => httpOk(`http://127.0.0.1:${port}/stats`), logFile);
  return {
    port,
    pid: child.pid!,
    async stats() {
      const response = await fetch(`http://127.0.0.1:${port}/stats`, { signal: AbortSignal.timeout(5000) });
      return (await response.json()) as Awaited<ReturnType<Sink['stats']>>;
    },
    stop: stopper(child, exited),
  };
}
