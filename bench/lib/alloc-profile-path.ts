import { tmpdir } from 'node:os';
import path from 'node:path';

/** Where bench/alloc-sampler.ts, loaded into the server with this pid, writes what it sampled. */
export function allocProfilePath(pid: number): string {
  return path.join(tmpdir(), `tcp-echo-alloc-${pid}.json`);
}
