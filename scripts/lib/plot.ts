/** A small dependency-free SVG line plot of learning curves (mean with a ±sd band per series). */
export interface PlotCurves {
  title: string;
  curves: Record<string, { labels: number; mean: number; std: number }[]>;
}

const COLOURS = ['#4f46e5', '#dc2626', '#059669', '#d97706', '#0891b2', '#7c3aed'];

export function renderCurvesSvg({ title, curves }: PlotCurves): string {
  const W = 760;
  const H = 440;
  const m = { l: 60, r: 170, t: 40, b: 50 };
  const all = Object.values(curves).flat();
  const xMax = Math.max(...all.map((p) => p.labels));
  const yMin = Math.max(0, Math.floor((Math.min(...all.map((p) => p.mean - p.std)) - 0.02) * 20) / 20);
  const yMax = Math.min(1, Math.ceil((Math.max(...all.map((p) => p.mean + p.std)) + 0.01) * 20) / 20);
  const x = (v: number) => m.l + (v / xMax) * (W - m.l - m.r);
  const y = (v: number) => H - m.b - ((v - yMin) / (yMax - yMin)) * (H - m.t - m.b);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${m.l}" y="22" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  for (let v = yMin; v <= yMax + 1e-9; v += 0.05) {
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e7eb"/>`);
    parts.push(`<text x="${m.l - 8}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(2)}</text>`);
  }
  const xStep = xMax > 2000 ? 500 : xMax > 500 ? 100 : 50;
  for (let v = 0; v <= xMax; v += xStep) {
    parts.push(`<line x1="${x(v)}" x2="${x(v)}" y1="${m.t}" y2="${H - m.b}" stroke="#f3f4f6"/>`);
    parts.push(`<text x="${x(v)}" y="${H - m.b + 16}" text-anchor="middle">${v}</text>`);
  }
  parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 10}" text-anchor="middle">human labels</text>`);
  parts.push(`<text transform="translate(16 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">test accuracy</text>`);
  Object.entries(curves).forEach(([name, pts], i) => {
    const c = COLOURS[i % COLOURS.length];
    const band = [
      ...pts.map((p) => `${x(p.labels)},${y(Math.min(yMax, p.mean + p.std))}`),
      ...[...pts].reverse().map((p) => `${x(p.labels)},${y(Math.max(yMin, p.mean - p.std))}`),
    ].join(' ');
    parts.push(`<polygon points="${band}" fill="${c}" opacity="0.12"/>`);
    parts.push(`<polyline points="${pts.map((p) => `${x(p.labels)},${y(p.mean)}`).join(' ')}" fill="none" stroke="${c}" stroke-width="2"/>`);
    for (const p of pts) parts.push(`<circle cx="${x(p.labels)}" cy="${y(p.mean)}" r="2.5" fill="${c}"/>`);
    parts.push(`<rect x="${W - m.r + 14}" y="${m.t + i * 20}" width="14" height="3" fill="${c}"/>`);
    parts.push(`<text x="${W - m.r + 34}" y="${m.t + i * 20 + 5}">${escapeXml(name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
