/**
 * Starts the real tcp-echo (the built `dist/main.js`) as a child process on free loopback ports
 * with a config written to a temp dir, and waits until both listeners answer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { exitedWithOutput } from './child-exit.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const MAIN = path.join(ROOT, 'dist', 'main.js');

/**
 * The kernel's ephemeral port range (`net.ipv4.ip_local_port_range`): the ports it hands to
 * outgoing connections and to `listen(0)`.
 */
function ephemeralPortRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high)) return [low as number, high as number];
  } catch {
    // Not Linux: the IANA range.
  }
  return [49152, 65535];
}

/** Ports below the ephemeral range, where picked ports come from. */
const PICK_LOW = 10_000;
const PICK_HIGH = ephemeralPortRange()[0] - 1;

/**
 * Ports `fetch` refuses to connect to (the Fetch standard's "bad ports"; 10080 is the only one
 * above PICK_LOW): a monitor there would never answer the tests' HTTP client.
 */
const FETCH_BAD_PORTS: ReadonlySet<number> = new Set([10080]);

/**
 * A TCP port free on 127.0.0.1 now, for a service to bind a moment later. Picked at random below
 * the ephemeral range: a port from `listen(0)` lies inside it, where any outgoing connection of
 * the machine (tests open thousands) may take it as its local port before the service binds it.
 * Falls back to `listen(0)` when the range is too small to pick from.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; PICK_HIGH - PICK_LOW > 1000 && attempt < 50; attempt++) {
    const port = PICK_LOW + Math.floor(Math.random() * (PICK_HIGH - PICK_LOW + 1));
    if (!FETCH_BAD_PORTS.has(port) && (await bindable(port))) return port;
  }
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** Two different free ports (a port just released can be picked again at once), for the echo and the monitor. */
export async function freePortPair(): Promise<[number, number]> {
  const first = await freePort();
  let second = await freePort();
  while (second === first) second = await freePort();
  return [first, second];
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * True when the service could not bind one of `ports` because it was in use: another process took
 * it between `freePort()` and the bind (a shared machine), so the run says nothing about the service.
 */
export function lostPortRace(stderr: string, ports: readonly number[]): boolean {
  return ports.some((port) => stderr.includes(`:${port}: address already in use`));
}

/** The `components` of a test config: the shipped shape, on the given ports, logging to stderr. */
export function baseComponents(echoPort: number, monitorPort: number): Record<string, Record<string, unknown>> {
  return {
    logging: { loggers: { default: { file_path: '@stderr', level: 'info', format: 'tskv' } } },
    'tcp-echo': { port: echoPort, address: '127.0.0.1' },
    server: { listener: { port: monitorPort, address: '127.0.0.1' } },
    'handler-server-monitor': { path: '/service/monitor', method: 'GET' },
    'handler-ping': { path: '/ping', method: 'GET' },
    'tests-control': { path: '/tests/{action}', method: 'POST' },
  };
}

export interface StartOptions {
  /** Edits the components map before it is written (add options, delete sections). */
  components?: (components: Record<string, Record<string, unknown>>) => void;
  /** Extra top-level `components_manager` keys (e.g. graceful_shutdown_interval). */
  manager?: Record<string, unknown>;
  /** Environment added to a minimal one (PATH, HOME); OTEL_SDK_DISABLED etc. */
  env?: Record<string, string>;
  /** Extra CLI args after `-c file`. */
  args?: string[];
  /** A command that runs node, e.g. `['prlimit', '--nofile=256:256']` (default: node itself). */
  prefix?: string[];
  /** `node` flags before the service's script, e.g. `['--trace-gc']`. */
  nodeFlags?: string[];
  /** The service's entry point, for a modified copy of the build (default: dist/main.js). */
  main?: string;
  /** Start the service in its own process group (to signal the group, as a terminal hangup does). */
  detached?: boolean;
  /** Milliseconds to wait for readiness (default 60 s: a start takes ~1 s, far longer on a loaded machine). */
  readyTimeoutMs?: number;
  /** When the echo listener accepts, if not on `echoPort` over TCP (e.g. a unix socket). */
  echoReady?: () => Promise<boolean>;
}

/** A started service. `stop()` sends SIGTERM and resolves with the exit code. */
export interface RunningService {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly echoPort: number;
  readonly monitorPort: number;
  readonly configFile: string;
  readonly dir: string;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  /** Everything the process wrote to stdout so far. */
  stdout(): string;
  /** Resolves with the exit code (or signal name) once the process exits. */
  readonly exited: Promise<number | string>;
  /** SIGTERM (or `signal`), then wait for exit; kills with SIGKILL after `timeoutMs`. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | string>;
  /** `http://127.0.0.1:<monitorPort>` */
  readonly monitorUrl: string;
}

/** Starts the service for test `t`, stopped when `t` ends. */
export async function startServiceFor(t: TestContext, options: StartOptions = {}): Promise<RunningService> {
  const service = await startService(options);
  t.after(() => service.stop());
  return service;
}

/**
 * Writes a config and starts the service; the caller should `t.after(() => service.stop())`.
 * A start that lost one of its picked ports to another process is retried on new ports.
 */
export async function startService(options: StartOptions = {}): Promise<RunningService> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startServiceOnce(options);
    } catch (error) {
      if (!(error instanceof PortRaceError) || attempt >= 3) throw error;
    }
  }
}

