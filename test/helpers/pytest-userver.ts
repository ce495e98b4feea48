/**
 * What pytest_userver does around a service, reproduced for tests (USERVER-TESTSUITE.md): write the
 * config its hooks produced (a checked-in fixture with this run's ports and paths put where the
 * hooks put them, keys sorted as `yaml.dump` writes them), spawn `<binary> --config <file>` with no
 * other argument, wait for readiness its way, listen for the log capture, and send tests-control
 * requests as its client does (POST, JSON body, `Content-Type: application/json`, `X-YaSpanId`).
 * Metrics are read with test/helpers/monitor-client.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { exitWithOutput } from './child-exit.js';
import type { MonitorSnapshot } from './monitor-client.js';
import { canConnect, freePort, pingOk, ROOT } from './service.js';

export const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'pytest-userver');
/** What the README tells users to pass as `--service-binary`: pytest runs it directly. */
export const SERVICE_BINARY = path.join(ROOT, 'scripts', 'tcp-echo-service-binary');

type Tree = Record<string, unknown>;

/** Sets `value` at a dotted path of `tree` (segments split on '.'; parents must exist). */
export function setAt(tree: Tree, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  let node = tree;
  for (const key of keys.slice(0, -1)) node = node[key] as Tree;
  node[keys.at(-1) as string] = value;
}

/** A started service under a pytest_userver-like harness. */
export interface PytestService {
  readonly child: ChildProcess;
  readonly dir: string;
  readonly configFile: string;
  readonly logFile: string;
  /** `server.listener.port` (pytest's service_port; monitor_port too in these configs). */
  readonly servicePort: number;
  readonly echoPort: number;
  readonly capture: CaptureServer;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  /** pytest's shutdown: SIGINT, then wait (SIGKILL after `timeoutMs`, reported as `killed`). */
  shutdown(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; killed: boolean }>;
}

export interface PytestStartOptions {
  /** Fixture base name: `tcp-echo` or `userver-sample`. */
  readonly fixture: string;
  /** Where the hooks wrote the per-run values in this fixture: dotted path → what to put there. */
  readonly runValues: (run: { servicePort: number; echoPort: number; capturePort: number; dir: string }) => {
    config: Record<string, unknown>;
    vars: Record<string, unknown>;
  };
  /** `handler-ping` readiness (GET path, 200 only) or TCP probes of every listener. */
  readonly readiness: 'ping' | 'tcp';
  readonly readyTimeoutMs?: number;
}

