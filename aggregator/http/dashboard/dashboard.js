// The aggregator's dashboard: one status document per second over server-sent events (/api/events),
// drawn with the DOM and inline SVG. No framework, no build step; every value goes in as text.

const token = new URLSearchParams(location.search).get("access_token");
const withToken = (path) => (token === null ? path : `${path}?access_token=${encodeURIComponent(token)}`);
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) e.setAttribute(k, String(v));
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

const coins = (mc) => (mc === null || mc === undefined ? "–" : (mc / 1000).toFixed(3));
const kwh = (wh) => (wh === null || wh === undefined ? "–" : (wh / 1000).toFixed(3));
const clock = (ms) => new Date(ms).toLocaleTimeString();
const hhmmss = (ms) => new Date(ms).toTimeString().slice(0, 8);
function ago(ms) {
  if (ms === null || ms === undefined) return "never";
  if (ms < 1000) return "now";
  if (ms < 60_000) return `${(ms / 1000).toFixed(0)} s ago`;
  return `${(ms / 60_000).toFixed(1)} min ago`;
}
function duration(ms) {
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min ${s % 60} s` : `${s} s`;
}

function fillRows(tableId, rows) {
  const body = $(tableId).tBodies[0];
  body.replaceChildren(
    ...rows.map((cells) =>
      el(
        "tr",
        {},
        ...cells.map((c) =>
          c instanceof Node ? el("td", {}, c) : el("td", typeof c === "number" ? { class: "num" } : {}, c),
        ),
      ),
    ),
  );
}

function fillKv(id, pairs) {
  $(id).replaceChildren(...pairs.flatMap(([k, v]) => [el("span", { class: "muted" }, k), el("span", {}, v)]));
}

const STATE_CLASS = { self: "ok", "in-step": "ok", lagging: "warn", silent: "bad", unreachable: "bad" };

function drawConsensus(l) {
  if (l === null) {
    fillKv("consensus-kv", [["ledger", "none (ingest only)"]]);
    fillRows("members", []);
    return;
  }
  const vc = Object.entries(l.viewChanges)
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  fillKv("consensus-kv", [
    ["height", l.height],
    ["round", l.round],
    ["reachable", `${l.reachable} of ${l.members.length} (quorum ${l.quorum})`],
    ["last block", ago(l.lastCommitAgeMs)],
    ["view changes", vc],
    ["waiting for a block", `${l.outboxDepth} envelopes`],
  ]);
  fillRows(
    "members",
    l.members.map((m) => [
      m.id,
      el("span", { class: `badge ${STATE_CLASS[m.state] ?? ""}`, "data-state": m.state }, m.state),
      m.height,
      m.state === "self" ? "–" : ago(m.lastMessageAgeMs),
    ]),
  );
}

/** Volume as bars on the left axis, clearing price as a line with points on the right axis. */
function drawMarket(market) {
  const plot = $("market-plot");
  const W = 900;
  const H = 240;
  const pad = { l: 52, r: 56, t: 12, b: 28 };
  const data = market === null ? [] : market.intervals;
  plot.setAttribute("data-intervals", String(data.length));
  plot.replaceChildren();
  if (data.length === 0) {
    plot.append(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, "no interval cleared yet"));
    return;
  }
  const iw = W - pad.l - pad.r;
  const ih = H - pad.t - pad.b;
  const maxVol = Math.max(1, ...data.map((d) => d.volumeWh));
  const prices = data.filter((d) => d.clearingPriceMcPerKwh !== null).map((d) => d.clearingPriceMcPerKwh);
  const maxPrice = Math.max(1, ...prices);
  // At least 24 slots, newest on the right, so that a young consortium does not draw giant bars.
  const slots = Math.max(24, data.length);
  const step = iw / slots;
  const x = (i) => pad.l + step * (slots - data.length + i) + step / 2;
  const yVol = (v) => pad.t + ih - (v / maxVol) * ih;
  const yPrice = (p) => pad.t + ih - (p / maxPrice) * ih;
  plot.append(svg("line", { x1: pad.l, y1: pad.t + ih, x2: W - pad.r, y2: pad.t + ih, stroke: "#d0d5dd" }));
  for (const f of [0, 0.5, 1]) {
    const y = pad.t + ih - f * ih;
    plot.append(svg("line", { x1: pad.l, y1: y, x2: W - pad.r, y2: y, stroke: "#eef0f3" }));
    plot.append(svg("text", { x: pad.l - 6, y: y + 4, "text-anchor": "end" }, kwh(f * maxVol)));
    plot.append(svg("text", { x: W - pad.r + 6, y: y + 4 }, coins(f * maxPrice)));
  }
  const bw = Math.max(2, Math.min(40, step * 0.6));
  data.forEach((d, i) => {
    const y = yVol(d.volumeWh);
    const bar = svg("rect", {
      class: "volume-bar",
      x: x(i) - bw / 2,
      y,
      width: bw,
      height: pad.t + ih - y,
      fill: "var(--vol)",
      "data-interval": d.interval,
      "data-volume-wh": d.volumeWh,
    });
    bar.append(svg("title", {}, `interval ${d.interval}: ${kwh(d.volumeWh)} kWh, ${d.trades} trades`));
    plot.append(bar);
  });
  const points = data
    .map((d, i) => [i, d.clearingPriceMcPerKwh])
    .filter(([, p]) => p !== null)
    .map(([i, p]) => [x(i), yPrice(p), p, data[i].interval]);
  if (points.length > 1)
    plot.append(
      svg("polyline", {
        points: points.map(([px, py]) => `${px},${py}`).join(" "),
        fill: "none",
        stroke: "var(--price)",
        "stroke-width": 2,
      }),
    );
  for (const [px, py, p, interval] of points) {
    const c = svg("circle", {
      class: "price-point",
      cx: px,
      cy: py,
      r: 3.5,
      fill: "var(--price)",
      "data-price-mc": p,
    });
    c.append(svg("title", {}, `interval ${interval}: ${coins(p)} coins/kWh`));
    plot.append(c);
  }
  // Intervals are labelled by their start (interval number × interval length, wall clock), as many
  // as fit without overlapping (a label is about 60 units wide), the newest always.
  const labelEvery = Math.max(1, Math.ceil(60 / step));
  data.forEach((d, i) => {
    if ((data.length - 1 - i) % labelEvery === 0)
      plot.append(
        svg("text", { x: x(i), y: H - 8, "text-anchor": "middle" }, hhmmss(d.interval * market.intervalMs)),
      );
  });
}

function drawLedgerLists(l) {
  const recent = l === null ? [] : [...l.recent].reverse();
  fillRows(
    "trades",
    recent
      .filter((e) => e.kind === "trade" || e.kind === "settlement")
      .map((e) =>
        e.kind === "trade"
          ? [clock(e.time), "matched", `${e.buyer} → ${e.seller}`, kwh(e.energyWh), coins(e.paymentMc)]
          : [
              clock(e.time),
              `settled: ${e.outcome}`,
              `${e.buyer} → ${e.seller}`,
              kwh(e.paidWh),
              coins(e.paidMc),
            ],
      ),
  );
  fillRows(
    "loans",
    recent
      .filter((e) => e.kind === "loan")
      .map((e) => [clock(e.time), e.event, e.loanId.slice(0, 12), coins(e.amountMc)]),
  );
  const byStatus = l === null ? {} : l.loans.byStatus;
  fillKv("loans-kv", [
    [
      "by status",
      Object.entries(byStatus)
        .map(([k, n]) => `${k} ${n}`)
        .join(", ") || "none",
    ],
    ["outstanding", l === null ? "–" : `${coins(l.loans.outstandingMc)} coins`],
  ]);
  fillRows(
    "txs",
    Object.entries(l === null ? {} : l.transactions)
      .sort()
      .map(([k, n]) => [k, n]),
  );
}

function drawRefusals(s) {
  const rows = Object.entries(s.ingest.refused).map(([code, n]) => ["ingest", code, n]);
  for (const r of s.ledger?.refusals ?? []) rows.push([`ledger ${r.type}`, r.code, r.count]);
  rows.sort((a, b) => b[2] - a[2]);
  fillRows("refusals", rows);
}

function draw(s) {
  $("agg-id").textContent = s.id;
  document.title = `Gridlet ${s.id}`;
  const h = $("health");
  h.textContent = s.health.ok ? "healthy" : "failing";
  h.className = `badge ${s.health.ok ? "ok" : "bad"}`;
  $("health-reason").textContent = s.health.reason;
  $("broker-url").textContent = s.broker.url;
  $("uptime").textContent = duration(s.uptimeMs);
  const agents = s.agentsOnline;
  $("agents-count").textContent = agents === null ? "?" : String(agents.length);
  $("agents").textContent =
    agents === null ? "not known with an external broker" : agents.length === 0 ? "none" : agents.join(", ");
  fillKv("ingest-kv", [
    ["accepted", s.ingest.accepted],
    ["duplicates", s.ingest.duplicates],
    [
      "broker",
      `${s.broker.embedded ? "embedded" : "external"}, ${s.broker.connected ? "connected" : "DISCONNECTED"}`,
    ],
  ]);
  drawConsensus(s.ledger);
  const market = s.ledger?.market ?? null;
  drawMarket(market);
  const last = market?.intervals.at(-1);
  fillKv("market-kv", [
    ["last clearing price", market === null ? "–" : `${coins(market.lastClearingPriceMcPerKwh)} coins/kWh`],
    [
      "last interval",
      last === undefined
        ? "–"
        : `${last.interval}: ${last.orders} orders, ${last.trades} trades, ${kwh(last.volumeWh)} kWh`,
    ],
    ["open orders / trades", market === null ? "–" : `${market.openOrders} / ${market.openTrades}`],
    [
      "traded since start",
      market === null ? "–" : `${kwh(market.tradedWh)} kWh for ${coins(market.tradedMc)} coins`,
    ],
  ]);
  drawLedgerLists(s.ledger);
  drawRefusals(s);
  document.body.setAttribute("data-updated", String(s.at));
}

function connect() {
  const live = $("live");
  const source = new EventSource(withToken("api/events"));
  source.addEventListener("open", () => {
    live.textContent = "live";
    live.className = "badge ok";
  });
  source.addEventListener("error", () => {
    live.textContent = "reconnecting";
    live.className = "badge warn";
  });
  source.addEventListener("status", (ev) => draw(JSON.parse(ev.data)));
}

connect();
