/**
 * `training-curves.svg`: training loss (left axis) and evaluation F1 (right axis, 0–100) over optimizer steps.
 * Hand-written SVG because a plotting library would be a large dependency for two polylines and four labels.
 */
import { isEvalRecord, type MetricsRecord } from './metrics-log.js';

const WIDTH = 720;
const HEIGHT = 360;
const PAD = { left: 60, right: 60, top: 30, bottom: 45 };

function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 2.5, 5, 10]) if (value <= m * magnitude) return m * magnitude;
  return 10 * magnitude;
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(3);
}

export function renderTrainingCurves(history: readonly MetricsRecord[], title = 'qa-ft training'): string {
  const losses = history.filter((r) => !isEvalRecord(r) && Number.isFinite((r as { loss: number }).loss));
  const evals = history.filter(isEvalRecord);
  const maxStep = Math.max(1, ...history.map((r) => r.step));
  const lossMax = niceMax(Math.max(0, ...losses.map((r) => (r as { loss: number }).loss)));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const x = (step: number): number => PAD.left + (step / maxStep) * plotW;
  const yLoss = (loss: number): number => PAD.top + plotH - (loss / lossMax) * plotH;
  const yF1 = (f1: number): number => PAD.top + plotH - (f1 / 100) * plotH;
  const points = (pts: [number, number][]): string => pts.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' ');

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="18" text-anchor="middle" font-size="14">${escapeXml(title)}</text>`,
    `<rect x="${PAD.left}" y="${PAD.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const frac = i / 4;
    const y = PAD.top + plotH - frac * plotH;
    parts.push(`<line x1="${PAD.left}" y1="${y}" x2="${PAD.left + plotW}" y2="${y}" stroke="#eee"/>`);
    parts.push(`<text x="${PAD.left - 6}" y="${y + 4}" text-anchor="end" fill="#1f77b4">${fmt(lossMax * frac)}</text>`);
    parts.push(`<text x="${PAD.left + plotW + 6}" y="${y + 4}" fill="#d62728">${fmt(100 * frac)}</text>`);
    const sx = PAD.left + frac * plotW;
    parts.push(`<text x="${sx}" y="${PAD.top + plotH + 16}" text-anchor="middle">${Math.round(maxStep * frac)}</text>`);
  }
  parts.push(`<text x="${PAD.left + plotW / 2}" y="${HEIGHT - 8}" text-anchor="middle">step</text>`);
  parts.push(
    `<text x="14" y="${PAD.top + plotH / 2}" fill="#1f77b4" transform="rotate(-90 14 ${PAD.top + plotH / 2})" text-anchor="middle">training loss</text>`,
  );
  parts.push(
    `<text x="${WIDTH - 14}" y="${PAD.top + plotH / 2}" fill="#d62728" transform="rotate(90 ${WIDTH - 14} ${PAD.top + plotH / 2})" text-anchor="middle">eval F1</text>`,
  );
  if (losses.length > 0) {
    const pts = losses.map((r): [number, number] => [x(r.step), yLoss((r as { loss: number }).loss)]);
    parts.push(`<polyline class="loss" fill="none" stroke="#1f77b4" stroke-width="1.5" points="${points(pts)}"/>`);
  }
  if (evals.length > 0) {
    const pts = evals.map((r): [number, number] => [x(r.step), yF1(r.eval_f1)]);
    parts.push(`<polyline class="f1" fill="none" stroke="#d62728" stroke-width="2" points="${points(pts)}"/>`);
    for (const [cx, cy] of pts)
      parts.push(`<circle cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" r="3" fill="#d62728"/>`);
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c] ?? c);
}
