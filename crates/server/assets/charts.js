// Host charts: uPlot, fed from /api/v1/hosts/{id}/history (raw samples for
// short ranges, rollups for long ones) and kept live by server-sent events
// from /api/v1/hosts/{id}/live: each event appends the new points, no
// polling, no reload. Times are shown in the tenant's zone.
(function () {
  "use strict";
  // The range shown: the last `minutes`, or a fixed `from`–`to`.
  let range = { minutes: 60 };
  const charts = [];
  // For tests and the curious: the charts and the live events seen.
  window.leitstandCharts = charts;
  window.leitstandLive = { events: 0, connected: false };

  function seriesKey(labels, by) {
    if (by === "*") {
      return Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(", ");
    }
    return by ? (labels[by] || "") : "";
  }

  function build(el, rows) {
    const filter = el.dataset.filter ? el.dataset.filter.split("=") : null;
    const by = el.dataset.series || "";
    const groups = new Map();
    for (const r of rows) {
      if (filter && r.labels[filter[0]] !== filter[1]) continue;
      const key = seriesKey(r.labels, by);
      if (!groups.has(key)) groups.set(key, new Map());
      groups.get(key).set(Math.round(Date.parse(r.at) / 1000), r.value);
    }
    const xs = [...new Set([...groups.values()].flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
    const data = [xs];
    const series = [{}];
    const colours = ["#0e7c86", "#e0a100", "#6b4fbb", "#b42318", "#1f7a3f", "#5b6775"];
    let i = 0;
    for (const [key, m] of groups) {
      data.push(xs.map((x) => (m.has(x) ? m.get(x) : null)));
      series.push({ label: key || el.dataset.metric, stroke: colours[i++ % colours.length], width: 2, spanGaps: false });
    }
    return { data, series };
  }

  function spanMinutes() {
    return range.minutes || (Date.parse(range.to) - Date.parse(range.from)) / 60000;
  }

  function query(el, from, to) {
    const q = new URLSearchParams({ name: el.dataset.metric });
    if (from) {
      q.set("from", from);
      q.set("to", to);
    } else {
      q.set("minutes", String(range.minutes));
    }
    return `/api/v1/hosts/${el.dataset.host}/history?${q}`;
  }

  function draw(c) {
    const el = c.el;
    const { data, series } = build(el, c.rows);
    el.classList.toggle("empty", data[0].length === 0);
    const key = series.map((s) => s.label).join("|") + "@" + spanMinutes();
    if (!c.plot || c.key !== key) {
      if (c.plot) c.plot.destroy();
      const unit = el.dataset.unit || "";
      const tz = el.dataset.tz || undefined;
      const lang = document.documentElement.lang || "de";
      const short = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit", timeZone: tz });
      const long = new Intl.DateTimeFormat(lang, { day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit", timeZone: tz });
      const wide = spanMinutes() > 1440;
      c.plot = new uPlot({
        width: el.clientWidth || 600,
        height: 200,
        series,
        tzDate: (ts) => (tz ? uPlot.tzDate(new Date(ts * 1e3), tz) : new Date(ts * 1e3)),
        axes: [
          { values: (u, vals) => vals.map((v) => (wide ? long : short).format(new Date(v * 1000))) },
          { values: (u, vals) => vals.map((v) => v + (unit ? " " + unit : "")), size: 70 },
        ],
        scales: { x: { time: true } },
        legend: { show: series.length > 2 },
      }, data, el);
      c.key = key;
    } else {
      c.plot.setData(data);
    }
  }

  function showResolution(res) {
    const p = document.getElementById("chart-resolution");
    if (p && res) p.textContent = p.dataset[res] || "";
  }

  async function load(c) {
    const resp = await fetch(query(c.el, range.from, range.to), { credentials: "same-origin" });
    if (!resp.ok) return;
    const h = await resp.json();
    c.rows = h.points;
    c.resolution = h.resolution;
    showResolution(h.resolution);
    draw(c);
  }

  // New raw points since the newest shown, appended; old ones drop out.
  async function extend(c) {
    const last = c.rows.length ? Date.parse(c.rows[c.rows.length - 1].at) : Date.now() - range.minutes * 60000;
    const from = new Date(last + 1).toISOString();
    const to = new Date(Date.now() + 60000).toISOString();
    const resp = await fetch(query(c.el, from, to), { credentials: "same-origin" });
    if (!resp.ok) return;
    const h = await resp.json();
    const cutoff = Date.now() - range.minutes * 60000;
    c.rows = c.rows.filter((r) => Date.parse(r.at) >= cutoff).concat(h.points);
    draw(c);
  }

  function refresh() {
    charts.forEach((c) => load(c).catch(() => {}));
  }

  let lastReload = 0;
  function onHost(ev) {
    window.leitstandLive.events++;
    const h = JSON.parse(ev.data);
    const lang = document.documentElement.lang || "de";
    const tz = (charts[0] && charts[0].el.dataset.tz) || undefined;
    const fmt = new Intl.DateTimeFormat(lang, { day: "2-digit", month: "2-digit", year: "numeric", hour: "2-digit", minute: "2-digit", timeZone: tz });
    const pct = (v) => (v == null ? "–" : `${Math.round(v)} %`);
    const seen = document.getElementById("host-last-seen");
    if (seen && h.last_seen) seen.textContent = fmt.format(new Date(h.last_seen));
    const figures = document.getElementById("host-figures");
    if (figures) figures.textContent = `${pct(h.cpu_percent)} / ${pct(h.mem_percent)} / ${pct(h.disk_percent)}`;
    if (range.from) return; // a fixed range does not move
    if (range.minutes <= 360) {
      charts.forEach((c) => extend(c).catch(() => {}));
    } else if (Date.now() - lastReload > 60000) {
      lastReload = Date.now();
      refresh();
    }
  }

  function connect(url) {
    const es = new EventSource(url);
    es.addEventListener("open", () => { window.leitstandLive.connected = true; });
    es.addEventListener("error", () => { window.leitstandLive.connected = false; });
    es.addEventListener("host", onHost);
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-chart]").forEach((el) => charts.push({ el, plot: null, key: "", rows: [] }));
    document.querySelectorAll("[data-range]").forEach((b) => {
      b.addEventListener("click", () => {
        range = { minutes: parseInt(b.dataset.range, 10) };
        document.querySelectorAll("[data-range]").forEach((x) => x.setAttribute("aria-pressed", String(x === b)));
        refresh();
      });
    });
    const custom = document.getElementById("range-custom");
    if (custom) {
      custom.addEventListener("submit", (e) => {
        e.preventDefault();
        const from = new Date(custom.elements.from.value);
        const to = new Date(custom.elements.to.value);
        if (isNaN(from) || isNaN(to) || to <= from) return;
        range = { from: from.toISOString(), to: to.toISOString() };
        document.querySelectorAll("[data-range]").forEach((x) => x.setAttribute("aria-pressed", "false"));
        refresh();
      });
    }
    window.addEventListener("resize", () => charts.forEach((c) => c.plot && c.plot.setSize({ width: c.el.clientWidth, height: 200 })));
    refresh();
    const live = document.querySelector("[data-live]");
    if (live) connect(live.dataset.live);
  });
})();
