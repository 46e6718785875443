/* City Data Hub dashboard: a client of the public API (/api/v1), nothing more.
 *
 * The API key is asked once and kept in sessionStorage (this tab only); `cityhub demo` passes
 * it in the URL fragment (#key=...), which browsers never send to a server, and the page
 * removes it from the address bar at once. Every request carries it as an X-API-Key header.
 * Times are shown in the browser's zone; "today" is the hub's UTC day, said so on the page.
 */
"use strict";

(() => {
  const KEY_STORE = "cityhub.apiKey";
  const REFRESH_MS = 30000;
  const config = JSON.parse(document.body.dataset.uiConfig || "{}");
  const state = { key: null, role: null, view: null, timer: null, cleanup: [], metrics: null, sorts: {} };
  const $ = (selector) => document.querySelector(selector);

  // ---- small DOM helpers -------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const numberFormats = {};
  function num(value, digits = 1) {
    if (value === null || value === undefined || Number.isNaN(value)) return "–";
    numberFormats[digits] ??= new Intl.NumberFormat(undefined, {
      minimumFractionDigits: digits, maximumFractionDigits: digits,
    });
    return numberFormats[digits].format(value);
  }
  const withUnit = (value, unit, digits = 1) =>
    value === null || value === undefined ? "–" : `${num(value, digits)} ${unit}`;
  const timeFormat = new Intl.DateTimeFormat(undefined, {
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
    month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
  });
  function localTime(iso, withDate = true) {
    if (!iso) return "–";
    const date = new Date(iso);
    const sameDay = date.toDateString() === new Date().toDateString();
    return (withDate && !sameDay ? dateTimeFormat : timeFormat).format(date);
  }
  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
    return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
  }
  function utcDayStart() {
    const now = new Date();
    return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  }
  function zoneNote() {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    const offset = -new Date().getTimezoneOffset();
    const sign = offset >= 0 ? "+" : "−";
    const hhmm = `${String(Math.floor(Math.abs(offset) / 60)).padStart(2, "0")}:${String(Math.abs(offset) % 60).padStart(2, "0")}`;
    return `Times in your zone (${zone}, UTC${sign}${hhmm}). "Today" is the UTC day, ` +
      `which began at ${timeFormat.format(utcDayStart())} your time.`;
  }

  // ---- the API -----------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, detail, path) {
      super(`${path}: ${status ? `HTTP ${status}` : "no answer"}${detail ? ` (${detail})` : ""}`);
      this.status = status;
      this.detail = detail;
    }
  }

  async function request(path, params, { accept = "application/json", key = state.key } = {}) {
    const url = new URL(path, location.origin);
    for (const [name, value] of Object.entries(params || {})) {
      if (value !== null && value !== undefined) url.searchParams.set(name, value);
    }
    const headers = { Accept: accept };
    if (key) headers["X-API-Key"] = key;
    let response;
    try {
      response = await fetch(url, { headers, cache: "no-store" });
    } catch (error) {
      throw new ApiError(0, "the hub did not answer", url.pathname);
    }
    if (!response.ok) {
      let detail = "";
      try {
        const body = await response.json();
        detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail ?? body);
      } catch (_) { /* not JSON */ }
      throw new ApiError(response.status, detail, url.pathname);
    }
    return accept === "application/json" ? response.json() : response.text();
  }

  async function api(path, params, options) {
    try {
      return await request(`/api/v1/${path}`, params, options);
    } catch (error) {
      if (error.status === 401) signOut(`The hub refused the key: ${error.detail}`);
      throw error;
    }
  }

  // ---- banner, last updated, readiness -----------------------------------------------------
  const failures = new Map();
  function showFailures() {
    const banner = $("#banner");
    const messages = [...failures.values()];
    banner.hidden = messages.length === 0;
    banner.textContent = messages.join(" · ");
  }
  function fail(source, message) { failures.set(source, message); showFailures(); }
  function clear(source) { failures.delete(source); showFailures(); }

  async function checkReady() {
    try {
      const response = await fetch("/ready", { cache: "no-store" });
      if (response.ok) return clear("ready");
      const body = await response.json().catch(() => ({}));
      const failing = Object.entries(body.checks || {})
        .filter(([, ok]) => ok !== true && ok !== "ok")
        .map(([name, value]) => `${name}: ${value}`);
      fail("ready", `The hub is not ready${failing.length ? ` (${failing.join(", ")})` : ""}: data may be missing or old.`);
    } catch (_) {
      fail("ready", "The hub does not answer: the numbers shown are the last ones received.");
    }
  }

  function markUpdated() {
    $("#updated").textContent = `Updated ${timeFormat.format(new Date())}`;
    $("#updated").dataset.at = new Date().toISOString();
  }

  // ---- sign-in -----------------------------------------------------------------------------
  function showSignIn(message) {
    $("#nav").hidden = true;
    $("#signout").hidden = true;
    $("#refresh").hidden = true;
    $("#role").textContent = "";
    $("#view").replaceChildren();
    $("#signin").hidden = false;
    const error = $("#signin-error");
    error.hidden = !message;
    error.textContent = message || "";
    $("#key").focus();
  }

  function signOut(message) {
    sessionStorage.removeItem(KEY_STORE);
    state.key = null;
    state.role = null;
    stopTimer();
    showSignIn(message);
  }

  async function signIn(key) {
    // Any read endpoint tells a valid key from a wrong one; an admin endpoint then tells the
    // role (403 for a read key). With CITYHUB_API__OPEN both answer without a key.
    try {
      await request("/api/v1/city/overview", null, { key });
    } catch (error) {
      if (error.status === 401) {
        return showSignIn(key
          ? `This API key was refused by the hub (${error.detail}). Check the key: it must be one of CITYHUB_API__READ_KEYS or CITYHUB_API__ADMIN_KEYS.`
          : null);
      }
      return showSignIn(`The hub could not check the key: ${error.message}`);
    }
    let role = "read";
    try {
      await request("/api/v1/dead-letters/counts", null, { key });
      role = "admin";
    } catch (error) {
      if (error.status !== 403) role = "read";
    }
    state.key = key;
    state.role = key ? role : "open";
    if (key) sessionStorage.setItem(KEY_STORE, key);
    $("#signin").hidden = true;
    $("#nav").hidden = false;
    $("#signout").hidden = !key;
    $("#refresh").hidden = false;
    $("#role").textContent = { admin: "admin key", read: "read key", open: "open API" }[state.role];
    document.querySelectorAll("[data-admin]").forEach((link) => {
      link.hidden = !(state.role === "admin" || state.role === "open");
    });
    route();
  }

  // ---- views and routing -------------------------------------------------------------------
  const views = {};
  function stopTimer() {
    if (state.timer) clearInterval(state.timer);
    state.timer = null;
    for (const dispose of state.cleanup.splice(0)) dispose();
  }

  async function show(name) {
    stopTimer();
    const view = views[name];
    state.view = name;
    document.querySelectorAll("#nav a").forEach((link) => {
      if (link.dataset.view === name) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    });
    const root = $("#view");
    root.replaceChildren();
    root.dataset.view = name;
    root.dataset.loaded = "false";
    document.title = `${view.title} · City Data Hub`;
    const context = view.build(root);
    const refresh = async () => {
      try {
        await view.refresh(context);
        clear("request");
        markUpdated();
      } catch (error) {
        if (error.status !== 401) fail("request", `A request failed: ${error.message}`);
      } finally {
        if (state.view === name) root.dataset.loaded = "true";
      }
      checkReady();
    };
    state.refresh = refresh;
    await refresh();
    if (state.view === name && view.live !== false) state.timer = setInterval(refresh, REFRESH_MS);
  }

  function route() {
    if (!state.role) return;
    let name = location.hash.replace(/^#\/?/, "") || "city";
    if (!views[name] || (views[name].admin && !["admin", "open"].includes(state.role))) {
      name = "city";
      history.replaceState(null, "", "#/city");
    }
    show(name);
  }

  // ---- shared widgets ----------------------------------------------------------------------
  function card(label, value, sub, metric, bad = false) {
    return el("div", { class: bad ? "card bad" : "card" },
      el("div", { class: "label" }, label),
      el("div", { class: "value", "data-metric": metric }, value),
      el("div", { class: "sub" }, sub || ""));
  }

  function sortableTable(columns, rows, options = {}) {
    // columns: [{key, label, num, format(row)}]; sorting by a header button (keyboard reachable).
    // The chosen order outlives the 30 s refresh that redraws the table.
    const remembered = state.sorts[options.name] || {};
    let sortKey = remembered.sortKey || options.sortKey || columns[0].key;
    let descending = remembered.descending ?? options.descending ?? false;
    const table = el("table", { "data-table": options.name });
    const tbody = el("tbody");
    const header = el("tr");
    function render() {
      const sorted = [...rows].sort((a, b) => {
        const x = a[sortKey], y = b[sortKey];
        const order = x === y ? 0 : x === null || x === undefined ? 1
          : y === null || y === undefined ? -1 : x < y ? -1 : 1;
        return descending ? -order : order;
      });
      header.querySelectorAll("th").forEach((th) => {
        th.setAttribute("aria-sort", th.dataset.key === sortKey ? (descending ? "descending" : "ascending") : "none");
      });
      if (rows.length === 0) return;
      tbody.replaceChildren(...sorted.map((row) => {
        const tr = el("tr", options.rowAttrs ? options.rowAttrs(row) : {},
          columns.map((c) => el("td", { class: c.num ? "num" : null, "data-col": c.key },
            c.format ? c.format(row) : row[c.key] ?? "–")));
        if (options.onSelect) {
          tr.classList.add("selectable");
          tr.tabIndex = 0;
          tr.addEventListener("click", () => options.onSelect(row, tr));
          tr.addEventListener("keydown", (event) => {
            if (event.key === "Enter" || event.key === " ") {
              event.preventDefault();
              options.onSelect(row, tr);
            }
          });
        }
        return tr;
      }));
    }
    for (const column of columns) {
      header.append(el("th", { class: column.num ? "num" : null, "data-key": column.key, scope: "col" },
        options.sortable === false ? column.label : el("button", {
          type: "button",
          onclick: () => {
            descending = sortKey === column.key ? !descending : !!column.num;
            sortKey = column.key;
            state.sorts[options.name] = { sortKey, descending };
            render();
          },
        }, column.label)));
    }
    table.append(el("thead", {}, header), tbody);
    if (rows.length === 0) tbody.append(el("tr", {}, el("td", { colspan: columns.length, class: "muted" }, options.empty || "nothing to show")));
    render();
    return table;
  }

  function download(filename, text) {
    const url = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
    const link = el("a", { href: url, download: filename });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  function chartWidth(container) {
    return Math.max(280, Math.floor(container.getBoundingClientRect().width) - 8);
  }

  // ---- City now ----------------------------------------------------------------------------
  views.city = {
    title: "City now",
    build(root) {
      const cards = el("div", { class: "cards" });
      root.append(el("h2", {}, "City now"), cards,
        el("p", { class: "muted" }, "Power is the sum of the meters that reported recently; energy and CO₂ count from the start of the UTC day."));
      return { cards };
    },
    async refresh({ cards }) {
      const dayStart = utcDayStart().toISOString();
      const [overview, comparison, carbon] = await Promise.all([
        api("city/overview"),
        api("city/comparison", { start: dayStart, end: "now" }),
        api("city/carbon", { start: dayStart, end: "now" }),
      ]);
      const b = overview.buildings, c = overview.chargers, bus = overview.buses, d = overview.devices;
      const today = (carbon.days || []).find((day) => day.day === dayStart.slice(0, 10));
      const change = comparison.change_pct;
      const statuses = Object.entries(c.by_status);
      cards.replaceChildren(
        card("Power now", withUnit(b.power_w / 1000, "kW"), `${b.meters_reporting} of ${b.meters} meters reporting`, "power-now"),
        card("Energy today", withUnit(b.energy_today_kwh, "kWh"),
          comparison.previous_kwh === null ? "same time last week: no data"
            : `same time last week: ${withUnit(comparison.previous_kwh, "kWh")} (${change >= 0 ? "+" : ""}${num(change, 1)} %)`,
          "energy-today"),
        el("div", { class: c.faulted ? "card bad" : "card" },
          el("div", { class: "label" }, `Connectors (${c.connectors})`),
          el("ul", { class: "statuses", "data-metric": "connectors-by-status" },
            statuses.length ? statuses.map(([status, count]) =>
              el("li", { "data-status": status }, el("span", { class: `pill ${status}` }, status), " ", el("b", {}, count)))
              : el("li", {}, "none reported")),
          el("div", { class: "sub" }, `charged today ${withUnit(c.energy_today_kwh, "kWh")}`)),
        card("Buses reporting", `${bus.reporting} of ${bus.vehicles}`, `${bus.stale} stale, ${bus.routes} routes`, "buses-reporting"),
        card("Stale devices", `${d.stale}`, `of ${d.registered} registered, ${d.seen} seen`, "stale-devices", d.stale > 0),
        card("CO₂ today", withUnit(today ? today.total_co2_kg : 0, "kg"),
          today ? `electricity ${withUnit(today.electricity_co2_kg, "kg")}, buses ${withUnit(today.bus_co2_kg, "kg")}` : "", "co2-today"),
      );
    },
  };

  // ---- Buildings ---------------------------------------------------------------------------
  views.buildings = {
    title: "Buildings",
    build(root) {
      const list = el("div", { class: "panel" });
      const detail = el("div", { class: "panel", id: "building-detail" },
        el("p", { class: "muted" }, "Choose a building (click, or Enter on a row) for its hourly energy."));
      const csv = el("button", {
        type: "button", class: "btn secondary",
        onclick: async () => {
          try {
            download(`buildings-${new Date().toISOString().slice(0, 10)}.csv`, await api("buildings", { format: "csv" }, { accept: "text/csv" }));
          } catch (error) { fail("request", `CSV download failed: ${error.message}`); }
        },
      }, "Download CSV");
      root.append(el("div", { class: "toolbar" }, el("h2", {}, "Buildings"), csv), el("div", { class: "split" }, list, detail));
      const context = { list, detail, selected: null, chart: null };
      state.cleanup.push(() => context.chart && context.chart.destroy());
      return context;
    },
    async refresh(context) {
      const answer = await api("buildings");
      const rows = answer.buildings.map((row) => ({ ...row, power_kw: row.power_w === null ? null : row.power_w / 1000 }));
      context.list.replaceChildren(
        el("p", { class: "muted", "data-metric": "buildings-count" }, `${rows.length} buildings`),
        sortableTable([
          { key: "building", label: "Building" },
          { key: "district", label: "District" },
          { key: "power_kw", label: "Power (kW)", num: true, format: (r) => num(r.power_kw) },
          { key: "energy_today_kwh", label: "Today (kWh)", num: true, format: (r) => num(r.energy_today_kwh) },
          { key: "as_of", label: "As of", format: (r) => localTime(r.as_of) },
        ], rows, {
          name: "buildings",
          rowAttrs: (r) => ({ "data-building": r.building, class: r.stale ? "stale" : null, "aria-selected": r.building === context.selected ? "true" : null }),
          onSelect: (row, tr) => {
            context.list.querySelectorAll("tr[aria-selected]").forEach((n) => n.removeAttribute("aria-selected"));
            tr.setAttribute("aria-selected", "true");
            context.selected = row.building;
            loadBuilding(context).catch((error) => fail("request", `A request failed: ${error.message}`));
          },
        }));
      if (context.selected) await loadBuilding(context);
    },
  };

  async function loadBuilding(context) {
    const id = context.selected;
    const path = `buildings/${encodeURIComponent(id)}`;
    const [energy, peak, comparison] = await Promise.all([
      api(`${path}/energy`, { every: "1h", start: "-24h" }),
      api(`${path}/peak`, { start: "-24h", window: "15m" }),
      api(`${path}/comparison`, { start: utcDayStart().toISOString(), end: "now" }),
    ]);
    if (context.selected !== id) return;
    const chartBox = el("div", { class: "chart", role: "img", "aria-label": `Energy per hour of ${id}, last 24 hours` });
    const change = comparison.change_pct;
    context.detail.replaceChildren(
      el("h3", {}, `${id}: energy per hour, last 24 h`),
      el("p", {},
        "Peak demand: ", el("b", { "data-metric": "building-peak" }, withUnit(peak.peak_kw, "kW")),
        peak.time ? ` (15 min from ${localTime(peak.time)})` : "", " · Total: ", el("b", {}, withUnit(energy.total_kwh, "kWh"))),
      el("p", { "data-metric": "building-comparison" },
        "Today so far ", el("b", {}, withUnit(comparison.current_kwh, "kWh")), ", same time last week ",
        el("b", {}, withUnit(comparison.previous_kwh, "kWh")),
        change === null || change === undefined ? "" : ` (${change >= 0 ? "+" : ""}${num(change)} %)`),
      chartBox);
    if (context.chart) context.chart.destroy();
    const xs = energy.windows.map((w) => Date.parse(w.time) / 1000);
    const ys = energy.windows.map((w) => w.energy_kwh);
    const peakAt = peak.time ? Date.parse(peak.time) / 1000 : null;
    context.chart = new uPlot({
      width: chartWidth(context.detail), height: 240,
      series: [{}, { label: "Energy (kWh)", stroke: "#0b5cad", fill: "rgba(11,92,173,.25)", paths: uPlot.paths.bars({ size: [0.8, 40], align: 1 }), points: { show: false } }],
      axes: [{}, { label: "kWh", size: 60 }],
      scales: { x: { time: true } },
      legend: { show: true },
      hooks: {
        draw: [(u) => {
          if (peakAt === null) return;
          const x = u.valToPos(peakAt, "x", true);
          const { ctx } = u;
          ctx.save();
          ctx.strokeStyle = "#b3261e";
          ctx.lineWidth = 2 * devicePixelRatio;
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
          ctx.fillStyle = "#b3261e";
          ctx.font = `${12 * devicePixelRatio}px system-ui, sans-serif`;
          ctx.fillText(`peak ${num(peak.peak_kw)} kW`, x + 4 * devicePixelRatio, u.bbox.top + 14 * devicePixelRatio);
          ctx.restore();
        }],
      },
    }, [xs, ys], chartBox);
  }

  // ---- Chargers ----------------------------------------------------------------------------
  views.chargers = {
    title: "Chargers",
    build(root) {
      const board = el("div", { class: "panel" });
      const utilization = el("div", { class: "panel" });
      const sessions = el("div", { class: "panel" });
      root.append(el("h2", {}, "Chargers"), board, el("div", { class: "split" }, utilization, sessions));
      return { board, utilization, sessions };
    },
    async refresh({ board, utilization, sessions }) {
      const dayStart = utcDayStart().toISOString();
      const [status, use, today] = await Promise.all([
        api("chargers/status"),
        api("chargers/utilization", { every: "1d", start: dayStart, end: "now" }),
        api("chargers/sessions", { start: dayStart, end: "now" }),
      ]);
      const now = Date.now();
      const connectors = status.connectors.map((row) => ({
        ...row, faulted: row.status === "Faulted" ? 0 : 1,
        for_s: row.since ? (now - Date.parse(row.since)) / 1000 : null,
      }));
      board.replaceChildren(
        el("h3", {}, "Status board"),
        el("p", { class: "muted", "data-metric": "connector-counts" },
          Object.entries(status.counts).map(([s, n]) => `${s}: ${n}`).join(" · ") || "no connector reported"),
        sortableTable([
          { key: "device", label: "Charge point" },
          { key: "site", label: "Site" },
          { key: "connector", label: "Connector" },
          { key: "status", label: "Status", format: (r) => el("span", { class: `pill ${r.status}` }, r.status) },
          { key: "error_code", label: "Error code", format: (r) => r.error_code && r.error_code !== "NoError" ? r.error_code : "–" },
          { key: "since", label: "Since", format: (r) => `${localTime(r.since)}${r.since_exact ? "" : " or earlier"}` },
          { key: "for_s", label: "For", num: true, format: (r) => duration(r.for_s) },
        ], connectors, {
          name: "status", sortKey: "faulted",
          rowAttrs: (r) => ({ class: r.status === "Faulted" ? "faulted" : null, "data-status": r.status }),
        }));
      const shares = use.windows.filter((w) => w.time.slice(0, 10) === dayStart.slice(0, 10));
      utilization.replaceChildren(el("h3", {}, "Utilization today (share of time charging)"),
        shares.length ? el("div", { class: "bars" }, shares.map((w) => el("div", { class: "bar" },
          el("span", {}, w.site),
          el("span", { class: "track", role: "img", "aria-label": `${w.site} ${num(100 * w.charging_share)} %` },
            el("span", { class: "fill", style: `display:block;width:${Math.min(100, 100 * w.charging_share)}%` })),
          el("span", { class: "num" }, `${num(100 * w.charging_share)} %`))))
          : el("p", { class: "muted" }, "No status reports today."));
      const rows = today.sessions.map((s) => ({ ...s, sort_time: s.start || s.end }));
      sessions.replaceChildren(el("h3", {}, `Sessions today (${rows.length})`),
        sortableTable([
          { key: "device", label: "Charge point" },
          { key: "sort_time", label: "Start", format: (r) => (r.start ? localTime(r.start) : "before the period") },
          { key: "end", label: "End", format: (r) => (r.ongoing ? "charging" : localTime(r.end)) },
          { key: "duration_s", label: "Duration", num: true, format: (r) => duration(r.duration_s) },
          { key: "energy_kwh", label: "Energy (kWh)", num: true, format: (r) => num(r.energy_kwh, 2) },
          { key: "stop_reason", label: "Stop reason" },
        ], rows, { name: "sessions", sortKey: "sort_time", descending: true }));
    },
  };

  // ---- Buses -------------------------------------------------------------------------------
  const PALETTE = ["#0b5cad", "#c2410c", "#15803d", "#7e22ce", "#b91c1c", "#0e7490", "#a16207", "#be185d", "#4d7c0f", "#1d4ed8"];
  views.buses = {
    title: "Buses",
    build(root) {
      const mapBox = el("div", { id: "bus-map", role: "application", "aria-label": "Map of bus positions" });
      const colourBy = el("select", { id: "colour-by" },
        el("option", { value: "route" }, "route"), el("option", { value: "staleness" }, "staleness"));
      const legend = el("div", { class: "legend" });
      const list = el("div", { class: "panel" });
      const speed = el("div", { class: "panel" });
      const info = el("p", { class: "muted", id: "track-info" }, "Choose a vehicle (on the map or in the list) for its track: the 30 min up to its last fix.");
      root.append(el("div", { class: "toolbar" }, el("h2", {}, "Buses"),
        el("label", { for: "colour-by" }, "Colour by"), colourBy),
      el("div", { class: "panel" }, mapBox, legend, info), el("div", { class: "split" }, list, speed));
      const map = L.map(mapBox, { zoomControl: true, attributionControl: !!config.tile_url, preferCanvas: true });
      if (config.tile_url) {
        L.tileLayer(config.tile_url, { attribution: config.tile_attribution || "", maxZoom: 19 }).addTo(map);
      }
      map.setView([0, 0], 2);
      const context = { map, mapBox, colourBy, legend, list, speed, info, layer: L.layerGroup().addTo(map), routes: L.layerGroup().addTo(map), track: L.layerGroup().addTo(map), fitted: false, data: null, routesDrawn: false };
      colourBy.addEventListener("change", () => context.data && drawBuses(context));
      // Stop any zoom in flight first: removing a map mid-animation throws from Leaflet's frame.
      state.cleanup.push(() => { map.stop(); map.remove(); });
      return context;
    },
    async refresh(context) {
      const [positions, speed] = await Promise.all([
        api("buses/positions"),
        api("buses/speed", { every: "1h", start: "-3h" }),
      ]);
      context.data = positions;
      drawBuses(context);
      const latest = {};
      for (const w of speed.windows) if (!latest[w.route] || latest[w.route].time < w.time) latest[w.route] = w;
      context.speed.replaceChildren(el("h3", {}, "Mean speed per route (latest hour with fixes, last 3 h)"),
        sortableTable([
          { key: "route", label: "Route" },
          { key: "mean_speed_kmh", label: "Speed (km/h)", num: true, format: (r) => num(r.mean_speed_kmh) },
          { key: "time", label: "Hour from", format: (r) => localTime(r.time) },
        ], Object.values(latest), { name: "speed" }));
      if (!context.routesDrawn) {
        context.routesDrawn = true;
        await drawRouteLines(context, positions);
      }
    },
  };

  function routeColours(features) {
    const routes = [...new Set(features.map((f) => f.properties.route || "?"))].sort();
    return Object.fromEntries(routes.map((r, i) => [r, PALETTE[i % PALETTE.length]]));
  }

  function busColour(context, properties, colours) {
    if (context.colourBy.value === "staleness") return properties.stale ? "#8a5a00" : "#15803d";
    return colours[properties.route || "?"];
  }

  function drawBuses(context) {
    const features = context.data.features.filter((f) => f.geometry);
    const colours = routeColours(features);
    context.layer.clearLayers();
    for (const feature of features) {
      const [lon, lat] = feature.geometry.coordinates;
      const p = feature.properties;
      const marker = L.circleMarker([lat, lon], {
        radius: 7, weight: 2, color: "#fff", fillOpacity: p.stale ? 0.5 : 0.95, fillColor: busColour(context, p, colours),
      }).bindTooltip(`${p.vehicle} · route ${p.route} · ${withUnit(p.speed_mps === null ? null : p.speed_mps * 3.6, "km/h")} · ${duration(p.age_s)} ago`);
      marker.on("click", () => showTrack(context, p, colours[p.route || "?"]));
      marker.addTo(context.layer);
    }
    if (!context.fitted && features.length) {
      context.map.fitBounds(L.latLngBounds(features.map((f) => [f.geometry.coordinates[1], f.geometry.coordinates[0]])).pad(0.2), { animate: false });
      context.fitted = true;
    }
    context.legend.replaceChildren(...(context.colourBy.value === "staleness"
      ? [["fresh", "#15803d"], ["stale (no recent fix)", "#8a5a00"]]
      : Object.entries(colours).map(([route, colour]) => [`route ${route}`, colour]))
      .map(([label, colour]) => el("span", {}, el("span", { class: "swatch", style: `background:${colour}` }), label)));
    const rows = features.map((f) => ({ ...f.properties, speed_kmh: f.properties.speed_mps === null ? null : f.properties.speed_mps * 3.6 }));
    const reporting = rows.filter((r) => !r.stale).length;
    context.list.replaceChildren(el("h3", {}, "Vehicles"),
      el("p", { class: "muted", "data-metric": "buses-reporting" }, `${reporting} of ${rows.length} reporting`),
      sortableTable([
        { key: "vehicle", label: "Vehicle" },
        { key: "route", label: "Route" },
        { key: "speed_kmh", label: "Speed (km/h)", num: true, format: (r) => num(r.speed_kmh) },
        { key: "age_s", label: "Last fix", num: true, format: (r) => `${duration(r.age_s)} ago` },
      ], rows, {
        name: "vehicles",
        rowAttrs: (r) => ({ class: r.stale ? "stale" : null, "data-vehicle": r.vehicle }),
        onSelect: (row) => showTrack(context, row, colours[row.route || "?"]),
      }));
  }

  async function drawRouteLines(context, positions) {
    // Without map tiles the city is drawn from its own data: each vehicle's recent path, faint,
    // in its route's colour, traces the route network under the live positions.
    const features = positions.features.filter((f) => f.geometry).slice(0, 40);
    const colours = routeColours(positions.features.filter((f) => f.geometry));
    const tracks = await Promise.all(features.map((f) =>
      api(`buses/${encodeURIComponent(f.properties.vehicle)}/track`, trackPeriod(f.properties, 20)).catch(() => null)));
    for (const [i, track] of tracks.entries()) {
      if (!track || !track.geometry) continue;
      L.polyline(track.geometry.coordinates.map(([lon, lat]) => [lat, lon]), {
        color: colours[features[i].properties.route || "?"], weight: 3, opacity: 0.3, interactive: false,
      }).addTo(context.routes);
    }
  }

  function trackPeriod(properties, minutes) {
    // The minutes up to the vehicle's last fix: a bus parked for the night still shows where
    // it came from.
    const end = Date.parse(properties.time);
    return { start: new Date(end - minutes * 60000).toISOString(), end: new Date(end + 1000).toISOString() };
  }

  async function showTrack(context, properties, colour) {
    const vehicle = properties.vehicle;
    try {
      const track = await api(`buses/${encodeURIComponent(vehicle)}/track`, trackPeriod(properties, 30));
      context.track.clearLayers();
      if (!track.geometry) {
        context.info.textContent = `${vehicle}: fewer than two fixes in the 30 min before its last fix.`;
        return;
      }
      const line = L.polyline(track.geometry.coordinates.map(([lon, lat]) => [lat, lon]), { color: colour || "#000", weight: 5 });
      line.addTo(context.track);
      context.map.fitBounds(line.getBounds().pad(0.3), { animate: false });
      const p = track.properties || {};
      context.info.textContent = `${vehicle}: ${withUnit((p.distance_m ?? 0) / 1000, "km", 2)} in the 30 min to its last fix at ${localTime(properties.time)} (${p.points ?? track.geometry.coordinates.length} fixes).`;
    } catch (error) {
      fail("request", `A request failed: ${error.message}`);
    }
  }

  // ---- Data health (admin) -----------------------------------------------------------------
  function parseMetrics(text) {
    const sums = { messages: 0, points: 0 };
    for (const line of text.split("\n")) {
      const match = /^(cityhub_messages_total|cityhub_points_written_total)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
      if (match) sums[match[1] === "cityhub_messages_total" ? "messages" : "points"] += Number(match[3]);
    }
    return { ...sums, at: performance.now() };
  }

  views.health = {
    title: "Data health",
    admin: true,
    build(root) {
      const rate = el("div", { class: "cards" });
      const letters = el("div", { class: "panel" });
      const silent = el("div", { class: "panel" });
      root.append(el("h2", {}, "Data health"), rate, el("div", { class: "split" }, letters, silent));
      return { rate, letters, silent };
    },
    async refresh({ rate, letters, silent }) {
      const [counts, recent, devices, metricsText] = await Promise.all([
        api("dead-letters/counts"),
        api("dead-letters", { limit: 200 }),
        api("devices"),
        request("/metrics", null, { accept: "text/plain" }),
      ]);
      const sample = parseMetrics(metricsText);
      const previous = state.metrics;
      state.metrics = sample;
      const seconds = previous ? (sample.at - previous.at) / 1000 : 0;
      const perSecond = (key) => (previous && seconds > 0 ? (sample[key] - previous[key]) / seconds : null);
      rate.replaceChildren(
        card("Ingest rate", perSecond("messages") === null ? "measuring…" : withUnit(perSecond("messages"), "msg/s"),
          `${num(sample.messages, 0)} messages since the hub started`, "ingest-rate"),
        card("Points written", perSecond("points") === null ? "measuring…" : withUnit(perSecond("points"), "points/s"),
          `${num(sample.points, 0)} since the hub started`, "points-rate"),
        card("Dead letters", `${counts.total}`, "kept with their reason", "dead-letters", counts.total > 0));
      if (!previous) setTimeout(() => state.view === "health" && state.refresh(), 5000);
      const examples = {};
      for (const letter of recent.dead_letters) (examples[letter.reason] ??= []).push(letter);
      letters.replaceChildren(el("h3", {}, "Dead letters by reason"),
        Object.keys(counts.counts).length === 0 ? el("p", { class: "muted" }, "None: every message was stored.")
          : el("div", {}, Object.entries(counts.counts).sort((a, b) => b[1] - a[1]).map(([reason, count]) =>
            el("details", { "data-reason": reason },
              el("summary", {}, el("b", {}, reason), ` ${count}`),
              (examples[reason] || []).slice(0, 3).map((d) => el("div", {},
                el("div", { class: "muted" }, `${localTime(d.received)} · ${d.topic} · ${d.adapter || "no adapter"}: ${d.detail || ""}`),
                el("pre", { class: "example" }, d.payload)))))));
      const stale = devices.devices.filter((d) => d.stale).map((d) => ({ ...d, last_seen_s: d.last_seen ? (Date.now() - Date.parse(d.last_seen)) / 1000 : null }));
      silent.replaceChildren(el("h3", {}, `Silent devices (${stale.length} of ${devices.devices.length})`),
        el("p", { class: "muted" }, "Registered or seen, and silent longer than CITYHUB_INSIGHTS__DEVICE_STALE_S."),
        sortableTable([
          { key: "device", label: "Device" },
          { key: "measurements", label: "Sends", format: (r) => (r.measurements || []).join(", ") || "never seen" },
          { key: "last_seen_s", label: "Silent for", num: true, format: (r) => (r.last_seen ? duration(r.last_seen_s) : "never seen") },
        ], stale, { name: "silent", sortKey: "last_seen_s", descending: true }));
    },
  };

  // ---- start -------------------------------------------------------------------------------
  $("#zone").textContent = zoneNote();
  $("#signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    signIn($("#key").value.trim());
  });
  $("#signout").addEventListener("click", () => signOut("Signed out."));
  $("#refresh").addEventListener("click", () => state.refresh && state.refresh());
  window.addEventListener("hashchange", () => {
    if (location.hash.startsWith("#key=")) return start();
    route();
  });

  function start() {
    const fragment = new URLSearchParams(location.hash.slice(1));
    if (fragment.get("key")) {
      sessionStorage.setItem(KEY_STORE, fragment.get("key"));
      history.replaceState(null, "", `${location.pathname}#/city`);  // the key leaves the address bar
    }
    const key = sessionStorage.getItem(KEY_STORE);
    signIn(key || "");
  }
  start();
})();