class PortRaceError extends Error {}

async function startServiceOnce(options: StartOptions): Promise<RunningService> {
  const [echoPort, monitorPort] = await freePortPair();
  const components = baseComponents(echoPort, monitorPort);
  options.components?.(components);
  const dir = mkdtempSync(path.join(tmpdir(), 'tcp-echo-test-'));
  const configFile = path.join(dir, 'static_config.yaml');
  writeFileSync(configFile, stringify({ components_manager: { ...options.manager, components } }));
  const [command, ...prefixArgs] = [...(options.prefix ?? []), process.execPath];
  const child = spawn(command!, [...prefixArgs, ...(options.nodeFlags ?? []), options.main ?? MAIN, '-c', configFile, ...(options.args ?? [])], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dir, OTEL_SDK_DISABLED: 'true', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  let stderr = '';
  let stdout = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  const exited = exitedWithOutput(child);
  const service: RunningService = {
    child,
    pid: child.pid!,
    echoPort,
    monitorPort,
    configFile,
    dir,
    stderr: () => stderr,
    stdout: () => stdout,
    exited,
    monitorUrl: `http://127.0.0.1:${monitorPort}`,
    async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
  try {
    await waitReady(service, options.readyTimeoutMs ?? 60_000, options.echoReady ?? (() => canConnect(service.echoPort)));
  } catch (error) {
    await service.stop('SIGKILL');
    const message = `service did not become ready: ${(error as Error).message}\nstderr:\n${stderr}`;
    throw lostPortRace(stderr, [echoPort, monitorPort]) ? new PortRaceError(message) : new Error(message);
  }
  return service;
}

async function waitReady(service: RunningService, timeoutMs: number, echoReady: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | string | undefined;
  void service.exited.then((code) => (exitCode = code));
  for (;;) {
    if (exitCode !== undefined) throw new Error(`exited with ${exitCode}`);
    if (Date.now() > deadline) throw new Error(`not ready after ${timeoutMs} ms`);
    if ((await echoReady()) && (await pingOk(service.monitorUrl))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** True when a TCP connection to 127.0.0.1:`port` succeeds (closed again at once). */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** True when `GET <base>/ping` answers 200 within `timeoutMs` (a bound for a hung listener, not a speed test). */
export async function pingOk(base: string, timeoutMs = 10_000): Promise<boolean> {
  try {
    const response = await fetch(`${base}/ping`, { signal: AbortSignal.timeout(timeoutMs) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

/**
 * Runs the CLI to completion (for config errors, --help, --print-config-schema) and returns its
 * exit code and output. Killed after `timeoutMs`.
 */
export async function runCli(
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', OTEL_SDK_DISABLED: 'true', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  const code = await exitedWithOutput(child);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Resident set size of a process in bytes, from /proc. */
export function rssBytes(pid: number): number {
  // VmRSS is in kB.
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

/** Number of open file descriptors of a process, from /proc. */
export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** A service process spawned as is, without waiting for anything: its stderr so far and its exit. */
export interface SpawnedMain {
  readonly child: ChildProcess;
  /** The exit code, or the signal's name. */
  readonly exited: Promise<number | string>;
  stderr(): string;
}

/**
 * Spawns `node dist/main.js ...args` with `env` (stdout ignored, stderr collected); a process still
 * running when the test ends is killed and awaited.
 */
export function spawnMain(t: { after: (fn: () => Promise<void>) => void }, args: readonly string[], env: Record<string, string>): SpawnedMain {
  const child = spawn(process.execPath, [MAIN, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = exitedWithOutput(child);
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  return { child, exited, stderr: () => stderr };
}

/** A temporary directory for one test file (removed after the file) and a writer of files into it. */
export function tempFiles(prefix: string): { readonly dir: string; write(text: string, name?: string): string } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let counter = 0;
  return {
    dir,
    write(text, name = `config-${counter++}.yaml`) {
      const file = path.join(dir, name);
      writeFileSync(file, text);
      return file;
    },
  };
}
