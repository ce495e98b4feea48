/**
 * The version of the installed @opentelemetry/otlp-exporter-base, for the User-Agent our own sender
 * writes: the SDK's transport says `OTel-OTLP-Exporter-JavaScript/<version>`, and a collector that
 * sorts or blocks clients by it should see the same product token from either sender. The package
 * does not export its VERSION, so its package.json is read, once, at the first use.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const PACKAGE = '@opentelemetry/otlp-exporter-base';

let version: string | undefined;

/** The exporter package's version, e.g. `0.301.0`; `unknown` if its package.json cannot be read. */
export function otlpExporterVersion(): string {
  return (version ??= readVersion());
}

function readVersion(): string {
  let dir: string;
  try {
    dir = path.dirname(createRequire(import.meta.url).resolve(PACKAGE));
  } catch {
    return 'unknown'; // not resolvable (a bundled build without node_modules): the token without a version
  }
  // The entry point sits in the package's `dist/`: the package.json named PACKAGE is above it.
  for (let up = 0; up < 4; up++, dir = path.dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === PACKAGE && typeof manifest.version === 'string') return manifest.version;
    } catch {
      // No (readable) package.json at this level: one up.
    }
  }
  return 'unknown';
}
