/** The Markdown report of a run: one table of figures and ratios, then what was run and any trouble. */
import type { Mode } from '../lib/servers.js';
import { FIGURES, type Cell } from './figures.js';
import type { BenchReport } from './report.js';

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

/** The whole results.md. */
export function renderMarkdown(report: BenchReport): string {
  const { modes } = report.settings;
  const tcpModes = modes.filter((m): m is Exclude<Mode, 'bare'> => m !== 'bare');
  const lines: string[] = [];
  lines.push('# tcp-echo benchmark results', '');
  lines.push(
    `${report.startedAt} · ${report.machine.cpu} × ${report.machine.cores} cores · Node.js ${report.machine.node} · ` +
      `commit ${report.machine.commit} · ${report.settings.quick ? 'quick run' : 'full run'}, ` +
      `${report.settings.rounds} round(s), ${formatNumber(report.elapsedS, 0)} s`,
    '',
  );
  lines.push(
    'Each cell: the median over rounds, and in parentheses the ratio to the bare Node.js echo measured in the ' +
      'same run. Targets apply to tcp-echo with the shipped config and tracing at 100% (`shipped`).',
    '',
  );
  const header = ['figure', 'bare', ...tcpModes, 'target', 'shipped'];
  lines.push(`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
  for (const figure of FIGURES) {
    const row = report.table[figure.key] ?? {};
    const cells = modes.map((mode) => cellText(row[mode], figure.digits, mode === 'bare'));
    const target = figure.target ? `${figure.target.op === '>=' ? '≥' : '≤'} ${figure.target.ratio.toFixed(2)}` : '';
    const shipped = row.shipped;
    const status = !figure.target ? '' : shipped?.met === undefined ? 'not measured' : shipped.met ? '**met**' : '**missed**';
    lines.push(`| ${figure.label} (${figure.unit}) | ${cells.join(' | ')} | ${target} | ${status} |`);
  }
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
    `- warm-up ${s.warmupS} s, measured ${s.durationS} s per scenario; generator threads: ` +
      Object.entries(s.threads).map(([k, v]) => `${k} ${v}`).join(', '),
    ...(s.serverNodeFlags.length > 0 ? [`- **tcp-echo ran with extra node flags: \`${s.serverNodeFlags.join(' ')}\`**`] : []),
    `- a run in which other processes kept more than ${s.maxBackground} cores busy was measured again (at most ${s.retries} time(s), within the time budget)`,
    `- order (alternating; each round reverses the previous): ${report.order.join(' → ')}`,
    '- CPU: utime+stime+cutime+cstime of the server and its live children from /proc/PID/stat inside the measured window; ' +
      'RSS: summed over the same processes. Load generator, OTLP sink and server share the machine\'s cores.',
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
