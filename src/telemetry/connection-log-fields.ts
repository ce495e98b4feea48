/**
 * The fd every line of an untraced connection carries (tracing off, or the sampler left the
 * connection out), bound as {@link BoundFields}: tskv lines write its digits as they are written,
 * so binding it costs one small object per connection instead of an encoded text.
 */
import type { BoundFields, LogFields, Logger, TskvFieldWriter } from '../log/logger.js';

/** The fd's tskv key part (its key needs no escaping). */
export const FD_PART = '\tfd=';

class FdFields implements BoundFields {
  constructor(private readonly fd: number) {}

  fields(): LogFields {
    return { fd: this.fd };
  }

  writeTskv(out: TskvFieldWriter): boolean {
    return out.text(FD_PART) && out.number(this.fd);
  }
}

/** `logger` with the connection's fd bound; `logger` itself when the platform gave no fd. */
export function bindFd(logger: Logger, fd: number | undefined): Logger {
  return fd === undefined ? logger : logger.bind(new FdFields(fd));
}
