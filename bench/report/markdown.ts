/** The Markdown report of a run: one table of figures and ratios, then what was run and any trouble. */
import { SCENARIOS } from '../generator/protocol.js';
import type { Mode } from '../lib/servers.js';
import { cpuShare, FIGURES, median, NEAR_BOUND_MARGIN_PERCENT, TARGET_MODE, type Cell, type RunRecord } from './figures.js';
import type { BenchReport } from './types.js';

/** `1234.5` → `1,235` (with `digits` decimals). */
export function formatNumber(value: number, digits: number): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function cellText(cell: Cell | undefined, digits: number, bare: boolean): string {
  if (!cell || cell.value === undefined) return '—';
  const value = formatNumber(cell.value, digits);
  if (bare || cell.ratio === undefined) return value;
  return `${value} (${cell.ratio.toFixed(2)})`;
}

/** The targets table: each target figure for the target mode next to the bare echo's. */
function targetLines(report: BenchReport): string[] {
  const lines = [
    `| figure | bare | ${TARGET_MODE} | ratio | target | |`,
    '|---|---:|---:|---:|---:|---|',
  ];
  for (const figure of FIGURES) {
    if (!figure.target) continue;
    const row = report.table[figure.key] ?? {};
    const bare = row.bare?.value;
    const cell = row[TARGET_MODE];
    const status = cell?.met === undefined ? 'not measured' : cell.met ? '**met**' : '**missed**';
    lines.push(
      `| ${figure.label} (${figure.unit}) | ${bare === undefined ? '—' : formatNumber(bare, figure.digits)} | ` +
        `${cell?.value === undefined ? '—' : formatNumber(cell.value, figure.digits)} | ${cell?.ratio === undefined ? '—' : cell.ratio.toFixed(2)} | ` +
        `${figure.target.op === '>=' ? '≥' : '≤'} ${figure.target.ratio.toFixed(2)} | ${status} |`,
    );
  }
  return lines;
}

/**
 * Server and generator CPU of every (scenario, mode): medians over rounds of the cores each kept
 * busy in the CPU window, and how many rounds were generator-bound (the generator busier than the server).
 */
export function cpuLines(runs: readonly RunRecord[], modes: readonly Mode[]): string[] {
  const lines = [
    '| scenario | mode | server cores | of it, V8 worker threads | generator cores | generator ÷ server | generator-bound rounds |',
    '|---|---|---:|---:|---:|---:|---|',
  ];
  for (const scenario of SCENARIOS) {
    for (const mode of modes) {
      const shares = runs
        .filter((r) => r.scenario === scenario && r.mode === mode && r.result)
        .map((r) => cpuShare(r.result!))
        .filter((s) => s !== undefined);
      if (shares.length === 0) continue;
      const bound = shares.filter((s) => s.generatorBound).length;
      const near = shares.filter((s) => s.generatorNearBound).length;
      const nearNote = near === 0 ? '' : ` (${near} within ${NEAR_BOUND_MARGIN_PERCENT}% of it)`;
      const ratios = shares.map((s) => s.generatorPerServer);
      const v8Shares = shares.map((s) => s.v8WorkerShare).filter((s) => s !== undefined);
      const v8 = v8Shares.length === 0 ? '—' : `${(median(v8Shares)! * 100).toFixed(1)}%`;
      lines.push(
        `| ${scenario} | ${mode} | ${median(shares.map((s) => s.serverCores))!.toFixed(2)} | ${v8} | ${median(shares.map((s) => s.generatorCores))!.toFixed(2)} | ` +
          `${median(ratios)!.toFixed(2)} (max ${Math.max(...ratios).toFixed(2)}) | ${bound === 0 ? `0 of ${shares.length}` : `**${bound} of ${shares.length}: generator-bound**`}${nearNote} |`,
      );
    }
  }
  return lines;
}

