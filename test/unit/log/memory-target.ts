/** Test targets for QueuedSink: one that records what it is given, one that never finishes a write. */
import type { SinkTarget } from '../../../src/log/sink-target.js';

type Done = (error: NodeJS.ErrnoException | null, bytesWritten: number) => void;

/** Records every batch; each write completes on the next turn of the loop. */
export class MemoryTarget implements SinkTarget {
  readonly name = 'memory';
  readonly batches: string[] = [];
  closed = 0;
  reopened = 0;
  write(data: Buffer, done: Done): void {
    this.batches.push(data.toString('utf8'));
    setImmediate(done, null, data.length);
  }
  async reopen(): Promise<void> {
    this.reopened++;
  }
  close(): void {
    this.closed++;
  }
  /** Everything written, as lines (without the trailing empty piece). */
  lines(): string[] {
    const all = this.batches.join('');
    return all === '' ? [] : all.slice(0, -1).split('\n');
  }
}

/** A destination that accepted a write and never reports back (a reader that stopped reading). */
export class StuckTarget implements SinkTarget {
  readonly name = 'stuck';
  writes = 0;
  private pending: Done | undefined;
  private released = false;
  write(data: Buffer, done: Done): void {
    this.writes++;
    if (this.released) setImmediate(done, null, data.length);
    else this.pending = done;
  }
  /** Completes the stuck write, and every later write from now on (the reader is back). */
  release(): void {
    this.released = true;
    const done = this.pending;
    this.pending = undefined;
    done?.(null, Number.MAX_SAFE_INTEGER);
  }
  async reopen(): Promise<void> {}
  close(): void {}
}

/** Scripted replies: each write gets the next reply (bytes written, or an error code). */
export class ScriptedTarget implements SinkTarget {
  readonly name = 'scripted';
  readonly received: string[] = [];
  constructor(private readonly replies: Array<number | string | 'all'>) {}
  write(data: Buffer, done: Done): void {
    this.received.push(data.toString('utf8'));
    const reply = this.replies.shift() ?? 'all';
    if (typeof reply === 'number') setImmediate(done, null, reply);
    else if (reply === 'all') setImmediate(done, null, data.length);
    else setImmediate(done, Object.assign(new Error(reply), { code: reply }), 0);
  }
  async reopen(): Promise<void> {}
  close(): void {}
}
