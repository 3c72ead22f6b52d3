// lv web UI: one live view of the master, fed by the Server-Sent Events of api/v1/events.
//
// The first snapshot after a (re)connect carries the run's whole history, so a reload loses
// nothing; later ones carry only new history rows. Only the visible tab is redrawn, and the
// statistics table never renders more than MAX_ROWS rows, updating cells in place, so the page
// stays responsive with thousands of endpoint names. No framework, no build step.
"use strict";

(function () {
  const MAX_ROWS = 200;
  const MAX_EP_POINTS = 1800; // per-endpoint samples kept: an hour at one per 2 s
  const MAX_EP_TRACKED = 300; // above this many endpoints, only the opened one is tracked
  // Timing phases as the report names them, in the order they happen, with their labels.
  const PHASES = [["connect", "Connect"], ["tls", "TLS"], ["ttfb", "Time to first byte"], ["body", "Body read"]];
  // The percentiles of `percentiles_ms` in the JSON report (aggregate::PERCENTILES).
  const PCTS = [50, 66, 75, 80, 90, 95, 98, 99, 99.9, 99.99, 100];
  const PCT_LABEL = ["p50", "p66", "p75", "p80", "p90", "p95", "p98", "p99", "p99.9", "p99.99", "max"];
  const TABLE_PCTS = [0, 4, 5, 7, 8, 10]; // p50 p90 p95 p99 p99.9 max
  // SLO kinds in the order of lv_common::kind::SloKind (history rows' `kinds` keys).
  const KINDS = ["health", "event", "chat", "creative"];

  const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400];
  const $ = (id) => document.getElementById(id);

  /** Everything the page knows; replaced or appended to by snapshots. */
  const state = {
    live: null,
    report: null,
    runId: undefined,
    history: [],
    epSeries: new Map(), // "METHOD name" -> {x, rps, fps, p50, p95, p99}
    tab: "stats",
    dirty: new Set(),
    sort: { key: null, desc: false },
    filter: "",
    showCurrent: true,
    openEndpoint: null,
    picks: [],
    runs: [],
  };

  // ---------------------------------------------------------------- formatting

  /** `1234567` -> `1,234,567` (toLocaleString is too slow for thousands of cells). */
  function group(n) {
    const s = String(Math.round(n));
    return s.length < 4 ? s : s.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }
  function fmtMs(v) {
    if (v === null || v === undefined || !isFinite(v)) return "-";
    if (v === 0) return "0";
    if (v < 10) return v.toFixed(2);
    if (v < 100) return v.toFixed(1);
    return group(v);
  }
  function fmtInt(v) {
    return v === null || v === undefined ? "-" : group(v);
  }
  function fmtRate(v) {
    if (v === null || v === undefined || !isFinite(v)) return "-";
    return v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : group(v);
  }
  function fmtPct(ratio) {
    if (ratio === null || ratio === undefined || !isFinite(ratio)) return "-";
    const p = ratio * 100;
    return (p === 0 ? "0" : p < 0.01 ? "<0.01" : p < 10 ? p.toFixed(2) : p.toFixed(1)) + "%";
  }
  function fmtDuration(s) {
    if (s === null || s === undefined || !isFinite(s)) return "-";
    s = Math.max(0, Math.round(s));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return (h ? h + "h" : "") + (h || m ? m + "m" : "") + sec + "s";
  }
  /** Seconds as a run time `/swarm` reads back: `45s`, `5m`, `1h30m`, `2m15s`. */
  function fmtRunTime(s) {
    s = Math.max(1, Math.round(s));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return (h ? h + "h" : "") + (m ? m + "m" : "") + (sec ? sec + "s" : "");
  }
  function fmtTime(unixMs) {
    if (!unixMs) return "-";
    const d = new Date(unixMs);
    const pad = (n) => String(n).padStart(2, "0");
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }
  const keyOf = (method, name) => (method ? method + " " + name : name);
  const passes = (verdict) => typeof verdict === "string" && /^pass/i.test(verdict);

  /** Creates an element with attributes and children (strings become text nodes). */
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) {
      if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }

  /** Replaces a table's content with a header row and data rows (small tables only). */
  function fillTable(table, head, rows, empty) {
    const thead = el("thead", null, el("tr", null, ...head.map((h) => el("th", { text: h }))));
    const tbody = el("tbody");
    if (!rows.length) {
      tbody.append(el("tr", null, el("td", { colspan: head.length, class: "empty", text: empty })));
    }
    for (const r of rows) tbody.append(r);
    // Text columns are left-aligned: the header follows the first row's cells.
    if (rows.length) {
      [...thead.firstChild.children].forEach((th, i) => {
        const td = rows[0].children[i];
        if (td && td.classList.contains("t")) th.className = "t";
      });
    }
    table.replaceChildren(thead, tbody);
  }

  // ---------------------------------------------------------------- snapshots

  function resetRun(runId) {
    state.runId = runId;
    state.history = [];
    state.epSeries.clear();
    charts.clear();
    stats.clearRows();
  }

  function onSnapshot(msg) {
    const live = msg.live || {};
    const report = msg.report || null;
    const rows = (report && report.history) || [];
    if (live.run_id !== state.runId) {
      if (msg.history_from !== 0 && state.runId !== undefined) return reconnect();
      resetRun(live.run_id);
    }
    const before = state.history.length;
    if (msg.history_from === 0) {
      state.history = rows.slice();
    } else if (msg.history_from === before) {
      for (const r of rows) state.history.push(r);
    } else {
      return reconnect(); // a gap: start over from a full snapshot
    }
    state.live = live;
    state.report = report;
    if (msg.history_from !== 0 && rows.length) recordEndpoints(rows[rows.length - 1].unix_ms);
    charts.appended(msg.history_from === 0 ? 0 : before);
    markAllDirty();
    schedule();
  }

  /** Keeps per-endpoint current-window samples (from page load on) for the endpoint charts. */
  function recordEndpoints(unixMs) {
    const current = (state.live && state.live.current) || [];
    const trackAll = current.length <= MAX_EP_TRACKED;
    for (const c of current) {
      const key = keyOf(c.method, c.name);
      if (!trackAll && key !== state.openEndpoint) continue;
      let s = state.epSeries.get(key);
      if (!s) {
        s = { x: [], rps: [], fps: [], p50: [], p95: [], p99: [] };
        state.epSeries.set(key, s);
      }
      s.x.push(unixMs / 1000);
      s.rps.push(c.rps);
      s.fps.push(c.fail_per_s);
      s.p50.push(c.rps > 0 ? c.p50_ms : null);
      s.p95.push(c.rps > 0 ? c.p95_ms : null);
      s.p99.push(c.rps > 0 ? c.p99_ms : null);
      if (s.x.length > MAX_EP_POINTS) for (const a of Object.values(s)) a.shift();
    }
  }

  let source = null;
  function connect() {
    if (source) source.close();
    source = new EventSource("api/v1/events");
    source.addEventListener("snapshot", (e) => {
      try {
        onSnapshot(JSON.parse(e.data));
      } catch (err) {
        console.error("lv: bad snapshot", err);
      }
    });
    source.addEventListener("run", (e) => {
      try {
        const { run_id: runId } = JSON.parse(e.data);
        if (runId !== state.runId) resetRun(runId);
        state.dirty.add("runs");
        schedule();
      } catch (err) {
        console.error("lv: bad run event", err);
      }
    });
    source.onopen = () => setConn("live");
    source.onerror = () => setConn(source.readyState === EventSource.CLOSED ? "offline" : "reconnecting");
  }
  function reconnect() {
    state.runId = undefined;
    connect();
  }
  function setConn(text) {
    const c = $("conn");
    c.textContent = text;
    c.className = "conn " + text;
  }

  // ---------------------------------------------------------------- rendering

  let scheduled = false;
  function schedule() {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      renderHeader();
      if (state.dirty.has(state.tab)) {
        state.dirty.delete(state.tab);
        RENDER[state.tab]();
      }
      if (state.openEndpoint) drawer.render();
    });
  }
  let lastState = null;
  function markAllDirty() {
    for (const t of Object.keys(RENDER)) if (t !== "runs") state.dirty.add(t);
    // The runs list changes when a run starts or ends, not with every snapshot.
    const now = state.live ? state.live.state : null;
    if (now !== lastState) state.dirty.add("runs");
    lastState = now;
  }

  function renderHeader() {
    const l = state.live;
    if (!l) return;
    const st = $("h-state");
    st.textContent = l.state;
    st.className = "state s-" + l.state;
    $("h-host").textContent = l.host || "-";
    $("h-users").textContent = fmtInt(l.users) + " / " + fmtInt(l.user_count);
    const bad = (l.workers || []).filter((w) => w.state !== "active").length;
    $("h-workers").textContent = fmtInt(l.worker_count) + (bad ? " (" + bad + " missing or lost)" : "");
    $("h-rps").textContent = fmtRate(l.rps);
    $("h-fail").textContent = fmtPct(l.fail_ratio);
    $("h-time").textContent = fmtDuration(l.elapsed_s) + (l.run_time_s ? " / " + fmtDuration(l.run_time_s) : "");
    const v = $("h-verdict");
    v.textContent = l.verdict_now || "-";
    v.title = l.verdict_now || "";
    v.className = l.verdict_now ? (passes(l.verdict_now) ? "pass" : "fail") : "";
    // The abort rule that stopped the run (the report's `aborted`), while its report shows.
    const stop = state.report && state.report.aborted;
    const ab = $("abort-banner");
    ab.hidden = !stop;
    ab.textContent = stop
      ? "Stopped early by abort rule " + stop.rule + " at " + fmtDuration(stop.at_s) + ": " + stop.reason
      : "";
    const running = l.state === "running" || l.state === "spawning";
    document.body.classList.toggle("readonly", !!l.readonly);
    $("b-new").hidden = running || l.state === "stopping";
    $("b-edit").hidden = !running;
    $("b-stop").hidden = !running;
    $("n-workers").textContent = l.worker_count ? String(l.worker_count) : "";
    const r = state.report;
    $("n-failures").textContent = r && r.failures && r.failures.length ? String(r.failures.length) : "";
    $("n-exceptions").textContent = r && r.exceptions && r.exceptions.length ? String(r.exceptions.length) : "";
    document.title = "lv " + l.state + (l.run_id ? " " + l.run_id.slice(0, 8) : "");
  }

  // ---------------------------------------------------------------- statistics table

  const stats = (function () {
    const COLS = [
      { id: "method", title: "Type", group: "", text: true },
      { id: "name", title: "Name", group: "", text: true, cls: "name" },
      { id: "slo", title: "SLO", group: "" },
      { id: "requests", title: "Requests", group: "cum", f: fmtInt },
      { id: "failures", title: "Fails", group: "cum", f: fmtInt },
      { id: "fail_ratio", title: "Fail %", group: "cum", f: fmtPct },
      { id: "avg_ms", title: "Avg", group: "cum", f: fmtMs },
      { id: "min_ms", title: "Min", group: "cum", f: fmtMs },
      { id: "avg_size", title: "Avg size (B)", group: "cum", f: fmtInt },
      { id: "c_p0", title: "p50", group: "cpct", f: fmtMs },
      { id: "c_p1", title: "p90", group: "cpct", f: fmtMs },
      { id: "c_p2", title: "p95", group: "cpct", f: fmtMs },
      { id: "c_p3", title: "p99", group: "cpct", f: fmtMs },
      { id: "c_p4", title: "p99.9", group: "cpct", f: fmtMs },
      { id: "c_p5", title: "max", group: "cpct", f: fmtMs },
      { id: "rps", title: "RPS", group: "cur", f: fmtRate },
      { id: "fps", title: "Fail/s", group: "cur", f: fmtRate },
      { id: "w_p0", title: "p50", group: "cur", f: fmtMs, pct: true },
      { id: "w_p1", title: "p90", group: "cur", f: fmtMs, pct: true },
      { id: "w_p2", title: "p95", group: "cur", f: fmtMs, pct: true },
      { id: "w_p3", title: "p99", group: "cur", f: fmtMs, pct: true },
      { id: "w_p4", title: "p99.9", group: "cur", f: fmtMs, pct: true },
      { id: "w_p5", title: "max", group: "cur", f: fmtMs, pct: true },
    ];
    const GROUPS = { "": "", cum: "Cumulative", cpct: "Cumulative percentiles (ms)", cur: "Current window (ms)" };
    const rowCache = new Map(); // key -> {tr, tds, texts}
    let footRow = null;

    function columns() {
      return COLS.filter((c) => state.showCurrent || !c.pct);
    }

    function renderHead() {
      const cols = columns();
      const groups = $("stats-groups");
      const head = $("stats-head");
      groups.replaceChildren();
      head.replaceChildren();
      const spans = [];
      for (const c of cols) {
        const last = spans[spans.length - 1];
        if (last && last.group === c.group) last.n += 1;
        else spans.push({ group: c.group, n: 1 });
        const arrow = state.sort.key === c.id ? (state.sort.desc ? " \u25BC" : " \u25B2") : "";
        head.append(el("th", {
          class: (c.text ? "t " : "") + "sortable g-" + (c.group || "none"),
          "data-col": c.id, text: c.title + arrow, title: "Sort by " + c.title,
        }));
      }
      for (const s of spans) {
        groups.append(el("th", { colspan: s.n, class: "g-" + (s.group || "none"), text: GROUPS[s.group] }));
      }
      rowCache.clear();
      $("stats-body").replaceChildren();
      footRow = null;
    }

    /** The table rows: cumulative figures from the report, current ones from `live.current`. */
    function model() {
      const report = state.report || {};
      const live = state.live || {};
      const current = new Map((live.current || []).map((c) => [keyOf(c.method, c.name), c]));
      const marks = live.slo_marks || {};
      const build = (e, cur, key) => {
        const p = (e && e.percentiles_ms) || [];
        const row = {
          key, method: e ? e.method : cur.method, name: e ? e.name : cur.name,
          slo: marks[key] === true ? "pass" : marks[key] === false ? "fail" : "",
          requests: e ? e.requests : 0, failures: e ? e.failures : 0,
          fail_ratio: e && e.requests ? e.failures / e.requests : 0,
          avg_ms: e && e.requests ? e.avg_ms : null, min_ms: e && e.requests ? e.min_ms : null,
          avg_size: e && e.requests ? e.avg_content_bytes : null,
          rps: cur ? cur.rps : 0, fps: cur ? cur.fail_per_s : 0,
        };
        TABLE_PCTS.forEach((idx, i) => {
          row["c_p" + i] = p.length ? p[idx] : null;
        });
        const w = cur && cur.rps > 0 ? [cur.p50_ms, cur.p90_ms, cur.p95_ms, cur.p99_ms, cur.p999_ms, cur.max_ms] : [];
        w.forEach((v, i) => { row["w_p" + i] = v; });
        for (let i = w.length; i < 6; i++) row["w_p" + i] = null;
        return row;
      };
      const rows = [];
      const seen = new Set();
      for (const e of report.endpoints || []) {
        const key = keyOf(e.method, e.name);
        seen.add(key);
        rows.push(build(e, current.get(key), key));
      }
      for (const [key, c] of current) {
        if (!seen.has(key) && c.name !== "Aggregated") rows.push(build(null, c, key));
      }
      const aggCur = (live.current || []).find((c) => c.name === "Aggregated" && !c.method);
      const total = report.total ? build(report.total, aggCur, "Aggregated") : null;
      return { rows, total };
    }

    function visible(rows) {
      let out = rows;
      const f = state.filter.trim().toLowerCase();
      if (f) out = out.filter((r) => r.key.toLowerCase().includes(f));
      const { key, desc } = state.sort;
      if (key) {
        const col = COLS.find((c) => c.id === key);
        out = out.slice().sort((a, b) => {
          const x = a[key], y = b[key];
          let d;
          if (col && col.text) d = String(x).localeCompare(String(y));
          else d = (x === null ? -Infinity : x) - (y === null ? -Infinity : y);
          return desc ? -d : d;
        });
      }
      return { shown: out.slice(0, MAX_ROWS), matched: out.length };
    }

    function cellText(c, row) {
      if (c.id === "slo") return row.slo === "pass" ? "\u2713" : row.slo === "fail" ? "\u2717" : "";
      const v = row[c.id];
      return c.f ? c.f(v) : v;
    }

    function updateRow(entry, row, cols) {
      for (let i = 0; i < cols.length; i++) {
        const t = cellText(cols[i], row);
        if (entry.texts[i] !== t) {
          entry.texts[i] = t;
          entry.tds[i].textContent = t;
          if (cols[i].id === "slo") entry.tds[i].className = "slo " + row.slo;
        }
      }
      entry.tr.classList.toggle("has-fail", row.failures > 0);
    }

    function makeRow(row, cols) {
      const tds = cols.map((c) => el("td", { class: c.text ? "t " + (c.cls || "") : "" }));
      const tr = el("tr", { "data-key": row.key }, ...tds);
      return { tr, tds, texts: cols.map(() => null) };
    }

    function render() {
      if (!$("stats-head").children.length) renderHead();
      const cols = columns();
      const { rows, total } = model();
      const { shown, matched } = visible(rows);
      const body = $("stats-body");
      const keep = new Set();
      shown.forEach((row, i) => {
        let entry = rowCache.get(row.key);
        if (!entry) {
          entry = makeRow(row, cols);
          rowCache.set(row.key, entry);
        }
        updateRow(entry, row, cols);
        keep.add(row.key);
        if (body.children[i] !== entry.tr) body.insertBefore(entry.tr, body.children[i] || null);
      });
      while (body.children.length > shown.length) body.lastChild.remove();
      for (const k of rowCache.keys()) if (!keep.has(k)) rowCache.delete(k);
      if (!rows.length) {
        body.replaceChildren(el("tr", null, el("td", { colspan: cols.length, class: "empty", text: "No requests yet" })));
      }
      const foot = $("stats-foot");
      if (total) {
        if (!footRow) {
          footRow = makeRow(total, cols);
          foot.replaceChildren(footRow.tr);
        }
        updateRow(footRow, total, cols);
      } else {
        foot.replaceChildren();
        footRow = null;
      }
      const hidden = matched - shown.length;
      const banner = $("hidden-banner");
      banner.hidden = hidden <= 0;
      banner.textContent = hidden > 0
        ? group(hidden) + " rows hidden; filter to see them" +
          (matched !== rows.length ? " (" + group(matched) + " of " + group(rows.length) + " match the filter)" : "")
        : "";
    }

    function clearRows() {
      rowCache.clear();
      footRow = null;
      $("stats-body").replaceChildren();
      $("stats-foot").replaceChildren();
    }

    function onHeadClick(e) {
      const th = e.target.closest("th[data-col]");
      if (!th) return;
      const id = th.dataset.col;
      const col = COLS.find((c) => c.id === id);
      if (state.sort.key === id) state.sort.desc = !state.sort.desc;
      else state.sort = { key: id, desc: !col.text };
      renderHead();
      render();
    }

    return { render, renderHead, clearRows, onHeadClick };
  })();

  // ---------------------------------------------------------------- charts

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  /** uPlot plugin: draws run events (loss, rejoin, edit...) as vertical markers. */
  function eventsPlugin() {
    const colorOf = (kind) =>
      kind === "worker_lost" ? cssVar("--bad") :
      kind === "worker_joined" || kind === "worker_rejoined" ? cssVar("--good") : cssVar("--muted");
    return {
      hooks: {
        draw: [(u) => {
          const events = (state.live && state.live.events) || [];
          const below = (state.report && state.report.below_target) || [];
          const ctx = u.ctx;
          const { top, height, left, width } = u.bbox;
          ctx.save();
          ctx.beginPath();
          ctx.rect(left, top, width, height);
          ctx.clip();
          for (const b of below) {
            const x0 = u.valToPos(b.from_unix_ms / 1000, "x", true);
            const x1 = b.to_unix_ms ? u.valToPos(b.to_unix_ms / 1000, "x", true) : left + width;
            ctx.fillStyle = cssVar("--bad-bg");
            ctx.fillRect(x0, top, Math.max(1, x1 - x0), height);
          }
          ctx.lineWidth = Math.max(1, devicePixelRatio);
          ctx.font = Math.round(10 * devicePixelRatio) + "px system-ui, sans-serif";
          ctx.textAlign = "left";
          ctx.textBaseline = "alphabetic";
          let labelEnd = -Infinity, row = 0;
          for (const ev of events) {
            const x = Math.round(u.valToPos(ev.unix_ms / 1000, "x", true));
            const color = colorOf(ev.kind);
            ctx.strokeStyle = color;
            ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
            ctx.beginPath();
            ctx.moveTo(x, top);
            ctx.lineTo(x, top + height);
            ctx.stroke();
            ctx.fillStyle = color;
            // Labels of close events go one line lower instead of on top of each other.
            const label = ev.kind.replace("worker_", "");
            const lx = x + 3 * devicePixelRatio;
            row = lx < labelEnd ? (row + 1) % 3 : 0;
            ctx.fillText(label, lx, top + (11 + 12 * row) * devicePixelRatio);
            labelEnd = Math.max(labelEnd, lx + ctx.measureText(label).width + 4 * devicePixelRatio);
          }
          ctx.restore();
        }],
      },
    };
  }

  function chartOpts(el, series, yLabel) {
    const fg = cssVar("--fg-muted"), grid = cssVar("--grid");
    const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    return {
      width: Math.max(300, el.clientWidth),
      height: 220,
      series: [{ label: "time", value: (u, v) => (v === null ? "-" : fmtTime(v * 1000)) }, ...series],
      // Whole seconds on the time axis: history rows are ~2 s apart.
      axes: [Object.assign({ incrs: TIME_STEPS }, axis), Object.assign({ label: yLabel, size: 60 }, axis)],
      scales: { x: { time: true } },
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
      plugins: [eventsPlugin()],
    };
  }
  function line(label, colorVar, extra) {
    return Object.assign({
      label, stroke: cssVar(colorVar), width: 2, spanGaps: false,
      value: (u, v) => (v === null || v === undefined ? "-" : fmtMs(v)),
    }, extra || {});
  }

  const charts = (function () {
    const made = {}; // id -> uPlot
    const data = { x: [], rps: [], fps: [], users: [], pct: PCTS.map(() => []), kinds: new Map() };
    let picked = loadPicked();

    function loadPicked() {
      try {
        const p = JSON.parse(localStorage.getItem("lv-pcts"));
        if (Array.isArray(p) && p.every((i) => Number.isInteger(i) && i >= 0 && i < PCTS.length)) return p;
      } catch (e) { /* defaults */ }
      return [0, 5, 7];
    }

    function appended(from) {
      if (from === 0) {
        for (const a of [data.x, data.rps, data.fps, data.users, ...data.pct]) a.length = 0;
        data.kinds.clear();
      }
      for (let i = from; i < state.history.length; i++) {
        const h = state.history[i];
        data.x.push(h.unix_ms / 1000);
        data.rps.push(h.rps);
        data.fps.push(h.fps);
        data.users.push(h.users);
        const p = h.current_percentiles_ms || [];
        PCTS.forEach((_, j) => data.pct[j].push(p.length ? p[j] : null));
        appendKinds(h.kinds || {});
      }
    }

    /** One value per row for each kind's p50, p95, p99; null where the row's window had no
     *  request of that kind, or before the kind's first request. */
    function appendKinds(kinds) {
      const n = data.x.length;
      for (const kind of Object.keys(kinds)) {
        if (!data.kinds.has(kind)) {
          const empty = () => new Array(n - 1).fill(null);
          data.kinds.set(kind, { p50: empty(), p95: empty(), p99: empty() });
        }
      }
      for (const [kind, s] of data.kinds) {
        const k = kinds[kind] || {};
        const at = (v) => (typeof v === "number" ? v : null);
        s.p50.push(at(k.p50_ms));
        s.p95.push(at(k.p95_ms));
        s.p99.push(at(k.p99_ms));
      }
    }

    /** The kinds seen, in SloKind order (a kind this page does not know goes last). */
    function kindOrder() {
      const rank = (k) => (KINDS.includes(k) ? KINDS.indexOf(k) : KINDS.length);
      return [...data.kinds.keys()].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
    }

    /** A chart box per kind seen, in order; the section shows once there is one. */
    function kindBoxes() {
      const grid = $("c-kinds");
      const kinds = kindOrder();
      // Kinds no longer in the data (after a reset) lose their boxes.
      for (const box of [...grid.querySelectorAll(".chart[data-kind]")]) {
        if (data.kinds.has(box.dataset.kind)) continue;
        if (made[box.id]) {
          made[box.id].destroy();
          delete made[box.id];
        }
        box.parentElement.remove();
      }
      kinds.forEach((kind, i) => {
        const id = "c-kind-" + kind;
        let box = $(id);
        if (!box) {
          box = el("div", { id, class: "chart", "data-kind": kind });
          const title = el("h3", null, el("span", { class: "kind-name", text: kind }), " response times (ms, current window)");
          grid.insertBefore(el("div", { class: "chart-box" }, title, box), grid.children[i] || null);
        }
      });
      $("kinds").hidden = kinds.length === 0;
      return kinds;
    }

    function specs() {
      const all = {
        "c-rps": { y: "per second", series: [line("RPS", "--c1"), line("Failures/s", "--bad")], data: () => [data.x, data.rps, data.fps] },
        "c-rt": {
          y: "ms",
          series: picked.map((j, n) => line(PCT_LABEL[j], "--c" + ((n % 6) + 1))),
          data: () => [data.x, ...picked.map((j) => data.pct[j])],
        },
      };
      for (const kind of kindBoxes()) {
        const s = data.kinds.get(kind);
        all["c-kind-" + kind] = {
          y: "ms",
          series: [line("p50", "--c1"), line("p95", "--c2"), line("p99", "--c3")],
          data: () => [data.x, s.p50, s.p95, s.p99],
        };
      }
      all["c-users"] = { y: "users", series: [line("Users", "--c2", { value: (u, v) => fmtInt(v) })], data: () => [data.x, data.users] };
      return all;
    }

    function render() {
      const all = specs();
      for (const [id, spec] of Object.entries(all)) {
        const box = $(id);
        if (!made[id]) {
          box.replaceChildren();
          made[id] = new uPlot(chartOpts(box, spec.series, spec.y), spec.data(), box);
        } else {
          made[id].setData(spec.data());
        }
        box.dataset.points = String(data.x.length); // for tests and curious readers
      }
    }

    function clear() {
      for (const id of Object.keys(made)) {
        made[id].destroy();
        delete made[id];
      }
      for (const a of [data.x, data.rps, data.fps, data.users, ...data.pct]) a.length = 0;
      data.kinds.clear();
      $("c-kinds").replaceChildren();
      $("kinds").hidden = true;
    }

    function rebuild() {
      for (const id of Object.keys(made)) {
        made[id].destroy();
        delete made[id];
      }
      if (state.tab === "charts") render();
    }

    function resize() {
      for (const [id, u] of Object.entries(made)) u.setSize({ width: Math.max(300, $(id).clientWidth), height: 220 });
    }

    function renderPicker() {
      const box = $("pct-picker");
      box.replaceChildren(...PCT_LABEL.map((label, j) => {
        const input = el("input", { type: "checkbox", "data-pct": j });
        input.checked = picked.includes(j);
        return el("label", null, input, label);
      }));
      box.addEventListener("change", (e) => {
        const j = Number(e.target.dataset.pct);
        picked = e.target.checked ? [...picked, j].sort((a, b) => a - b) : picked.filter((i) => i !== j);
        try { localStorage.setItem("lv-pcts", JSON.stringify(picked)); } catch (err) { /* no storage */ }
        if (made["c-rt"]) {
          made["c-rt"].destroy();
          delete made["c-rt"];
        }
        render();
      });
    }

    return { appended, render, clear, rebuild, resize, renderPicker };
  })();

  // ---------------------------------------------------------------- endpoint drawer

  const drawer = (function () {
    const made = {};
    function open(key) {
      state.openEndpoint = key;
      $("endpoint").hidden = false;
      $("ep-title").textContent = key;
      for (const id of Object.keys(made)) {
        made[id].destroy();
        delete made[id];
      }
      render();
    }
    function close() {
      state.openEndpoint = null;
      $("endpoint").hidden = true;
      for (const id of Object.keys(made)) {
        made[id].destroy();
        delete made[id];
      }
    }
    function figures(e) {
      const box = $("ep-figures");
      if (!e) {
        box.textContent = "No cumulative figures for this endpoint yet.";
        return;
      }
      const p = e.percentiles_ms || [];
      const cells = [["Requests", fmtInt(e.requests)], ["Failures", fmtInt(e.failures)],
        ["Avg", fmtMs(e.avg_ms) + " ms"], ["Min", fmtMs(e.min_ms) + " ms"], ["RPS (run)", fmtRate(e.rps)]];
      PCTS.forEach((_, j) => cells.push([PCT_LABEL[j], p.length ? fmtMs(p[j]) + " ms" : "-"]));
      box.replaceChildren(...cells.map(([k, v]) => el("div", { class: "fig" }, el("span", { class: "lbl", text: k }), el("span", { text: v }))));
    }
    /**
     * The endpoint's timing phases (the report's `phases`): a stacked bar of where the mean
     * answered request's time went (connect and TLS spread over every request, as they
     * happen only on new connections), then each phase's count, p50 and p95.
     */
    function phases(e) {
      const box = $("ep-phases");
      const p = e && e.phases;
      $("ep-phases-box").hidden = !p;
      if (!p) return;
      const answered = p.ttfb ? p.ttfb.count : 0;
      const share = (x) => (x && answered ? x.total_us / answered / 1000 : 0);
      const parts = PHASES.map(([key, label], i) => ({ key, label, i, x: p[key], ms: share(p[key]) }));
      const sum = parts.reduce((a, q) => a + q.ms, 0);
      const bar = el("div", { class: "phase-bar", role: "img",
        "aria-label": "Mean time per phase: " + parts.map((q) => q.label + " " + fmtMs(q.ms) + " ms").join(", ") });
      for (const q of parts) {
        if (q.ms > 0 && sum > 0) {
          bar.append(el("span", { class: "phase-c" + q.i, style: "width:" + (100 * q.ms / sum).toFixed(2) + "%",
            title: q.label + ": " + fmtMs(q.ms) + " ms (mean per answered request)" }));
        }
      }
      const legend = el("div", { class: "phase-legend" }, ...parts.map((q) =>
        el("span", null, el("i", { class: "phase-c" + q.i }), q.label + " " + fmtMs(q.ms) + " ms")));
      const table = el("table");
      fillTable(table, ["Phase", "Requests", "Avg (ms)", "p50 (ms)", "p95 (ms)", "Max (ms)"],
        parts.map((q) => el("tr", null, el("td", { class: "t", text: q.label }),
          el("td", { text: q.x ? fmtInt(q.x.count) : "0" }), el("td", { text: q.x ? fmtMs(q.x.avg_ms) : "-" }),
          el("td", { text: q.x ? fmtMs(q.x.p50_ms) : "-" }), el("td", { text: q.x ? fmtMs(q.x.p95_ms) : "-" }),
          el("td", { text: q.x ? fmtMs(q.x.max_ms) : "-" }))), "No phases");
      const note = el("p", { class: "hint", text: "Mean of " + fmtMs(sum) + " ms per answered request. " +
        "Connect and TLS count only the requests that opened a connection; a reused connection has neither." });
      box.replaceChildren(bar, legend, table, note);
    }
    /** The endpoint's series from the history rows' per-endpoint lines (--csv-full-history), or null. */
    function fromHistory(key) {
      if (!state.history.some((h) => h.endpoints && h.endpoints.length)) return null;
      const s = { x: [], rps: [], fps: [], p50: [], p95: [], p99: [] };
      for (const h of state.history) {
        const e = key === "Aggregated"
          ? { rps: h.rps, fps: h.fps, percentiles_ms: h.current_percentiles_ms }
          : (h.endpoints || []).find((x) => keyOf(x.method, x.name) === key);
        const p = (e && e.percentiles_ms) || [];
        s.x.push(h.unix_ms / 1000);
        s.rps.push(e ? e.rps : 0);
        s.fps.push(e ? e.fps : 0);
        s.p50.push(p.length ? p[0] : null);
        s.p95.push(p.length ? p[5] : null);
        s.p99.push(p.length ? p[7] : null);
      }
      return s;
    }
    function render() {
      const key = state.openEndpoint;
      if (!key) return;
      const e = ((state.report && state.report.endpoints) || []).find((x) => keyOf(x.method, x.name) === key) ||
        (key === "Aggregated" && state.report ? state.report.total : null);
      figures(e);
      phases(e);
      const whole = fromHistory(key);
      const s = whole || state.epSeries.get(key) || { x: [], rps: [], fps: [], p50: [], p95: [], p99: [] };
      const noPcts = s.x.length > 0 && s.p50.every((v) => v === null) && s.rps.some((v) => v > 0);
      $("ep-note").textContent = whole
        ? "The whole run, from the history's per-endpoint lines."
        : "Per-endpoint charts show the current window since this page was opened (" + s.x.length +
          " samples); the figures above cover the whole run. With --csv-full-history the master keeps" +
          " every endpoint's history" + (noPcts ? " and its window percentiles" : "") + " and these charts show the whole run.";
      const specs = {
        "ep-rps": { y: "per second", series: [line("RPS", "--c1"), line("Failures/s", "--bad")], data: [s.x, s.rps, s.fps] },
        "ep-rt": { y: "ms", series: [line("p50", "--c1"), line("p95", "--c2"), line("p99", "--c3")], data: [s.x, s.p50, s.p95, s.p99] },
      };
      for (const [id, spec] of Object.entries(specs)) {
        if (!made[id]) made[id] = new uPlot(chartOpts($(id), spec.series, spec.y), spec.data, $(id));
        else made[id].setData(spec.data);
      }
    }
    return { open, close, render };
  })();

  // ---------------------------------------------------------------- the other tabs

  function renderFailures() {
    const f = (state.report && state.report.failures) || [];
    fillTable($("failures"), ["Method", "Name", "Error", "Count", "First seen", "Last seen"],
      f.slice(0, MAX_ROWS * 5).map((x) => el("tr", null,
        el("td", { class: "t", text: x.method }), el("td", { class: "t name", text: x.name }),
        el("td", { class: "t err", text: x.error }), el("td", { text: fmtInt(x.count) }),
        el("td", { text: fmtTime(x.first_seen_unix_ms) }), el("td", { text: fmtTime(x.last_seen_unix_ms) }))),
      "No failures");
  }

  function renderExceptions() {
    const x = (state.report && state.report.exceptions) || [];
    fillTable($("exceptions"), ["Count", "Message", "Workers"],
      x.map((e) => el("tr", null, el("td", { text: fmtInt(e.count) }),
        el("td", { class: "t err", text: e.message }), el("td", { class: "t", text: (e.nodes || []).join(", ") }))),
      "No exceptions");
  }

  /** A worker's load figure as `now / peak / mean` (scaled), flagged above `limit`. */
  function loadCell(g, scale, digits, limit) {
    if (!g) return el("td", { class: "na", text: "-" });
    const f = (v) => (v / scale).toFixed(digits);
    return el("td", { class: limit !== undefined && g.last > limit ? "over" : null,
      title: "now / peak / mean over the run", text: f(g.last) + " / " + f(g.peak) + " / " + f(g.mean) });
  }

  /** The generator warning of the run (its causes), above the workers. */
  function renderGeneratorWarning() {
    let note = $("generator-warning");
    if (!note) {
      note = el("p", { id: "generator-warning", class: "notice bad", hidden: true });
      $("tab-workers").prepend(note);
    }
    const warnings = (state.report && state.report.generator_warnings) || [];
    note.hidden = !warnings.length;
    note.textContent = warnings.length ? "Warning: the generator limited this run; its latencies include its own delay (" +
      warnings.map((w) => w.detail).join("; ") + ")" : "";
  }

  function renderWorkers() {
    const w = (state.live && state.live.workers) || [];
    renderGeneratorWarning();
    fillTable($("workers"), ["Id", "Host", "State", "Users", "Requests", "Failures", "Heartbeat age", "Report lag",
      "CPU %", "Memory MB", "Connections", "Sched delay ms"],
      w.map((x) => { const r = x.resources || {}; return el("tr", { class: "w-" + x.state },
        el("td", { class: "t mono", text: x.id }), el("td", { class: "t", text: x.hostname }),
        el("td", { class: "t state s-" + x.state, text: x.state }), el("td", { text: fmtInt(x.users) }),
        el("td", { text: fmtInt(x.requests) }), el("td", { text: fmtInt(x.failures) }),
        el("td", { text: x.heartbeat_age_s === null || x.heartbeat_age_s === undefined ? "-" : x.heartbeat_age_s.toFixed(1) + " s" }),
        el("td", { text: x.report_lag_s === null || x.report_lag_s === undefined ? "-" : x.report_lag_s.toFixed(1) + " s" }),
        loadCell(r.cpu_percent, 1, 1, 90), loadCell(r.memory_bytes, 1e6, 1),
        loadCell(r.connections, 1, 0), loadCell(r.sched_delay_ms, 1, 1, 50)); }),
      "No workers connected");
    const events = ((state.live && state.live.events) || []).slice(-50).reverse();
    let log = $("events-log");
    if (!log) {
      log = el("table", { id: "events-log", class: "grid" });
      $("tab-workers").append(el("h3", { text: "Events of this run" }), el("div", { class: "scroll" }, log));
    }
    fillTable(log, ["Time", "Event", "Details"], events.map((e) => el("tr", null,
      el("td", { class: "t", text: fmtTime(e.unix_ms) }), el("td", { class: "t ev-" + e.kind, text: e.kind }),
      el("td", { class: "t", text: e.text }))), "No events yet");
  }

  function sloMeasured(v) {
    if (v.status === "not_exercised") return "-";
    if (v.metric === "failure_ratio") return fmtPct(v.measured);
    if (v.metric.endsWith("_over_avg")) return v.measured.toFixed(2) + "x avg";
    return fmtMs(v.measured) + " ms";
  }

  function renderSlo() {
    const l = state.live || {};
    const line = $("slo-verdict");
    line.textContent = l.verdict_now ? "If the run ended now: " + l.verdict_now + " (exit code " + l.exit_code_now + ")" : "";
    line.className = "verdict-line " + (passes(l.verdict_now) ? "pass" : l.verdict_now ? "fail" : "");
    const slo = state.report ? state.report.slo : undefined;
    if (slo === null) {
      fillTable($("slo"), ["SLO checks"], [], "SLO checks are off for this run (--no-slo)");
      return;
    }
    fillTable($("slo"), ["Kind", "Rule", "Target", "Measured", "Result", "Worst endpoint"],
      (slo || []).map((v) => el("tr", null,
        el("td", { class: "t", text: v.kind }), el("td", { class: "t", text: v.metric }),
        el("td", { class: "t", text: v.target }), el("td", { text: sloMeasured(v) }),
        el("td", { class: "t res-" + v.status, text: v.status === "not_exercised" ? "not exercised" : v.status.toUpperCase() }),
        el("td", { class: "t name", text: v.endpoint }))),
      "No verdicts yet");
  }

  function renderDownload() {
    const id = state.runId ? state.runId.slice(0, 8) : "lv";
    $("dl-json").setAttribute("download", "lv-" + id + ".json");
  }

  // ---------------------------------------------------------------- runs and compare

  async function getJson(url) {
    const res = await fetch(url, { headers: { Accept: "application/json" } });
    const body = await res.json().catch(() => null);
    if (!res.ok) throw new Error((body && body.message) || res.status + " " + res.statusText);
    return body;
  }

  async function renderRuns() {
    try {
      state.runs = await getJson("api/v1/runs");
    } catch (e) {
      fillTable($("runs"), ["Runs"], [], "Could not list runs: " + e.message);
      return;
    }
    state.picks = state.picks.filter((p) => state.runs.some((r) => r.run_id === p));
    const order = ["html", "json", "stats_csv", "history_csv", "failures_csv", "exceptions_csv", "stages_csv", "phases_csv"];
    const rank = (k) => (order.includes(k) ? order.indexOf(k) : order.length);
    const fileLinks = (files) => el("span", { class: "files" }, ...Object.entries(files || {})
      .sort(([a], [b]) => rank(a) - rank(b)).map(([k, url]) =>
      el("a", { href: url, target: k === "html" ? "_blank" : null, download: k === "html" ? null : true, text: k.replace("_", " ") })));
    fillTable($("runs"), ["Pick", "Run", "Started", "Duration", "Users", "Verdict", "Exit", "Files"],
      state.runs.map((r) => {
        const box = el("input", { type: "checkbox", "data-run": r.run_id, "aria-label": "pick " + r.run_id });
        box.checked = state.picks.includes(r.run_id);
        return el("tr", null, el("td", null, box), el("td", { class: "t mono", text: r.run_id }),
          el("td", { class: "t", text: fmtTime(r.started_unix_ms) }),
          el("td", { text: r.ended_unix_ms ? fmtDuration((r.ended_unix_ms - r.started_unix_ms) / 1000) : "running" }),
          el("td", { text: fmtInt(r.users) }),
          el("td", { class: "t " + (r.verdict ? (passes(r.verdict) ? "pass" : "fail") : ""), text: r.verdict || "-" }),
          el("td", { text: r.exit_code === null || r.exit_code === undefined ? "-" : r.exit_code }),
          el("td", { class: "t" }, fileLinks(r.files)));
      }), "No runs yet");
    $("b-compare").disabled = state.picks.length !== 2;
  }

  async function compareRuns() {
    const [a, b] = state.picks.map((id) => state.runs.find((r) => r.run_id === id));
    if (!a || !b) return;
    const [base, next] = a.started_unix_ms <= b.started_unix_ms ? [a, b] : [b, a];
    const box = $("compare");
    box.hidden = false;
    $("compare-title").textContent = "Base " + base.run_id + " against new " + next.run_id;
    try {
      const c = await getJson("api/v1/compare?base=" + encodeURIComponent(base.run_id) + "&new=" + encodeURIComponent(next.run_id));
      const regs = c.regressions || [];
      $("compare-regressions").replaceChildren(...(regs.length ? regs.map((r) => el("li", { class: "fail", text: r }))
        : [el("li", { class: "pass", text: "No regression beyond " + c.max_regression_percent + "%" })]));
      $("compare-table").textContent = c.table || "";
    } catch (e) {
      $("compare-regressions").replaceChildren(el("li", { class: "fail", text: "Compare failed: " + e.message }));
      $("compare-table").textContent = "";
    }
  }

  // ---------------------------------------------------------------- start, edit, stop

  function fillChoices() {
    const l = state.live || {};
    const prof = $("f-profile");
    prof.replaceChildren(el("option", { value: "", text: "(none)" }),
      ...Object.keys(l.profiles || {}).map((p) => el("option", { value: p, text: p })));
    $("f-classes").replaceChildren(...(l.user_classes || []).map((c) => el("option", { value: c, text: c })));
    const tagBoxes = (name) => (l.tags || []).map((t) =>
      el("label", { class: "tag" }, el("input", { type: "checkbox", name, value: t }), t));
    $("f-tags").replaceChildren(...tagBoxes("tags"));
    $("f-xtags").replaceChildren(...tagBoxes("exclude_tags"));
  }

  function openForm(mode) {
    const l = state.live || {};
    const form = $("start-form");
    form.dataset.mode = mode;
    $("start-error").hidden = true;
    $("start-title").textContent = mode === "edit" ? "Edit the running test" : "Start a new run";
    $("f-submit").textContent = mode === "edit" ? "Apply" : "Start";
    $("f-time-label").textContent = mode === "edit" ? "Remaining run time" : "Run time";
    for (const e of form.querySelectorAll(".only-start")) e.hidden = mode === "edit";
    if (mode === "start") fillChoices();
    $("f-users").value = l.user_count || 1;
    $("f-rate").value = l.spawn_rate || 1;
    $("f-host").value = l.host || "";
    const left = l.run_time_s ? l.run_time_s - (mode === "edit" ? l.elapsed_s || 0 : 0) : null;
    $("f-time").value = left && left > 0 ? fmtRunTime(left) : "";
    $("start-dialog").showModal();
    $("f-users").focus();
  }

  function applyProfile() {
    const p = ((state.live && state.live.profiles) || {})[$("f-profile").value];
    if (!p) return;
    if (p.users != null) $("f-users").value = p.users;
    if (p.spawn_rate != null) $("f-rate").value = p.spawn_rate;
    if (p.run_time != null) $("f-time").value = p.run_time;
    const tick = (name, tags) => {
      for (const box of $("start-form").querySelectorAll("input[name=" + name + "]")) box.checked = (tags || []).includes(box.value);
    };
    tick("tags", p.tags);
    tick("exclude_tags", p.exclude_tags);
  }

  async function post(path, params) {
    const res = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: params || "",
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok || body.success === false) throw new Error(body.message || res.status + " " + res.statusText);
    return body;
  }

  async function submitForm(e) {
    e.preventDefault();
    const form = $("start-form");
    const p = new URLSearchParams();
    p.set("user_count", $("f-users").value.trim());
    p.set("spawn_rate", $("f-rate").value.trim());
    p.set("run_time", $("f-time").value.trim());
    if (form.dataset.mode !== "edit") {
      if ($("f-host").value.trim()) p.set("host", $("f-host").value.trim());
      if ($("f-profile").value) p.set("profile", $("f-profile").value);
      for (const o of $("f-classes").selectedOptions) p.append("user_classes", o.value);
      const checked = (name) => [...form.querySelectorAll("input[name=" + name + "]:checked")].map((i) => i.value);
      if (checked("tags").length) p.set("tags", checked("tags").join(","));
      if (checked("exclude_tags").length) p.set("exclude_tags", checked("exclude_tags").join(","));
    }
    $("f-submit").disabled = true;
    try {
      await post("swarm", p);
      $("start-dialog").close();
      if (form.dataset.mode !== "edit") location.hash = "#stats";
    } catch (err) {
      const box = $("start-error");
      box.textContent = err.message;
      box.hidden = false;
    } finally {
      $("f-submit").disabled = false;
    }
  }

  function notice(text, bad) {
    const n = $("notice");
    n.textContent = text;
    n.className = "notice" + (bad ? " bad" : "");
    n.hidden = !text;
    if (text) setTimeout(() => { if (n.textContent === text) n.hidden = true; }, 6000);
  }

  async function action(path, done) {
    try {
      const body = await post(path);
      notice(body.message || done, false);
    } catch (err) {
      notice(path + ": " + err.message, true);
    }
  }

  // ---------------------------------------------------------------- capacity search

  /** The Capacity tab: a form that starts `lv-master capacity`'s search on this master's
   * workers (POST api/v1/capacity), then its steps, curve and answer as they are judged
   * (GET api/v1/capacity, polled each second while the search runs or the tab is open). */
  const capacity = {
    status: null,
    filled: false,
    timer: 0,

    async poll() {
      try {
        capacity.status = await getJson("api/v1/capacity");
      } catch (e) {
        return;
      }
      if (state.tab === "capacity") capacity.render();
    },

    /** Polls every second while the search runs or its tab is open, else every 10 s. */
    schedulePoll() {
      clearTimeout(capacity.timer);
      const s = capacity.status;
      const busy = state.tab === "capacity" || (s && s.state === "running");
      capacity.timer = setTimeout(async () => {
        await capacity.poll();
        capacity.schedulePoll();
      }, busy ? 1000 : 10000);
    },

    fillForm() {
      const s = capacity.status, l = state.live || {};
      if (capacity.filled || !s || !l.user_classes) return;
      capacity.filled = true;
      $("cap-level").replaceChildren(...(s.levels || []).map((v) =>
        el("option", { value: v, text: v, selected: v === s.level })));
      $("cap-classes").replaceChildren(...(l.user_classes || []).map((c) => el("option", { value: c, text: c })));
      const boxes = (name) => (l.tags || []).map((t) =>
        el("label", { class: "tag" }, el("input", { type: "checkbox", name, value: t }), t));
      $("cap-tags").replaceChildren(...boxes("tags"));
      $("cap-xtags").replaceChildren(...boxes("exclude_tags"));
    },

    render() {
      const s = capacity.status;
      if (!s) return;
      capacity.fillForm();
      const running = s.state === "running";
      const why = $("cap-unavailable");
      why.textContent = s.unavailable || "";
      why.hidden = !s.unavailable;
      $("cap-start").disabled = running || !!s.unavailable;
      $("cap-stop").hidden = !running;
      const c = s.capacity;
      const line = $("cap-summary");
      line.textContent = !c ? "" : running ? "Searching: " + c.steps.length + " step(s) judged so far" : c.summary;
      line.className = "verdict-line" + (!c || running ? "" : s.state === "done" && c.result && c.result.kind === "capacity" ? " pass" : " fail");
      $("cap-curve").innerHTML = c && c.steps.length ? s.curve_svg || "" : "";
      $("cap-errors").replaceChildren(...(s.errors || []).map((e) => el("li", { class: "fail", text: e })));
      if (!c) return $("cap-steps").replaceChildren();
      const unit = c.params.unit;
      fillTable($("cap-steps"), ["Step", "Load (" + unit + ")", "Achieved/s", "Requests", "p50 ms", "p95 ms", "p99 ms", "Failures", "Verdict", "Rule"],
        c.steps.map((st) => el("tr", null,
          el("td", { text: st.index + (st.confirm ? " (confirm)" : "") }),
          el("td", { text: fmtRate(st.load) }),
          el("td", { text: st.achieved_rate == null ? "-" : fmtRate(st.achieved_rate) }),
          el("td", { text: fmtInt(st.requests) }),
          el("td", { text: fmtMs(st.p50_ms) }),
          el("td", { text: fmtMs(st.p95_ms) }),
          el("td", { text: fmtMs(st.p99_ms) }),
          el("td", { text: fmtPct(st.failure_ratio) }),
          el("td", { class: "t " + (st.outcome === "pass" ? "pass" : "fail"), text: st.interrupted ? "interrupted" : st.outcome }),
          el("td", { class: "t", text: st.rule ? st.rule.metric + " " + st.rule.target + (st.rule.endpoint ? " (" + st.rule.endpoint + ")" : "") : "" }))),
        running ? "Waiting for the first step to be judged" : "No steps");
      $("cap-files").replaceChildren(...Object.entries(s.files || {}).map(([kind, url]) =>
        el("li", null, el("a", { href: url, target: kind === "html" ? "_blank" : null, download: kind === "html" ? null : "capacity." + kind, text: kind.toUpperCase() }))));
    },

    async submit(e) {
      e.preventDefault();
      const form = $("cap-form");
      const p = new URLSearchParams();
      for (const name of ["model", "start", "max", "factor", "precision", "hold", "settle", "confirm", "max_lag", "require", "slo_level", "host"]) {
        const v = form.elements[name].value.trim();
        if (v) p.set(name, v);
      }
      for (const o of $("cap-classes").selectedOptions) p.append("user_classes", o.value);
      const checked = (name) => [...form.querySelectorAll("input[name=" + name + "]:checked")].map((i) => i.value);
      if (checked("tags").length) p.set("tags", checked("tags").join(","));
      if (checked("exclude_tags").length) p.set("exclude_tags", checked("exclude_tags").join(","));
      const box = $("cap-error");
      box.hidden = true;
      $("cap-start").disabled = true;
      try {
        await post("api/v1/capacity", p);
        notice("Capacity search started", false);
      } catch (err) {
        box.textContent = err.message;
        box.hidden = false;
      }
      await capacity.poll();
      capacity.schedulePoll();
      capacity.render();
    },
  };

  // ---------------------------------------------------------------- tabs, theme, wiring

  const RENDER = {
    stats: () => stats.render(),
    charts: () => charts.render(),
    failures: renderFailures,
    exceptions: renderExceptions,
    workers: renderWorkers,
    slo: renderSlo,
    download: renderDownload,
    runs: renderRuns,
    capacity: () => capacity.render(),
  };

  function showTab() {
    const tab = location.hash.slice(1);
    state.tab = Object.prototype.hasOwnProperty.call(RENDER, tab) ? tab : "stats";
    for (const t of Object.keys(RENDER)) $("tab-" + t).hidden = t !== state.tab;
    for (const a of document.querySelectorAll("#tabs a")) a.classList.toggle("active", a.dataset.tab === state.tab);
    state.dirty.add(state.tab);
    schedule();
    if (state.tab === "capacity") capacity.poll().then(capacity.schedulePoll);
  }

  function toggleTheme() {
    const dark = cssVar("--is-dark") === "1";
    const next = dark ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    try { localStorage.setItem("lv-theme", next); } catch (e) { /* not remembered */ }
    charts.rebuild();
    if (state.openEndpoint) drawer.open(state.openEndpoint);
  }

  function wire() {
    window.addEventListener("hashchange", showTab);
    $("stats-head").addEventListener("click", stats.onHeadClick);
    $("stats-body").addEventListener("click", (e) => {
      const tr = e.target.closest("tr[data-key]");
      if (tr) drawer.open(tr.dataset.key);
    });
    $("stats-foot").addEventListener("click", () => drawer.open("Aggregated"));
    $("ep-close").addEventListener("click", drawer.close);
    document.addEventListener("keydown", (e) => { if (e.key === "Escape" && state.openEndpoint) drawer.close(); });
    let filterTimer = 0;
    $("filter").addEventListener("input", (e) => {
      clearTimeout(filterTimer);
      filterTimer = setTimeout(() => { state.filter = e.target.value; stats.render(); }, 120);
    });
    $("show-current").addEventListener("change", (e) => {
      state.showCurrent = e.target.checked;
      stats.renderHead();
      stats.render();
    });
    $("b-new").addEventListener("click", () => openForm("start"));
    $("b-edit").addEventListener("click", () => openForm("edit"));
    $("b-stop").addEventListener("click", () => action("stop", "Test stopped"));
    $("b-reset").addEventListener("click", () => action("stats/reset", "Statistics reset"));
    $("b-theme").addEventListener("click", toggleTheme);
    $("f-profile").addEventListener("change", applyProfile);
    $("f-cancel").addEventListener("click", () => $("start-dialog").close());
    $("start-form").addEventListener("submit", submitForm);
    $("b-runs").addEventListener("click", renderRuns);
    $("b-compare").addEventListener("click", compareRuns);
    $("cap-form").addEventListener("submit", capacity.submit);
    $("cap-stop").addEventListener("click", async () => {
      await action("api/v1/capacity/stop", "Capacity search stopped");
      capacity.poll();
    });
    $("runs").addEventListener("change", (e) => {
      const id = e.target.dataset.run;
      if (!id) return;
      state.picks = e.target.checked ? [...state.picks, id].slice(-2) : state.picks.filter((p) => p !== id);
      for (const b of $("runs").querySelectorAll("input[data-run]")) b.checked = state.picks.includes(b.dataset.run);
      $("b-compare").disabled = state.picks.length !== 2;
    });
    let resizeTimer = 0;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(charts.resize, 150);
    });
    matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => charts.rebuild());
  }

  wire();
  charts.renderPicker();
  showTab();
  connect();
  capacity.schedulePoll();
})();