/** The whole results.md. */
export function renderMarkdown(report: BenchReport): string {
  const { modes } = report.settings;
  const tcpModes = modes.filter((m): m is Exclude<Mode, 'bare'> => m !== 'bare');
  const lines: string[] = [];
  lines.push('# tcp-echo benchmark results', '');
  const generator =
    report.settings.generator === 'native'
      ? 'native load generator (C, epoll)'
      : `JavaScript load generator${report.settings.nativeUnavailable ? ` (native unavailable: ${report.settings.nativeUnavailable})` : ''}`;
  lines.push(
    `${report.startedAt} · ${report.machine.cpu} × ${report.machine.cores} cores · Node.js ${report.machine.node} · ` +
      `commit ${report.machine.commit} · ${report.settings.quick ? 'quick run' : 'full run'}, ` +
      `${report.settings.rounds} round(s), ${formatNumber(report.elapsedS, 0)} s · ${generator}`,
    '',
  );
  if (modes.includes(TARGET_MODE)) {
    lines.push(`## Targets (\`${TARGET_MODE}\` ÷ bare, same run, medians over rounds)`, '', ...targetLines(report), '');
  }
  lines.push('## All figures', '');
  lines.push(
    'Each cell: the median over rounds, and in parentheses the ratio to the bare Node.js echo measured in the ' +
      `same run. Targets apply to \`${TARGET_MODE}\`.`,
    '',
  );
  const header = ['figure', 'bare', ...tcpModes, 'target', TARGET_MODE];
  lines.push(`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
  for (const figure of FIGURES) {
    const row = report.table[figure.key] ?? {};
    const cells = modes.map((mode) => cellText(row[mode], figure.digits, mode === 'bare'));
    const target = figure.target ? `${figure.target.op === '>=' ? '≥' : '≤'} ${figure.target.ratio.toFixed(2)}` : '';
    const subject = row[TARGET_MODE];
    const status = !figure.target ? '' : subject?.met === undefined ? 'not measured' : subject.met ? '**met**' : '**missed**';
    lines.push(`| ${figure.label} (${figure.unit}) | ${cells.join(' | ')} | ${target} | ${status} |`);
  }
  lines.push('', '## Server and generator CPU', '');
  lines.push(
    'Cores each kept busy in the CPU window (the measured window; for idle, the opening of the connections). ' +
      'A run whose generator used more CPU than the server is flagged generator-bound: its rates measure the generator. ' +
        `One whose generator came within ${NEAR_BOUND_MARGIN_PERCENT}% of the server's CPU is counted in parentheses: its rates may be the generator's in part.`,
    '',
    ...cpuLines(report.runs, modes),
  );
  lines.push('', '![ratios to the bare echo](ratios.svg)', '');
  lines.push('## Modes', '');
  for (const mode of modes) lines.push(`- \`${mode}\`: ${report.modeDescriptions[mode]}`);
  lines.push('', '## Settings', '');
  const s = report.settings;
  lines.push(
    `- throughput: ${s.throughput.connections} connections, ${s.throughput.messageSize} B writes, ` +
      `${s.throughput.window} B in flight per connection, every echoed byte verified`,
    `- pingpong: ${s.pingpong.connections} connections, ${s.pingpong.requestSize} B requests, one in flight per connection`,
    `- connrate: ${s.connrate.connections} concurrent loops of connect, echo ${s.connrate.requestSize} B verified, close`,
    `- idle: ${s.idle.connections} connections each echoing ${s.idle.requestSize} B once, held ${s.idle.holdS} s; ` +
      'RSS per connection = (median RSS in the second half of the hold − RSS at start) / connections',
    `- warm-up ${s.warmupS} s (connrate ${s.connrateWarmupS ?? s.warmupS} s), measured ${s.durationS} s per scenario; ` +
      (s.generator === 'native'
        ? 'native load generator: one thread, epoll (bench/generator/native/loadgen.c)'
        : 'JavaScript generator threads: ' + Object.entries(s.threads).map(([k, v]) => `${k} ${v}`).join(', ')),
    ...(s.serverNodeFlags.length > 0 ? [`- tcp-echo ran with the node flags \`${s.serverNodeFlags.join(' ')}\` (package.json config.node_flags plus --server-node-flags)`] : []),
    `- a run in which other processes kept more than ${s.maxBackground} cores busy was measured again (at most ${s.retries} time(s), within the time budget)`,
    `- order (alternating; each round reverses the previous): ${report.order.join(' → ')}`,
    '- CPU: utime+stime+cutime+cstime of the server and its live children from /proc/PID/stat inside the measured window; ' +
      'RSS: summed over the same processes.',
    s.pinning
      ? `- cores: every server but cluster mode's on core ${s.pinning.server}; load generator, OTLP sink and runner on core(s) ${s.pinning.load} (bench/lib/cpu-pinning.ts)`
      : `- cores: not pinned (${s.pinningUnavailable ?? 'unknown'}): load generator, OTLP sink and server share the machine's cores`,
    '',
  );
  const notes = report.notes;
  if (notes.length > 0) {
    lines.push('## Notes', '');
    for (const note of notes) lines.push(`- ${note}`);
    lines.push('');
  }
  return lines.join('\n');
}
