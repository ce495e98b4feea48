/**
 * CPU time and resident memory of a server process *and its live descendants* from /proc (Linux),
 * so a server that forks workers (cluster mode) is measured whole. Dead children are included
 * through the parent's cutime/cstime once reaped.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second for /proc/<pid>/stat times; 100 on every Linux we run on (`getconf CLK_TCK`). */
const CLOCK_TICKS = 100;
const PAGE_BYTES = 4096;

interface StatFields {
  ppid: number;
  /** utime + stime + cutime + cstime, in seconds. */
  cpuSeconds: number;
}

/** Parses /proc/<pid>/stat; the command name (field 2) may hold spaces or parentheses. */
export function parseStat(text: string): StatFields {
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): field n is rest[n - 3].
  const field = (n: number): number => Number(rest[n - 3]);
  return { ppid: field(4), cpuSeconds: (field(14) + field(15) + field(16) + field(17)) / CLOCK_TICKS };
}

/** The pid and every live descendant of it. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    const { ppid } = parseStat(stat);
    const list = children.get(ppid);
    if (list) list.push(Number(entry));
    else children.set(ppid, [Number(entry)]);
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!) ?? []));
  return tree;
}

/**
 * CPU seconds (user + system) of the V8 platform's worker threads of `pid` (named `V8Worker`):
 * the optimizing compilers and the parallel and concurrent GC. A window in which they are busy
 * still measures V8 compiling the code under test, not the code running. 0 when there are none.
 */
export function v8WorkerSeconds(pid: number): number {
  let ticks = 0;
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  for (const tid of tasks) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (!name.startsWith('V8Worker')) continue;
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime and stime (fields 14 and 15) only: a thread's cutime/cstime are the whole process's.
      ticks += Number(rest[14 - 3]) + Number(rest[15 - 3]);
    } catch {
      // the thread ended while we looked
    }
  }
  return ticks / CLOCK_TICKS;
}

/** A CPU and memory reading of a process tree. */
export interface ProcSample {
  /** Seconds of CPU (user + system, reaped children included) since the processes started. */
  cpuSeconds: number;
  /** Resident set size in bytes, summed over the tree. */
  rssBytes: number;
}

/**
 * Reads the tree of `pid`. The tree is looked up again only every `treeMaxAgeMs` (listing /proc
 * costs more than reading two files), which is fine for children that live for a whole run.
 */
export class ProcReader {
  private tree: number[] = [];
  private treeAt = -Infinity;

  constructor(
    readonly pid: number,
    private readonly treeMaxAgeMs = 2000,
  ) {}

  sample(): ProcSample {
    const now = Date.now();
    if (now - this.treeAt > this.treeMaxAgeMs) {
      this.tree = processTree(this.pid);
      this.treeAt = now;
    }
    let cpuSeconds = 0;
    let rssBytes = 0;
    for (const pid of this.tree) {
      try {
        cpuSeconds += parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).cpuSeconds;
        // statm field 2 is resident pages; cheaper to parse than /proc/<pid>/status.
        rssBytes += Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * PAGE_BYTES;
      } catch (error) {
        if (pid === this.pid) throw new Error(`server process ${pid} is gone: ${(error as Error).message}`);
      }
    }
    return { cpuSeconds, rssBytes };
  }

  /** {@link v8WorkerSeconds} summed over the tree (as last listed by {@link sample}). */
  v8WorkerSeconds(): number {
    let seconds = 0;
    for (const pid of this.tree.length > 0 ? this.tree : [this.pid]) seconds += v8WorkerSeconds(pid);
    return seconds;
  }
}

/** CPU seconds the whole machine spent busy (all cores; idle and iowait excluded), from /proc/stat. */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest time is inside user)
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / CLOCK_TICKS;
}
