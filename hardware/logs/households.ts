/**
 * Synthetic household meter logs, deterministic from a seed. Load: a base load, a morning and an evening
 * peak (Gaussian bumps), appliance events (kettle, oven, washing machine) placed at random, and minute
 * noise. PV: a clear-sky bell (sine of the day's elevation path between sunrise and sunset, raised to
 * 1.3), scaled by the day's clearness and by cloud shading that follows a mean-reverting random walk with
 * occasional deep dips. Net power = load - PV; the import and export counters integrate its positive and
 * negative parts. Times are UTC and the shapes are placed on local solar time (no time zone offset).
 */
import type { LogRow } from "../../agent/meters/codec/meter-log.js";

export interface Household {
  name: string;
  description: string;
  /** kWp of the rooftop array; 0 for none */
  pvKwp: number;
  baseW: number;
  morningW: number;
  eveningW: number;
  /** appliance events per day */
  events: number;
  seed: number;
  startImportWh: number;
  startExportWh: number;
}

export const HOUSEHOLDS: Household[] = [
  {
    name: "h1-pv-family",
    description: "family of four, 6 kWp PV (seller at midday)",
    pvKwp: 6,
    baseW: 220,
    morningW: 900,
    eveningW: 1600,
    events: 6,
    seed: 101,
    startImportWh: 8_412_345,
    startExportWh: 3_120_004,
  },
  {
    name: "h2-pv-couple",
    description: "working couple, 4 kWp PV, empty house by day (strong seller)",
    pvKwp: 4,
    baseW: 140,
    morningW: 600,
    eveningW: 1100,
    events: 3,
    seed: 202,
    startImportWh: 5_077_120,
    startExportWh: 4_880_760,
  },
  {
    name: "h3-family",
    description: "family of five, no PV (buyer)",
    pvKwp: 0,
    baseW: 260,
    morningW: 1100,
    eveningW: 1900,
    events: 7,
    seed: 303,
    startImportWh: 21_904_410,
    startExportWh: 0,
  },
  {
    name: "h4-single",
    description: "single occupant flat, no PV (small buyer)",
    pvKwp: 0,
    baseW: 110,
    morningW: 450,
    eveningW: 800,
    events: 2,
    seed: 404,
    startImportWh: 3_300_900,
    startExportWh: 0,
  },
];

/** mulberry32: small, fast, good enough for shapes, and the same everywhere. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const bump = (h: number, centre: number, width: number) => Math.exp(-0.5 * ((h - centre) / width) ** 2);

const APPLIANCES = [
  { w: 2000, minutes: 4 }, // kettle
  { w: 2400, minutes: 45 }, // oven
  { w: 1800, minutes: 20 }, // washing machine heating
  { w: 1200, minutes: 10 }, // microwave and toaster
];

export function generateHousehold(h: Household, startMs: number, days: number, stepMs = 60_000): LogRow[] {
  const rnd = prng(h.seed);
  const steps = Math.round((days * 86_400_000) / stepMs);
  const extra = new Float64Array(steps);
  for (let d = 0; d < days; d++) {
    for (let e = 0; e < h.events; e++) {
      const a = APPLIANCES[Math.floor(rnd() * APPLIANCES.length)];
      // events cluster in waking hours, 6:00 to 23:00
      const startMin = d * 1440 + Math.floor(360 + rnd() * 1020);
      for (let m = 0; m < a.minutes; m++) {
        const k = Math.floor((startMin + m) * (60_000 / stepMs));
        if (k < steps) extra[k] += a.w;
      }
    }
  }
  const clearness = Array.from({ length: days }, () => 0.45 + 0.55 * rnd());
  let cloud = 0;
  let importAcc = h.startImportWh;
  let exportAcc = h.startExportWh;
  const rows: LogRow[] = [];
  for (let k = 0; k < steps; k++) {
    const ts = startMs + k * stepMs;
    const hour = (((ts / 3_600_000) % 24) + 24) % 24;
    const day = Math.floor((k * stepMs) / 86_400_000);
    const load =
      h.baseW * (0.9 + 0.2 * rnd()) +
      h.morningW * bump(hour, 7.2, 0.8) +
      h.eveningW * bump(hour, 19.3, 1.4) +
      0.25 * h.morningW * bump(hour, 12.5, 1.0) +
      extra[k];
    let pv = 0;
    if (h.pvKwp > 0 && hour > 5 && hour < 21) {
      const clear = Math.sin((Math.PI * (hour - 5)) / 16) ** 1.3;
      cloud = 0.85 * cloud + 0.15 * (rnd() - 0.5) * 2;
      const dip = rnd() < 0.02 ? 0.5 * rnd() : 0;
      const shade = Math.min(1, Math.max(0.1, clearness[day] + 0.35 * cloud - dip));
      pv = h.pvKwp * 1000 * 0.82 * clear * shade;
    }
    const net = load - pv;
    const wh = (Math.abs(net) * stepMs) / 3_600_000;
    if (net >= 0) importAcc += wh;
    else exportAcc += wh;
    rows.push({
      ts,
      importWh: Math.floor(importAcc),
      exportWh: Math.floor(exportAcc),
      powerW: Math.round(net * 10) / 10,
    });
  }
  return rows;
}
