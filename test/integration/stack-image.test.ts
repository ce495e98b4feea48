/**
 * The Dockerfile, checked without a Docker engine: its instructions are parsed and checked (pinned
 * slim Node base of the reference Node major CI tests first, non-root user, HEALTHCHECK on /ping, production
 * dependencies only); then the runtime stage is replayed on this machine: the files it COPYs (the
 * build context filtered by .dockerignore, and dist/ as the build stage makes it) go to a temp dir,
 * its `npm ci --omit=dev` runs there, and its ENTRYPOINT + CMD start the service with
 * config/container_config.yaml, which must serve echo, /ping and /metrics, and answer the
 * HEALTHCHECK command itself.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { exitedWithOutput } from '../helpers/child-exit.js';
import { freePort, ROOT } from '../helpers/service.js';
import { shippedNodeFlags } from '../helpers/node-flags.js';

const run = promisify(execFile);

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}
interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** Parses a Dockerfile into stages: continuation lines joined, comments and blank lines dropped. */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let line = lines[i]!;
    if (/^\s*(#|$)/.test(line)) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) {
      line = line.slice(0, -1) + ' ' + lines[++i]!.trim();
    }
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    assert.ok(match, `Dockerfile line ${start}: not an instruction: ${line}`);
    const instruction = { keyword: match[1]!.toUpperCase(), args: match[2]!.trim(), line: start };
    if (instruction.keyword === 'FROM') {
      const [from, as, name] = instruction.args.split(/\s+/);
      assert.ok(from, `Dockerfile line ${start}: FROM without an image`);
      stages.push({ from, ...(as?.toUpperCase() === 'AS' && name ? { name } : {}), instructions: [] });
      continue;
    }
    assert.ok(stages.length > 0, `Dockerfile line ${start}: ${instruction.keyword} before FROM`);
    stages.at(-1)!.instructions.push(instruction);
  }
  return stages;
}

/** The exec (JSON array) form of CMD/ENTRYPOINT/HEALTHCHECK CMD; the shell form is not accepted. */
function execForm(args: string, what: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(args);
  } catch {
    assert.fail(`${what} must use the exec form (a JSON array) so signals reach node, not: ${args}`);
  }
  assert.ok(Array.isArray(parsed) && parsed.every((x) => typeof x === 'string'), `${what}: ${args}`);
  return parsed as string[];
}

