/**
 * Just enough SVG for the experiment figures: grouped bar charts and line charts with axes, ticks and a
 * legend, laid out as panels side by side. Plain strings, fixed number formatting, so the same data
 * always gives the same bytes.
 */
export interface Series {
  name: string;
  values: number[];
}

export interface BarPanel {
  kind: "bar";
  title: string;
  categories: string[];
  series: Series[];
  yLabel: string;
}

export interface LinePanel {
  kind: "line";
  title: string;
  x: number[];
  series: Series[];
  xLabel: string;
  yLabel: string;
}

export type Panel = BarPanel | LinePanel;

const PALETTE = ["#1b6ca8", "#e07a1f", "#2a9d55", "#c0392b", "#7d4ea8", "#8c6d31", "#555555"];
const DASHES = ["", "6 3"];
const W = 520;
const H = 420;
const M = { left: 70, right: 16, top: 40, bottom: 150 };

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const f = (x: number) => (Math.round(x * 100) / 100).toString();

/** 4–8 round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number): number[] {
  if (!(hi > lo)) hi = lo + 1;
  const raw = (hi - lo) / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.floor(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  if (out[out.length - 1] < hi) out.push(Number((out[out.length - 1] + step).toPrecision(12)));
  return out;
}

function label(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (a >= 1e4) return `${Number((v / 1e3).toPrecision(3))}k`;
  return `${Number(v.toPrecision(4))}`;
}

function frame(p: Panel, lo: number, hi: number) {
  const ticks = niceTicks(lo, hi);
  const y0 = ticks[0];
  const y1 = ticks[ticks.length - 1];
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const y = (v: number) => M.top + ph - ((v - y0) / (y1 - y0)) * ph;
  const parts = [
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${esc(p.title)}</text>`,
  ];
  for (const t of ticks) {
    parts.push(
      `<line x1="${M.left}" x2="${M.left + pw}" y1="${f(y(t))}" y2="${f(y(t))}" stroke="#ddd"/>`,
      `<text x="${M.left - 6}" y="${f(y(t) + 4)}" text-anchor="end" font-size="11">${label(t)}</text>`,
    );
  }
  parts.push(
    `<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + ph}" stroke="#333"/>`,
    `<line x1="${M.left}" x2="${M.left + pw}" y1="${f(y(y0))}" y2="${f(y(y0))}" stroke="#333"/>`,
    `<text transform="translate(16 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(p.yLabel)}</text>`,
  );
  return { parts, pw, ph, y, y0 };
}

function legend(names: string[], top: number, dashed: (i: number) => string): string[] {
  return names.map((n, i) => {
    const yy = top + i * 15;
    const c = PALETTE[i % PALETTE.length];
    const dash = dashed(i);
    return (
      `<line x1="${M.left}" x2="${M.left + 22}" y1="${yy}" y2="${yy}" stroke="${c}" stroke-width="3"${dash ? ` stroke-dasharray="${dash}"` : ""}/>` +
      `<text x="${M.left + 28}" y="${yy + 4}" font-size="11">${esc(n)}</text>`
    );
  });
}

function barPanel(p: BarPanel): string {
  const all = p.series.flatMap((s) => s.values);
  const { parts, pw, y, y0 } = frame(p, Math.min(0, ...all), Math.max(0, ...all));
  const group = pw / p.categories.length;
  const bw = (group * 0.8) / p.series.length;
  p.categories.forEach((cat, ci) => {
    const gx = M.left + ci * group + group * 0.1;
    p.series.forEach((s, si) => {
      const v = s.values[ci];
      const top = Math.min(y(v), y(Math.max(y0, 0)));
      const h = Math.abs(y(v) - y(Math.max(y0, 0)));
      parts.push(
        `<rect x="${f(gx + si * bw)}" y="${f(top)}" width="${f(bw - 1)}" height="${f(h)}" fill="${PALETTE[si % PALETTE.length]}"><title>${esc(s.name)} ${esc(cat)}: ${label(v)}</title></rect>`,
      );
    });
    parts.push(
      `<text x="${f(gx + group * 0.4)}" y="${H - M.bottom + 16}" text-anchor="middle" font-size="11">${esc(cat)}</text>`,
    );
  });
  parts.push(
    ...legend(
      p.series.map((s) => s.name),
      H - M.bottom + 32,
      () => "",
    ),
  );
  return parts.join("\n");
}

function linePanel(p: LinePanel): string {
  const all = p.series.flatMap((s) => s.values);
  const { parts, pw, y } = frame(p, Math.min(0, ...all), Math.max(...all));
  const xlo = Math.min(...p.x);
  const xhi = Math.max(...p.x);
  const x = (v: number) => M.left + ((v - xlo) / (xhi - xlo || 1)) * pw * 0.94 + pw * 0.03;
  for (const v of p.x) {
    parts.push(
      `<text x="${f(x(v))}" y="${H - M.bottom + 16}" text-anchor="middle" font-size="11">${label(v)}</text>`,
    );
  }
  parts.push(
    `<text x="${M.left + pw / 2}" y="${H - M.bottom + 32}" text-anchor="middle" font-size="12">${esc(p.xLabel)}</text>`,
  );
  const dashOf = (i: number) => DASHES[i % 2];
  p.series.forEach((s, si) => {
    const c = PALETTE[Math.floor(si / 2) % PALETTE.length];
    const pts = s.values.map((v, i) => `${f(x(p.x[i]))},${f(y(v))}`).join(" ");
    const dash = dashOf(si);
    parts.push(
      `<polyline points="${pts}" fill="none" stroke="${c}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ""}/>`,
    );
    for (const [i, v] of s.values.entries()) {
      parts.push(
        `<circle cx="${f(x(p.x[i]))}" cy="${f(y(v))}" r="3" fill="${c}"><title>${esc(s.name)}: ${label(v)}</title></circle>`,
      );
    }
  });
  // pairs of series share a colour (scenario) and differ by dash (without / with credit)
  const names = p.series.map((s) => s.name);
  parts.push(
    ...legend(names, H - M.bottom + 46, dashOf).map((l, i) =>
      l.replace(/stroke="#[0-9a-f]{6}"/, `stroke="${PALETTE[Math.floor(i / 2) % PALETTE.length]}"`),
    ),
  );
  return parts.join("\n");
}

/** One SVG document with the panels side by side. */
export function figureSvg(title: string, panels: Panel[]): string {
  const width = W * panels.length;
  const height = H + 24;
  const body = panels
    .map(
      (p, i) =>
        `<g transform="translate(${i * W} 0)">\n${p.kind === "bar" ? barPanel(p) : linePanel(p)}\n</g>`,
    )
    .join("\n");
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="${height - 10}" text-anchor="middle" font-size="12" fill="#444">${esc(title)}</text>`,
    body,
    "</svg>",
    "",
  ].join("\n");
}
