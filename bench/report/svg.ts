/**
 * A hand-written SVG bar chart of the ratios to the bare echo: one group per figure, one bar per
 * tcp-echo mode, a line at 1.0 (parity) and a tick at the target where there is one.
 */
import type { Mode } from '../lib/servers.js';
import { FIGURES } from './figures.js';
import type { BenchReport } from './types.js';

const COLORS: Record<Exclude<Mode, 'bare'>, string> = {
  off: '#9ecae1',
  metrics: '#6baed6',
  traced: '#3182bd',
  full: '#08519c',
  cluster: '#31a354',
};

const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The whole ratios.svg. */
export function renderSvg(report: BenchReport): string {
  const modes = report.settings.modes.filter((m): m is Exclude<Mode, 'bare'> => m !== 'bare');
  const figures = FIGURES.filter((f) => modes.some((m) => report.table[f.key]?.[m]?.ratio !== undefined));
  const labelWidth = 290;
  const plotWidth = 460;
  const barHeight = 9;
  const groupGap = 10;
  const top = 48;
  const groupHeight = modes.length * barHeight + groupGap;
  const height = top + figures.length * groupHeight + 40;
  const width = Math.max(labelWidth + plotWidth + 80, 880);
  const ratios = figures.flatMap((f) => modes.map((m) => report.table[f.key]?.[m]?.ratio ?? 0));
  // Scale to the largest ratio, at least 1.5, at most 4 (longer bars are clipped and labelled).
  const maxRatio = Math.min(4, Math.max(1.5, ...ratios));
  const x = (ratio: number): number => labelWidth + (Math.min(ratio, maxRatio) / maxRatio) * plotWidth;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="18" font-size="14" font-weight="bold">tcp-echo ÷ bare Node.js echo, same run (dashed: parity; red: target; ↑ higher is better, ↓ lower is better)</text>`,
  );
  modes.forEach((mode, i) => {
    const lx = labelWidth + i * 110;
    out.push(`<rect x="${lx}" y="28" width="10" height="10" fill="${COLORS[mode]}"/>`, `<text x="${lx + 14}" y="37">${mode}</text>`);
  });
  figures.forEach((figure, g) => {
    const y0 = top + g * groupHeight;
    const arrow = figure.better === 'higher' ? '↑' : '↓';
    out.push(`<text x="${labelWidth - 8}" y="${y0 + (modes.length * barHeight) / 2 + 4}" text-anchor="end">${escape(figure.label)} ${arrow}</text>`);
    modes.forEach((mode, i) => {
      const ratio = report.table[figure.key]?.[mode]?.ratio;
      if (ratio === undefined) return;
      const y = y0 + i * barHeight;
      out.push(
        `<rect x="${labelWidth}" y="${y}" width="${(x(ratio) - labelWidth).toFixed(1)}" height="${barHeight - 1}" fill="${COLORS[mode]}"/>`,
        `<text x="${(x(ratio) + 3).toFixed(1)}" y="${y + barHeight - 1}" font-size="8">${ratio.toFixed(2)}${ratio > maxRatio ? ' ▶' : ''}</text>`,
      );
    });
    if (figure.target) {
      const tx = x(figure.target.ratio).toFixed(1);
      out.push(`<line x1="${tx}" x2="${tx}" y1="${y0 - 2}" y2="${y0 + modes.length * barHeight + 1}" stroke="#d62728" stroke-width="2"/>`);
    }
  });
  const bottom = top + figures.length * groupHeight;
  out.push(`<line x1="${x(1)}" x2="${x(1)}" y1="${top - 4}" y2="${bottom}" stroke="#333" stroke-dasharray="3,2"/>`);
  for (let tick = 0; tick <= maxRatio + 1e-9; tick += 0.5) {
    out.push(`<text x="${x(tick).toFixed(1)}" y="${bottom + 14}" text-anchor="middle">${tick.toFixed(1)}</text>`);
  }
  out.push(`<text x="${labelWidth + plotWidth / 2}" y="${bottom + 30}" text-anchor="middle">ratio to the bare echo</text>`, '</svg>', '');
  return out.join('\n');
}
