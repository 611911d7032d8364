// Security dashboard: the newest alert activity arrives as server-sent
// events from /app/dashboard/live and is put at the top of the list; the
// figures of the tiles are fetched afresh from /api/v1/dashboard. No
// reload, no polling of the page.
(function () {
  "use strict";
  const list = document.getElementById("live");
  if (!list) return;
  const tenant = list.dataset.tenant;
  const q = tenant ? `?tenant=${encodeURIComponent(tenant)}` : "";
  window.leitstandDashboard = { events: 0, connected: false };

  function item(a) {
    const li = document.createElement("li");
    li.id = `live-${a.id}`;
    li.dataset.state = a.state;
    li.className = "fresh";
    const badge = document.createElement("span");
    badge.className = `badge sev-${a.severity}`;
    badge.textContent = a.severity_label;
    const link = document.createElement("a");
    link.href = `/app/alerts/${a.id}`;
    link.textContent = a.title;
    const rest = document.createElement("span");
    rest.className = "muted";
    rest.textContent = ` · ${a.state_label} · ${a.at}`;
    li.append(badge, " ", link, ` · ${a.host} `, rest);
    return li;
  }

  async function refreshTiles() {
    try {
      const r = await fetch(`/api/v1/dashboard${q}`, { credentials: "same-origin" });
      if (!r.ok) return;
      const d = await r.json();
      const set = (key, n) => {
        const el = document.querySelector(`[data-tile="${key}"] .tile-figure`);
        if (el) el.textContent = new Intl.NumberFormat(document.documentElement.lang || "de").format(n);
      };
      for (const [sev, n] of Object.entries(d.open)) set(sev, n);
      set("flagged", d.flagged);
      set("down", d.hosts_down);
    } catch (_) { /* the next event tries again */ }
  }

  const es = new EventSource(`/app/dashboard/live${q}`);
  es.onopen = () => {
    window.leitstandDashboard.connected = true;
    document.getElementById("live-state")?.classList.add("on");
  };
  es.onerror = () => document.getElementById("live-state")?.classList.remove("on");
  es.addEventListener("alert", (e) => {
    const a = JSON.parse(e.data);
    window.leitstandDashboard.events += 1;
    document.getElementById(`live-${a.id}`)?.remove();
    document.getElementById("live-empty")?.remove();
    list.prepend(item(a));
    while (list.children.length > 20) list.lastElementChild.remove();
    refreshTiles();
  });
})();
