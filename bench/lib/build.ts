/**
 * Transpiles the benchmark's own TypeScript (bench/**, tests excluded) to plain ESM JavaScript under
 * node_modules/.cache/tcp-echo-bench, so the processes under test run on bare `node` and the bare
 * echo's RSS and CPU carry no TypeScript loader (tsx adds tens of MiB and start-up work).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** bench/ */
export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The repository root. */
export const ROOT = path.resolve(BENCH_DIR, '..');
/**
 * Where the transpiled files and the service snapshot go: inside the repo, so `node_modules`
 * resolution still works, and one directory per process, so concurrent runs (other checkouts may
 * share this node_modules through a symlink) never overwrite each other's code under test.
 */
export const OUT_DIR = path.join(ROOT, 'node_modules', '.cache', 'tcp-echo-bench', `run-${process.pid}`);

/** Removes this process's OUT_DIR. */
export function removeBuild(): void {
  rmSync(OUT_DIR, { recursive: true, force: true });
}

/** Transpiles every bench source file; returns the output directory. */
export function buildBench(): string {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return entry.name === 'results' || entry.name === 'test' ? [] : walk(full);
      return entry.name.endsWith('.ts') ? [full] : [];
    });
  for (const file of walk(BENCH_DIR)) {
    const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false },
    });
    const out = path.join(OUT_DIR, path.relative(BENCH_DIR, file)).replace(/\.ts$/, '.js');
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, outputText);
  }
  // The transpiled files are ESM like the sources.
  writeFileSync(path.join(OUT_DIR, 'package.json'), '{"type":"module"}\n');
  return OUT_DIR;
}

/**
 * Copies the built service (dist/ and package.json) to `<OUT_DIR>/server` and returns the copy's
 * main.js. Every server of a run starts from this copy, so a rebuild of dist/ during the run (other
 * people run `tsc` on this machine) cannot change or break the code under test halfway. The copy
 * stays inside the repo so its imports still resolve from the repo's node_modules. A copy taken in
 * the middle of someone's build is caught by loading every module (`--print-config-schema`) and
 * taken again.
 */
export function snapshotService(): string {
  const source = path.join(ROOT, 'dist', 'main.js');
  if (!existsSync(source)) throw new Error(`${source} is missing: run \`npm run build\` first`);
  const target = path.join(OUT_DIR, 'server');
  const main = path.join(target, 'dist', 'main.js');
  let lastError = '';
  for (let attempt = 1; attempt <= 5; attempt++) {
    rmSync(target, { recursive: true, force: true });
    mkdirSync(target, { recursive: true });
    cpSync(path.join(ROOT, 'dist'), path.join(target, 'dist'), { recursive: true });
    copyFileSync(path.join(ROOT, 'package.json'), path.join(target, 'package.json'));
    try {
      execFileSync(process.execPath, [main, '--print-config-schema'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 });
      return main;
    } catch (error) {
      lastError = String((error as { stderr?: Buffer }).stderr ?? error).trim();
      execFileSync('sleep', ['2']);
    }
  }
  throw new Error(`the built service does not load (dist/ half rebuilt or broken): ${lastError.slice(0, 500)}`);
}
