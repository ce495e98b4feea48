/**
 * Builds the native load generator (bench/generator/native/loadgen.c) with the machine's C compiler
 * (`cc -O2`) into a git-ignored directory. When no compiler is there (or the build fails), the
 * benchmark falls back to the JavaScript generator and says so in the report.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { BENCH_DIR } from './build.js';

/** The C source of the native generator. */
export const NATIVE_SOURCE = path.join(BENCH_DIR, 'generator', 'native', 'loadgen.c');

/** A built generator, or why there is none. */
export type NativeBuild = { ok: true; path: string } | { ok: false; reason: string };

/** Compiles the generator into `outDir/loadgen`; never throws. */
export function buildNativeGenerator(outDir: string, compiler = process.env.CC ?? 'cc'): NativeBuild {
  const out = path.join(outDir, 'loadgen');
  try {
    mkdirSync(outDir, { recursive: true });
    execFileSync(compiler, ['-O2', '-Wall', '-o', out, NATIVE_SOURCE, '-lm'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
    return { ok: true, path: out };
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? '').trim();
    return { ok: false, reason: `${compiler} failed: ${(stderr || (error as Error).message).split('\n')[0]}` };
  }
}
