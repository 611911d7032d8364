// Live host charts: uPlot, fed from /api/v1/hosts/{id}/samples, refreshed
// every 10 s and on range change. Times are shown in the browser's zone.
(function () {
  "use strict";
  let minutes = 60;
  const charts = [];
  // For tests and the curious: the live charts of this page.
  window.leitstandCharts = charts;

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

  async function load(c) {
    const el = c.el;
    const url = `/api/v1/hosts/${el.dataset.host}/samples?name=${encodeURIComponent(el.dataset.metric)}&minutes=${minutes}`;
    const resp = await fetch(url, { credentials: "same-origin" });
    if (!resp.ok) return;
    const { data, series } = build(el, await resp.json());
    el.classList.toggle("empty", data[0].length === 0);
    const key = series.map((s) => s.label).join("|");
    if (!c.plot || c.key !== key || c.minutes !== minutes) {
      if (c.plot) c.plot.destroy();
      const unit = el.dataset.unit || "";
      const tz = el.dataset.tz || undefined;
      const lang = document.documentElement.lang || "de";
      const short = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit", timeZone: tz });
      const long = new Intl.DateTimeFormat(lang, { day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit", timeZone: tz });
      c.plot = new uPlot({
        width: el.clientWidth || 600,
        height: 200,
        series,
        tzDate: (ts) => (tz ? uPlot.tzDate(new Date(ts * 1e3), tz) : new Date(ts * 1e3)),
        axes: [
          { values: (u, vals) => vals.map((v) => (minutes > 1440 ? long : short).format(new Date(v * 1000))) },
          { values: (u, vals) => vals.map((v) => v + (unit ? " " + unit : "")), size: 70 },
        ],
        scales: { x: { time: true } },
        legend: { show: series.length > 2 },
      }, data, el);
      c.key = key;
      c.minutes = minutes;
    } else {
      c.plot.setData(data);
    }
  }

  function refresh() {
    charts.forEach((c) => load(c).catch(() => {}));
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-chart]").forEach((el) => charts.push({ el, plot: null, key: "" }));
    document.querySelectorAll("[data-range]").forEach((b) => {
      b.addEventListener("click", () => {
        minutes = parseInt(b.dataset.range, 10);
        document.querySelectorAll("[data-range]").forEach((x) => x.setAttribute("aria-pressed", String(x === b)));
        refresh();
      });
    });
    window.addEventListener("resize", () => charts.forEach((c) => c.plot && c.plot.setSize({ width: c.el.clientWidth, height: 200 })));
    refresh();
    setInterval(refresh, 10000);
  });
})();
