/**
 * The side-by-side figures as one SVG (README, "Performance"): a panel per
 * figure, a pair of bars per scenario (Switchboard, the peer), the ratio above
 * each pair. Plain SVG text, so the chart is diffable and needs no library.
 */
import type { ScenarioResult } from '../peers.bench.js';

const COLORS = { switchboard: '#2563eb', peer: '#9ca3af', limit: '#dc2626', reference: '#059669', text: '#111827', muted: '#6b7280' };
const PANEL_W = 300;
const PANEL_H = 190;
const TOP = 64;

interface Panel {
  title: string;
  /** Which is better, for the ratio label. */
  better: 'higher' | 'lower';
  value: (side: NonNullable<ScenarioResult['peer']>) => number;
  format: (v: number) => string;
  /** A horizontal line per scenario (the critical path), if any. */
  limit?: (r: ScenarioResult) => number | null;
  /** A second line per scenario (the upstream call alone, as measured), if any. */
  reference?: (r: ScenarioResult) => number | null;
}

export function renderChart(results: readonly ScenarioResult[], generatedAt: string): string {
  const load = results.filter((r) => r.criticalPathMs === null);
  const latency = results.filter((r) => r.criticalPathMs !== null);
  const all: { panel: Panel; rows: readonly ScenarioResult[] }[] = [
    { panel: { title: 'Requests per second (20 connections)', better: 'higher', value: (s) => s.perSecond, format: (v) => v.toFixed(0) }, rows: load },
    { panel: { title: 'p99 latency, ms', better: 'lower', value: (s) => s.p99Ms, format: ms }, rows: load },
    { panel: { title: 'Gateway CPU per query, ms', better: 'lower', value: (s) => s.cpuMsPerQuery, format: (v) => v.toFixed(2) }, rows: load },
    { panel: { title: 'Peak memory, MiB', better: 'lower', value: (s) => s.peakRssBytes / 2 ** 20, format: (v) => v.toFixed(0) }, rows: load },
    { panel: { title: 'Upstream requests per query', better: 'lower', value: (s) => s.upstreamPerQuery, format: (v) => String(v) }, rows: load },
    {
      panel: {
        title: 'p50 latency at 20 ms per upstream call, ms',
        better: 'lower',
        value: (s) => s.p50Ms,
        format: ms,
        limit: (r) => r.criticalPathMs,
        reference: (r) => r.upstreamAlone?.p50Ms ?? null,
      },
      rows: latency,
    },
  ];
  const panels = all.filter((p) => p.rows.length > 0);

  const columns = 3;
  const width = columns * (PANEL_W + 20) + 20;
  const height = TOP + Math.ceil(panels.length / columns) * (PANEL_H + 70) - 20;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="11">`);
  parts.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  parts.push(text(20, 24, 'Switchboard and Hive Gateway + GraphQL Mesh, same simulators, same load, alternating', { size: 14, weight: 'bold' }));
  parts.push(rect(20, 36, 12, 12, COLORS.switchboard), text(38, 46, 'Switchboard'));
  parts.push(rect(120, 36, 12, 12, COLORS.peer), text(138, 46, 'Hive Gateway + Mesh (jit, no response cache)'));
  parts.push(text(width - 20, 46, `ratio = Switchboard ÷ peer · ${generatedAt.slice(0, 10)}`, { anchor: 'end', color: COLORS.muted }));
  panels.forEach(({ panel, rows }, i) => {
    const x = 20 + (i % columns) * (PANEL_W + 20);
    const y = TOP + Math.floor(i / columns) * (PANEL_H + 70);
    parts.push(drawPanel(panel, rows, x, y));
  });
  parts.push(`</svg>`);
  return `${parts.join('\n')}\n`;
}

function drawPanel(panel: Panel, rows: readonly ScenarioResult[], x: number, y: number): string {
  const parts: string[] = [text(x, y + 12, panel.title, { weight: 'bold' })];
  const plotTop = y + 34;
  const plotH = PANEL_H - 40;
  const baseY = plotTop + plotH;
  if (panel.limit && panel.reference) {
    parts.push(text(x, baseY + 30, 'red: latency added per upstream call · green: the call alone', { size: 9, color: COLORS.muted }));
  }
  const values = rows.flatMap((r) => [panel.value(r.switchboard), r.peer ? panel.value(r.peer) : 0, panel.limit?.(r) ?? 0, panel.reference?.(r) ?? 0]);
  const max = Math.max(...values, 1e-9) * 1.1;
  const group = PANEL_W / rows.length;
  const bar = Math.min(34, group / 3);
  parts.push(`<line x1="${x}" y1="${baseY}" x2="${x + PANEL_W}" y2="${baseY}" stroke="${COLORS.muted}"/>`);
  rows.forEach((r, i) => {
    const cx = x + group * i + group / 2;
    const sbValue = panel.value(r.switchboard);
    const peerValue = r.peer ? panel.value(r.peer) : null;
    const h = (v: number) => (v / max) * plotH;
    parts.push(rect(cx - bar - 1, baseY - h(sbValue), bar, h(sbValue), COLORS.switchboard));
    parts.push(text(cx - bar / 2 - 1, baseY - h(sbValue) - 3, panel.format(sbValue), { anchor: 'middle', size: 9 }));
    if (peerValue !== null) {
      parts.push(rect(cx + 1, baseY - h(peerValue), bar, h(peerValue), COLORS.peer));
      parts.push(text(cx + bar / 2 + 1, baseY - h(peerValue) - 3, panel.format(peerValue), { anchor: 'middle', size: 9 }));
      if (peerValue > 0) {
        const ratio = sbValue / peerValue;
        parts.push(text(cx, plotTop - 6, `${ratio.toFixed(2)}×`, { anchor: 'middle', weight: 'bold', color: COLORS.text }));
      }
    }
    const limit = panel.limit?.(r);
    if (limit !== null && limit !== undefined) {
      const ly = baseY - h(limit);
      parts.push(`<line x1="${cx - bar - 6}" y1="${ly}" x2="${cx + bar + 6}" y2="${ly}" stroke="${COLORS.limit}" stroke-dasharray="4 2"/>`);
      parts.push(text(cx + bar + 8, ly + 3, `${limit} ms`, { size: 9, color: COLORS.limit }));
    }
    const reference = panel.reference?.(r);
    if (reference !== null && reference !== undefined) {
      const ry = baseY - h(reference);
      parts.push(`<line x1="${cx - bar - 6}" y1="${ry}" x2="${cx + bar + 6}" y2="${ry}" stroke="${COLORS.reference}" stroke-dasharray="2 2"/>`);
      parts.push(text(cx - bar - 8, ry + 3, ms(reference), { size: 9, color: COLORS.reference, anchor: 'end' }));
    }
    parts.push(text(cx, baseY + 14, shortTitle(r), { anchor: 'middle', size: 10, color: COLORS.muted }));
  });
  return parts.join('\n');
}

/** Whole milliseconds past 100, so neighbouring labels stay apart. */
function ms(v: number): string {
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

function shortTitle(r: ScenarioResult): string {
  return (
    {
      customers: '1 customers',
      nested: '2 nested',
      addresses: '3 addresses',
      all: '4 all four',
      'nested-20ms': '5a nested',
      'addresses-20ms': '5b addresses',
    }[r.key] ?? r.key
  );
}

function rect(x: number, y: number, w: number, h: number, fill: string): string {
  return `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${w.toFixed(1)}" height="${Math.max(0, h).toFixed(1)}" fill="${fill}"/>`;
}

function text(x: number, y: number, content: string, o: { size?: number; weight?: string; anchor?: string; color?: string } = {}): string {
  const escaped = content.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" font-size="${o.size ?? 11}"${o.weight ? ` font-weight="${o.weight}"` : ''}${o.anchor ? ` text-anchor="${o.anchor}"` : ''} fill="${o.color ?? COLORS.text}">${escaped}</text>`;
}