/** .dockerignore as Docker reads it for top-level entries: last matching pattern wins, `!` re-includes. */
function dockerignore(): (entry: string) => boolean {
  const patterns = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const toRegExp = (glob: string) =>
    new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*\*/g, '\0').replace(/\*/g, '[^/]*').replace(/\0/g, '.*').replace(/\?/g, '[^/]')}$`);
  return (entry) => {
    let excluded = false;
    for (const pattern of patterns) {
      const negate = pattern.startsWith('!');
      const glob = (negate ? pattern.slice(1) : pattern).replace(/^\/+|\/+$/g, '');
      const top = entry.split('/')[0]!;
      if (toRegExp(glob).test(entry) || toRegExp(glob).test(top)) excluded = !negate;
    }
    return excluded;
  };
}

const DOCKERFILE = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
const stages = parseDockerfile(DOCKERFILE);
const runtime = stages.at(-1)!;
const all = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);
const only = (stage: Stage, keyword: string) => {
  const found = all(stage, keyword);
  assert.equal(found.length, 1, `the runtime stage has exactly one ${keyword}`);
  return found[0]!;
};

/** The HEALTHCHECK's command (exec form after `CMD`). */
function healthcheckCommand(): string[] {
  const healthcheck = only(runtime, 'HEALTHCHECK').args;
  const cmd = /^(?:--\S+\s+)*CMD\s+(.*)$/.exec(healthcheck);
  assert.ok(cmd, `HEALTHCHECK ... CMD [...]: ${healthcheck}`);
  return execForm(cmd[1]!, 'HEALTHCHECK CMD');
}

test('Dockerfile: multi-stage, both stages on one pinned slim Node image of the reference major CI tests', () => {
  assert.equal(stages.length, 2, 'a build stage and a runtime stage');
  assert.equal(stages[0]!.name, 'build');
  // The image is not tied to the runner's Node (the suite runs on 24 and 22): it runs the
  // reference major, the first one .ci/run tests, at a release package.json's engines allows.
  const ciMajors = /^for major in ([\d ]+);/m.exec(readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8'));
  assert.ok(ciMajors, '.ci/run: `for major in <majors>; do` lists the Node majors CI tests');
  const reference = ciMajors[1]!.trim().split(/\s+/)[0]!;
  const lowest = /^>=(\d+)\.(\d+)$/.exec(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).engines.node);
  assert.ok(lowest, 'package.json engines.node is >=<major>.<minor>');
  for (const stage of stages) {
    const match = /^node:(\d+)\.(\d+)\.(\d+)-(bookworm|bullseye|trixie)-slim$/.exec(stage.from);
    assert.ok(match, `FROM ${stage.from}: pin node:<major>.<minor>.<patch>-<debian>-slim (no floating tags)`);
    assert.equal(match[1], reference, `the image runs Node ${reference}, the reference major .ci/run tests first`);
    const [major, minor] = [Number(match[1]), Number(match[2])];
    const [lowMajor, lowMinor] = [Number(lowest[1]), Number(lowest[2])];
    assert.ok(major > lowMajor || (major === lowMajor && minor >= lowMinor), `${stage.from} satisfies engines ${lowest[0]}`);
  }
  assert.equal(stages[0]!.from, runtime.from, 'build and runtime stages use the same base');
  // The build stage compiles with dev dependencies; the runtime stage installs production ones only.
  assert.ok(all(stages[0]!, 'RUN').some((i) => /\bnpm ci\b/.test(i.args)));
  assert.ok(all(stages[0]!, 'RUN').some((i) => /\bnpm run build\b/.test(i.args)));
  const runtimeRuns = all(runtime, 'RUN').map((i) => i.args);
  assert.ok(runtimeRuns.some((r) => /\bnpm ci\b.*--omit=dev\b/.test(r)), 'runtime: npm ci --omit=dev');
  assert.ok(!runtimeRuns.some((r) => /\bnpm (install|i)\b|npm run build/.test(r)), 'runtime: no build, no npm install');
  assert.ok(
    all(runtime, 'COPY').some((i) => /^--from=build\s+\/app\/dist\s+\.\/dist$/.test(i.args)),
    'runtime copies only dist/ from the build stage',
  );
  assert.ok(all(runtime, 'ENV').some((i) => /NODE_ENV=production/.test(i.args)));
});

test('Dockerfile: runs as the official image’s non-root `node` user, exposes echo and monitor, has a HEALTHCHECK on /ping', () => {
  const users = all(runtime, 'USER');
  assert.equal(users.at(-1)?.args, 'node', 'the last USER is node (uid 1000 in the official Node images)');
  const lastUser = users.at(-1)!.line;
  assert.ok(
    !runtime.instructions.some((i) => i.keyword === 'RUN' && i.line > lastUser),
    'nothing runs after switching to the unprivileged user that would need root',
  );
  assert.deepEqual(only(runtime, 'EXPOSE').args.split(/\s+/).sort(), ['8181', '8182']);
  const healthcheck = only(runtime, 'HEALTHCHECK').args;
  for (const option of ['--interval=', '--timeout=', '--start-period=', '--retries=']) assert.ok(healthcheck.includes(option), option);
  const command = healthcheckCommand();
  assert.equal(command[0], 'node', 'the slim image has no curl or wget: node does the request');
  assert.match(command.join(' '), /\/ping/);
  assert.deepEqual(execForm(only(runtime, 'ENTRYPOINT').args, 'ENTRYPOINT'), [
    'node',
    ...shippedNodeFlags(),
    'dist/main.js',
  ]);
  assert.deepEqual(execForm(only(runtime, 'CMD').args, 'CMD'), ['-c', 'config/container_config.yaml']);
});

test('Dockerfile: every COPY source exists and is in the build context .dockerignore leaves', () => {
  const ignored = dockerignore();
  for (const stage of stages) {
    for (const copy of all(stage, 'COPY')) {
      if (copy.args.startsWith('--from=')) continue;
      const parts = copy.args.split(/\s+/);
      for (const source of parts.slice(0, -1)) {
        assert.ok(existsSync(path.join(ROOT, source)), `COPY ${source} (line ${copy.line}): no such file`);
        assert.equal(ignored(source.replace(/^\.\//, '')), false, `COPY ${source}: excluded by .dockerignore`);
      }
    }
  }
  // And what must never go into the context stays out.
  for (const entry of ['node_modules', 'dist', '.git', 'test', 'bench', '.env']) assert.equal(ignored(entry), true, entry);
});

function echoOnce(port: number, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`echo: got ${JSON.stringify(got)} after 10 s`));
    }, 10_000);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      got += d;
      if (got.length >= payload.length) {
        clearTimeout(timer);
        socket.end();
        resolve(got);
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.write(payload);
  });
}

async function runHealthcheck(cwd: string, env: Record<string, string>): Promise<number> {
  const [command, ...args] = healthcheckCommand();
  assert.equal(command, 'node');
  try {
    await run(process.execPath, args, { cwd, env, timeout: 10_000 });
    return 0;
  } catch (error) {
    return (error as { code?: number }).code ?? -1;
  }
}

test('the runtime stage, replayed here: npm ci --omit=dev, then ENTRYPOINT + CMD serve with the container config', async (t) => {
  assert.ok(existsSync(path.join(ROOT, 'dist', 'main.js')), 'dist/ is built (npm run build, as the build stage does)');
  const ignored = dockerignore();
  const dir = mkdtempSync(path.join(tmpdir(), 'tcp-echo-image-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  // WORKDIR /app → dir; replay the runtime stage's COPY instructions in order.
  for (const copy of all(runtime, 'COPY')) {
    const parts = copy.args.split(/\s+/);
    const destination = path.join(dir, parts.at(-1)!);
    if (parts[0] === '--from=build') {
      cpSync(path.join(ROOT, 'dist'), destination, { recursive: true });
      continue;
    }
    for (const source of parts.slice(0, -1)) {
      const relative = source.replace(/^\.\//, '');
      assert.equal(ignored(relative), false, `${relative} is in the build context`);
      const target = parts.at(-1)!.endsWith('/') ? path.join(destination, path.basename(relative)) : destination;
      cpSync(path.join(ROOT, relative), target, { recursive: true });
    }
  }
  // The `npm ci` of the runtime stage's RUN (not its `npm cache clean`: that would empty this
  // machine's cache). --prefer-offline: use the cache the checkout's own install filled.
  const npmCi = all(runtime, 'RUN').map((i) => /npm ci[^&;]*/.exec(i.args)?.[0]).find(Boolean);
  assert.ok(npmCi);
  const npmArgs = npmCi.trim().split(/\s+/).slice(1);
  await run('npm', [...npmArgs, '--prefer-offline'], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dir, NODE_ENV: 'production' },
    timeout: 240_000,
  });
  // Nothing the lockfile marks dev-only (typescript, tsx, ...) is installed; production ones are.
  const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean }>;
  };
  const devOnly = Object.entries(lock.packages)
    .filter(([name, meta]) => name.startsWith('node_modules/') && meta.dev === true)
    .map(([name]) => name);
  assert.ok(devOnly.includes('node_modules/typescript'), 'the lockfile marks typescript dev-only');
  assert.deepEqual(devOnly.filter((name) => existsSync(path.join(dir, name))), [], 'dev-only packages in the runtime image');
  assert.ok(existsSync(path.join(dir, 'node_modules', '@opentelemetry', 'sdk-metrics')));
  assert.equal(existsSync(path.join(dir, 'src')), false, 'no TypeScript sources in the runtime image');

  // ENTRYPOINT + CMD, with the environment compose gives it (loopback addresses here).
  const echoPort = await freePort();
  const monitorPort = await freePort();
  const deadPort = await freePort(); // an OTLP endpoint nobody listens on: the service must not care
  const [entry, ...entryArgs] = execForm(only(runtime, 'ENTRYPOINT').args, 'ENTRYPOINT');
  assert.equal(entry, 'node');
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: dir,
    NODE_ENV: 'production',
    ECHO_PORT: String(echoPort),
    MONITOR_PORT: String(monitorPort),
    ECHO_ADDRESS: '127.0.0.1',
    MONITOR_ADDRESS: '127.0.0.1',
    OTLP_ENDPOINT: `http://127.0.0.1:${deadPort}`,
  };
  const child = spawn(process.execPath, [...entryArgs, ...execForm(only(runtime, 'CMD').args, 'CMD')], {
    cwd: dir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
  const exited = exitedWithOutput(child);
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });

  const monitor = `http://127.0.0.1:${monitorPort}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    assert.ok(child.exitCode === null, `the service exited (${child.exitCode}):\n${output}`);
    assert.ok(Date.now() < deadline, `no /ping within 20 s:\n${output}`);
    const status = await fetch(`${monitor}/ping`).then(
      async (r) => (await r.arrayBuffer(), r.status),
      () => 0,
    );
    if (status === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(await echoOnce(echoPort, 'hello from the image\n'), 'hello from the image\n');
  const metrics = await (await fetch(`${monitor}/metrics`)).text();
  assert.match(metrics, /^tcp_echo_sockets_opened_total 1$/m);
  // tests-control is off in the container config: nobody can reset production metrics.
  const control = await fetch(`${monitor}/tests/control`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
  await control.arrayBuffer();
  assert.equal(control.status, 404);
  assert.equal(await runHealthcheck(dir, env), 0, 'HEALTHCHECK passes while serving');
  assert.match(output, new RegExp(`otlp=http://127\\.0\\.0\\.1:${deadPort}`), 'the OTLP endpoint came from OTLP_ENDPOINT');

  // docker stop: SIGTERM; /ping turns 500 at once (the HEALTHCHECK fails), then a clean exit.
  child.kill('SIGTERM');
  const unhealthyBy = Date.now() + 5_000;
  let unhealthy = false;
  while (!unhealthy && Date.now() < unhealthyBy && child.exitCode === null) {
    unhealthy = (await runHealthcheck(dir, env)) !== 0;
  }
  assert.ok(unhealthy, 'the HEALTHCHECK fails once shutdown began');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const code = await exited;
  clearTimeout(timer);
  assert.equal(code, 0, `exit code after SIGTERM:\n${output}`);
});
