/** Placeholder: replaced by the real CLI → config → manager runner. */
import type { ComponentDefinition } from './component.js';

export async function daemonMain(argv: readonly string[], components: readonly ComponentDefinition[]): Promise<number> {
  void argv;
  void components;
  process.stderr.write('tcp-echo: not implemented yet\n');
  return 1;
}
