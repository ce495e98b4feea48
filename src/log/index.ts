/** Placeholder: replaced by the real logger registry. */
import type { Logger } from './logger.js';

const noop = () => {};
const NOOP: Logger = {
  trace: noop, debug: noop, info: noop, warning: noop, error: noop, critical: noop,
  child: () => NOOP,
  isEnabled: () => false,
};

/** The logger of one module. */
export function getLogger(module: string): Logger {
  void module;
  return NOOP;
}
