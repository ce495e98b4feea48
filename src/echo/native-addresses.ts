/**
 * The native socket-address reader (native/socket-addresses.c, built by `npm run build` into
 * dist/native/ when the machine has a C compiler): both ends of an accepted socket in one call,
 * about half of what Node's getpeername + getsockname cost per connection. Optional: when the addon
 * is absent or cannot load, connection-info.ts asks Node, with the same result.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** What the addon exports (see the C file's header for the layout of `out`). */
export interface NativeAddressReader {
  /**
   * The peer's address as text, with the ports and the local IPv4 address in `out`
   * ([peer port, local port, local IPv4 in network byte order]); `undefined` for any end that is
   * not IPv4 or IPv4-mapped, and on any error (the caller asks Node then).
   */
  read(fd: number, out: Int32Array): string | undefined;
}

/** The reader, or why there is none (`missing`: not built; `failed`: built but would not load). */
export type NativeAddresses =
  | { readonly reader: NativeAddressReader; readonly path: string }
  | { readonly reader: undefined; readonly status: 'missing' | 'failed'; readonly reason: string };

/**
 * Where the build puts the addon: dist/native/, next to dist/echo/ (this file compiled). Run from
 * src/ (tests through tsx), the build's copy in dist/ is the one.
 */
const CANDIDATES = [
  new URL('../native/socket-addresses.node', import.meta.url),
  new URL('../../dist/native/socket-addresses.node', import.meta.url),
].map((url) => fileURLToPath(url));

/** Loads the addon from the first of `candidates` that exists (each call looks again); never throws. */
export function loadNativeAddresses(candidates: readonly string[] = CANDIDATES): NativeAddresses {
  const file = candidates.find((candidate) => existsSync(candidate));
  if (file === undefined) {
    return { reader: undefined, status: 'missing', reason: `not built (no ${candidates[0]})` };
  }
  try {
    const addon = createRequire(import.meta.url)(file) as Partial<NativeAddressReader>;
    if (typeof addon.read !== 'function') return { reader: undefined, status: 'failed', reason: `${file} has no read()` };
    return { reader: addon as NativeAddressReader, path: file };
  } catch (error) {
    return { reader: undefined, status: 'failed', reason: `${file}: ${(error as Error).message.split('\n')[0]}` };
  }
}
