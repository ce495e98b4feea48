/**
 * The V8 flags tcp-echo is shipped with (package.json `config.node_flags`): the one place that
 * names them; the start commands that cannot read it are checked against it by
 * test/unit/node-flags.test.ts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './service.js';

/** The flags, split, e.g. ['--initial-heap-size=128', '--max-semi-space-size=8']. */
export function shippedNodeFlags(): string[] {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { config?: { node_flags?: string } };
  const flags = pkg.config?.node_flags;
  if (!flags) throw new Error('package.json has no config.node_flags');
  return flags.split(/\s+/).filter(Boolean);
}