/** Writes the hooked config of `options.fixture` for this run and starts the service as pytest does. */
export async function startLikePytest(options: PytestStartOptions): Promise<PytestService> {
  const servicePort = await freePort();
  const echoPort = await freePort();
  const capture = await CaptureServer.listen();
  const dir = mkdtempSync(path.join(tmpdir(), 'tcp-echo-pytest-'));
  const config = parse(readFileSync(path.join(FIXTURES, `${options.fixture}.config.yaml`), 'utf8')) as Tree;
  const vars = parse(readFileSync(path.join(FIXTURES, `${options.fixture}.config_vars.yaml`), 'utf8')) as Tree;
  const run = options.runValues({ servicePort, echoPort, capturePort: capture.port, dir });
  for (const [at, value] of Object.entries(run.config)) setAt(config, at, value);
  Object.assign(vars, run.vars);
  const configFile = path.join(dir, 'config.yaml');
  const varsFile = path.join(dir, 'config_vars.yaml');
  config.config_vars = varsFile;
  // PyYAML's yaml.dump: keys sorted, block style.
  writeFileSync(varsFile, stringify(vars, { sortMapEntries: true }));
  writeFileSync(configFile, stringify(config, { sortMapEntries: true }));
  const logging = (config.components_manager as Tree & { components: { logging: { loggers: { default: Tree } } } }).components.logging;
  const logFile = String(logging.loggers.default.file_path);
  // pytest truncates the log file before the start.
  writeFileSync(logFile, '');

  // As pytest_userver spawns it: the binary itself, `--config <file>` and nothing else. The
  // wrapper execs node, so the SIGINT below reaches node itself.
  const child = spawn(SERVICE_BINARY, ['--config', configFile], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dir, OTEL_SDK_DISABLED: 'true' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = exitWithOutput(child);
  let finished = false;
  void exited.then(() => (finished = true));
  const service: PytestService = {
    child,
    dir,
    configFile,
    logFile,
    servicePort,
    echoPort,
    capture,
    exited,
    stderr: () => stderr,
    async shutdown(timeoutMs = 120_000) {
      if (!finished) child.kill('SIGINT');
      let killed = false;
      const timer = setTimeout(() => {
        killed = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      const result = await exited;
      clearTimeout(timer);
      await capture.close();
      rmSync(dir, { recursive: true, force: true });
      return { ...result, killed };
    },
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (finished) {
      await service.shutdown();
      throw new Error(`service exited during start:\n${stderr}`);
    }
    const ready =
      options.readiness === 'ping'
        ? await pingOk(`http://localhost:${servicePort}`)
        : (await canConnect(servicePort)) && (await canConnect(echoPort));
    if (ready) return service;
    if (Date.now() > deadline) {
      await service.shutdown(5000);
      throw new Error(`service not ready after ${options.readyTimeoutMs ?? 30_000} ms:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A tests-control answer: status and the body parsed as JSON (as pytest_userver parses every 2xx). */
export interface ControlAnswer {
  readonly status: number;
  readonly contentType: string | null;
  readonly body: unknown;
}

/**
 * `POST /tests/<action>` as pytest_userver's client sends it: a JSON body with
 * `Content-Type: application/json`, or, for `body` null (its `tasks_list`), no body and no
 * Content-Type at all.
 */
export async function testsControl(port: number, action: string, body: unknown = {}): Promise<ControlAnswer> {
  const headers: Record<string, string> = { 'x-yaspanid': randomBytes(8).toString('hex') };
  if (body !== null) headers['content-type'] = 'application/json';
  const response = await fetch(`http://localhost:${port}/tests/${action}`, {
    method: 'POST',
    headers,
    body: body === null ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, contentType: response.headers.get('content-type'), body: text === '' ? undefined : JSON.parse(text) };
}

/** pytest_userver's `value_at(path)` with labels=None: the path must hold exactly one node. */
export function valueAt(metrics: MonitorSnapshot, at: string): unknown {
  const nodes = metrics[at] ?? [];
  if (nodes.length !== 1) throw new Error(`expected exactly one node at ${at}, got ${JSON.stringify(nodes)}`);
  return nodes[0]!.value;
}

/** pytest_userver's `tskv.parse_line`: `tskv` first, then key=value fields split at the first `=`. */
export function parseTskvLine(line: string): Record<string, string> {
  const [head, ...fields] = line.split('\t');
  if (head !== 'tskv') throw new Error(`not a tskv line: ${JSON.stringify(line.slice(0, 200))}`);
  const record: Record<string, string> = {};
  for (const field of fields) {
    const eq = field.indexOf('=');
    if (eq < 0) throw new Error(`tskv field without '=': ${JSON.stringify(field)} in ${JSON.stringify(line.slice(0, 200))}`);
    record[field.slice(0, eq)] = field.slice(eq + 1);
  }
  return record;
}

/** The client side of the log capture: one connection per capture, refused when no capture is open. */
export class CaptureServer {
  readonly #server: net.Server;
  #open: { resolve: (socket: net.Socket) => void } | undefined;
  /** Connections that arrived while no capture was open (closed at once, as pytest does). */
  refused = 0;

  private constructor(server: net.Server) {
    this.#server = server;
    server.on('connection', (socket) => {
      const open = this.#open;
      if (open === undefined) {
        this.refused++;
        socket.destroy();
        return;
      }
      this.#open = undefined;
      open.resolve(socket);
    });
  }

  static async listen(): Promise<CaptureServer> {
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return new CaptureServer(server);
  }

  get port(): number {
    return (this.#server.address() as net.AddressInfo).port;
  }

  /**
   * Opens a capture: resolves with the service's connection (within `timeoutMs`, pytest's 10 s),
   * then collects lines until EOF.
   */
  expectConnection(timeoutMs = 10_000): Promise<CapturedConnection> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#open = undefined;
        reject(new Error(`no capture connection within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#open = {
        resolve: (socket) => {
          clearTimeout(timer);
          resolve(new CapturedConnection(socket));
        },
      };
    });
  }

  async close(): Promise<void> {
    this.#server.close();
  }
}

/** The lines one capture connection carried. */
export class CapturedConnection {
  readonly lines: string[] = [];
  /** Resolves once the service closed the connection (EOF). */
  readonly ended: Promise<void>;
  #partial = '';
  #waiters: Array<() => void> = [];

  constructor(socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      const parts = (this.#partial + chunk).split('\n');
      this.#partial = parts.pop() ?? '';
      this.lines.push(...parts);
      for (const waiter of this.#waiters.splice(0)) waiter();
    });
    this.ended = new Promise((resolve) => {
      socket.on('end', () => {
        socket.end();
        resolve();
      });
      socket.on('error', () => resolve());
    });
  }

  /** Records parsed as pytest_userver parses them. */
  records(): Record<string, string>[] {
    return this.lines.map(parseTskvLine);
  }

  /** Waits until a record matches `where` (exact string equality per key), at most `timeoutMs`. */
  async waitFor(where: Record<string, string>, timeoutMs = 20_000): Promise<Record<string, string>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.records().find((r) => Object.entries(where).every(([k, v]) => r[k] === v));
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no captured record with ${JSON.stringify(where)}; got ${this.lines.length} lines`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}
