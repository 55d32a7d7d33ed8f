// tenement dashboard: plain browser JavaScript, no build step. Served under a strict CSP.
// Rules kept throughout:
// - the token lives in sessionStorage and travels only in the Authorization header, never in a URL;
// - anything from the server (tenant log lines, names, error messages) reaches the page through
//   textContent or input values only; no string is ever parsed as HTML.
"use strict";

(() => {
  const TOKEN_KEY = "tenement.token";
  const POLL_MS = 5_000;
  const FAST_POLL_MS = 1_000;
  /** How long after an action the table is polled fast. */
  const FAST_WINDOW_MS = 15_000;
  /** Points kept for the charts (at 5 s, 30 minutes). */
  const HISTORY_POINTS = 360;
  const MAX_LOG_LINES = 1_000;

  const $ = (id) => document.getElementById(id);

  /** Builds an element with text (never HTML) and a class. */
  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  // ---- formatting ----------------------------------------------------------------------------

  function formatDuration(secs) {
    if (secs === null || secs === undefined || !Number.isFinite(secs)) return "–";
    if (secs < 60) return `${Math.floor(secs)}s`;
    if (secs < 3600) return `${Math.floor(secs / 60)}m ${Math.floor(secs % 60)}s`;
    if (secs < 86400) return `${Math.floor(secs / 3600)}h ${Math.floor((secs % 3600) / 60)}m`;
    return `${Math.floor(secs / 86400)}d ${Math.floor((secs % 86400) / 3600)}h`;
  }

  function formatBytes(bytes) {
    if (bytes === null || bytes === undefined) return "–";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit++;
    }
    return `${value < 10 && unit > 0 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
  }

  function formatRate(rate) {
    if (rate === null || rate === undefined) return "–";
    if (rate === 0) return "0";
    return rate < 10 ? rate.toFixed(2) : rate.toFixed(1);
  }

  function formatMs(ms) {
    if (ms === null || ms === undefined) return "–";
    return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
  }

  function formatTime(ms) {
    const d = new Date(ms);
    const pad = (n, w = 2) => String(n).padStart(w, "0");
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${
      pad(d.getMilliseconds(), 3)
    }`;
  }

  // ---- session and API -----------------------------------------------------------------------

  const session = {
    get token() {
      return sessionStorage.getItem(TOKEN_KEY);
    },
    set token(value) {
      if (value === null) sessionStorage.removeItem(TOKEN_KEY);
      else sessionStorage.setItem(TOKEN_KEY, value);
    },
    /** `{kind, scope, tenant, services}` from /api/whoami. */
    who: null,
  };

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  /** The `error` of a JSON error body, or the status text. */
  async function errorMessage(res) {
    try {
      const body = await res.json();
      if (body && typeof body.error === "string") return body.error;
    } catch {
      // not JSON
    }
    return `${res.status} ${res.statusText}`.trim();
  }

  /** Calls the API with the bearer token; 401 signs out. Returns parsed JSON (or null). */
  async function api(method, path, body, token = session.token) {
    const headers = { authorization: `Bearer ${token}` };
    const init = { method, headers, cache: "no-store", referrerPolicy: "no-referrer" };
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    if (!res.ok) {
      const message = await errorMessage(res);
      if (res.status === 401 && token === session.token) {
        signOut(`Signed out: the server no longer accepts this token (${message}). Sign in again.`);
      }
      throw new ApiError(res.status, message);
    }
    if (res.status === 204) return null;
    const type = res.headers.get("content-type") || "";
    return type.includes("json") ? res.json() : null;
  }

  // ---- sign in and out -----------------------------------------------------------------------

  function showSignIn(message) {
    stopAll();
    $("app").hidden = true;
    $("sign-out").hidden = true;
    $("who").textContent = "";
    $("sign-in").hidden = false;
    $("sign-in-error").textContent = message || "";
    $("token").value = "";
    $("token").focus();
  }

  function signOut(message) {
    session.token = null;
    session.who = null;
    showSignIn(message);
  }

  async function signIn(token) {
    let who;
    try {
      who = await api("GET", "/api/whoami", undefined, token);
    } catch (err) {
      const status = err instanceof ApiError ? err.status : 0;
      const reason = status === 401
        ? `the token was refused (${err.message})`
        : err.message || String(err);
      showSignIn(`Cannot sign in: ${reason}`);
      return;
    }
    session.token = token;
    session.who = who;
    startApp();
  }

  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    if (token !== "") void signIn(token);
  });
  $("sign-out").addEventListener("click", () => signOut("Signed out."));

  // ---- notices -------------------------------------------------------------------------------

  let noticeTimer;
  function notice(text, isError = false) {
    const node = $("notice");
    node.textContent = text;
    node.classList.toggle("is-error", isError);
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => (node.textContent = ""), isError ? 12_000 : 5_000);
  }

  // ---- instance table ------------------------------------------------------------------------

  const state = {
    /** key → last telemetry row. */
    rows: new Map(),
    /** key → request rate (req/s) from the last two polls. */
    rates: new Map(),
    /** key → { total, atMs } of the previous poll. */
    lastCounts: new Map(),
    /** Chart history: times (s) and per-key rates; totals. */
    times: [],
    totalRates: [],
    rateByKey: new Map(),
    wakeP95ByKey: new Map(),
    wakeAvgByKey: new Map(),
    /** The instance whose logs and charts are shown; null for all. */
    selected: null,
    pollTimer: undefined,
    fastUntilMs: 0,
    isPolling: false,
  };

  const isAdmin = () => session.who && session.who.kind === "admin";

  function startApp() {
    $("sign-in").hidden = true;
    $("app").hidden = false;
    $("sign-out").hidden = false;
    const who = session.who;
    $("who").textContent = who.kind === "admin" ? "admin" : `tenant ${who.scope}`;
    for (const node of document.querySelectorAll(".admin-only")) node.hidden = !isAdmin();
    resetHistory();
    void poll();
    void loadLogs();
  }

  function resetHistory() {
    state.rows.clear();
    state.rates.clear();
    state.lastCounts.clear();
    state.times = [];
    state.totalRates = [];
    state.rateByKey.clear();
    state.wakeP95ByKey.clear();
    state.wakeAvgByKey.clear();
    state.selected = null;
    $("instances").tBodies[0].replaceChildren();
    $("log-lines").replaceChildren();
  }

  function stopAll() {
    clearTimeout(state.pollTimer);
    state.pollTimer = undefined;
    stopTail();
  }

  function scheduleNextPoll() {
    clearTimeout(state.pollTimer);
    if (!session.token) return;
    const isFast = !document.hidden && Date.now() < state.fastUntilMs;
    state.pollTimer = setTimeout(() => void poll(), isFast ? FAST_POLL_MS : POLL_MS);
  }

  /** After an action: poll now, then fast for a while. */
  function pollSoon() {
    state.fastUntilMs = Date.now() + FAST_WINDOW_MS;
    void poll();
  }

  async function poll() {
    if (state.isPolling || !session.token) return;
    state.isPolling = true;
    try {
      const telemetry = await api("GET", "/api/telemetry");
      absorb(telemetry);
    } catch (err) {
      if (session.token) notice(`Cannot load instances: ${err.message}`, true);
    } finally {
      state.isPolling = false;
      scheduleNextPoll();
    }
  }

  function absorb(telemetry) {
    const nowMs = Date.now();
    const seen = new Set();
    let totalRate = 0;
    for (const row of telemetry.instances) {
      seen.add(row.id);
      state.rows.set(row.id, row);
      const last = state.lastCounts.get(row.id);
      let rate = null;
      if (last && nowMs > last.atMs) {
        rate = Math.max(0, row.requests_total - last.total) / ((nowMs - last.atMs) / 1000);
      }
      state.lastCounts.set(row.id, { total: row.requests_total, atMs: nowMs });
      state.rates.set(row.id, rate);
      totalRate += rate ?? 0;
    }
    for (const key of [...state.rows.keys()]) {
      if (!seen.has(key)) {
        state.rows.delete(key);
        state.rates.delete(key);
        state.lastCounts.delete(key);
      }
    }
    recordHistory(nowMs, totalRate);
    renderSummary(telemetry, totalRate, nowMs);
    renderTable();
    renderCharts();
  }

  function pushBounded(list, value) {
    list.push(value);
    if (list.length > HISTORY_POINTS) list.shift();
  }

  function recordHistory(nowMs, totalRate) {
    const hadBefore = state.times.length;
    pushBounded(state.times, nowMs / 1000);
    pushBounded(state.totalRates, hadBefore === 0 ? null : totalRate);
    const keys = new Set([...state.rows.keys(), ...state.rateByKey.keys()]);
    for (const key of keys) {
      const row = state.rows.get(key);
      for (
        const [map, value] of [
          [state.rateByKey, row ? state.rates.get(key) : null],
          [state.wakeP95ByKey, row ? row.wake_p95_ms : null],
          [state.wakeAvgByKey, row ? row.wake_avg_ms : null],
        ]
      ) {
        let list = map.get(key);
        if (!list) {
          list = new Array(state.times.length - 1).fill(null);
          map.set(key, list);
        }
        pushBounded(list, value ?? null);
      }
      // An instance gone for the whole visible history is forgotten, so many short-lived
      // instances do not grow the tab's memory without end.
      if (!row && isAllNull(state.rateByKey.get(key)) && isAllNull(state.wakeP95ByKey.get(key))) {
        state.rateByKey.delete(key);
        state.wakeP95ByKey.delete(key);
        state.wakeAvgByKey.delete(key);
      }
    }
  }

  function isAllNull(list) {
    return !list || list.every((value) => value === null);
  }

  function renderSummary(telemetry, totalRate, nowMs) {
    const rows = telemetry.instances;
    $("sum-total").textContent = String(rows.length);
    $("sum-running").textContent = String(rows.filter((r) => r.status === "running").length);
    $("sum-healthy").textContent = String(rows.filter((r) => r.health === "healthy").length);
    $("sum-rate").textContent = state.times.length > 1 ? formatRate(totalRate) : "–";
    $("sum-updated").textContent = formatTime(nowMs).slice(0, 8);
  }

  /** key → { tr, cells } so rows are updated in place (an edited weight survives a poll). */
  const rowNodes = new Map();

  function renderTable() {
    const tbody = $("instances").tBodies[0];
    const keys = [...state.rows.keys()].sort();
    for (const [key, nodes] of rowNodes) {
      if (!state.rows.has(key)) {
        nodes.tr.remove();
        rowNodes.delete(key);
      }
    }
    keys.forEach((key, index) => {
      let nodes = rowNodes.get(key);
      if (!nodes) {
        nodes = buildRow(key);
        rowNodes.set(key, nodes);
      }
      if (tbody.children[index] !== nodes.tr) {
        tbody.insertBefore(nodes.tr, tbody.children[index] ?? null);
      }
      fillRow(nodes, state.rows.get(key));
    });
    $("no-instances").hidden = keys.length > 0;
  }

  function buildRow(key) {
    const tr = el("tr");
    tr.dataset.key = key;
    const cell = (className) => tr.appendChild(el("td", null, className));
    const keyCell = cell("key");
    const pick = el("button", key);
    pick.type = "button";
    pick.title = "Show this instance's logs and charts";
    pick.addEventListener("click", () => select(key));
    keyCell.appendChild(pick);
    const nodes = {
      tr,
      status: el("span", null, "badge"),
      health: el("span", null, "badge"),
      uptime: cell("num uptime"),
      idle: cell("num idle"),
      restarts: cell("num restarts"),
      weight: cell("num weight"),
      memory: cell("num memory"),
      rate: cell("num rate"),
      wake: cell("num wake"),
    };
    // Status and health cells go after the key.
    const statusCell = el("td", null, "status");
    statusCell.appendChild(nodes.status);
    const healthCell = el("td", null, "health");
    healthCell.appendChild(nodes.health);
    tr.insertBefore(healthCell, nodes.uptime);
    tr.insertBefore(statusCell, healthCell);
    if (isAdmin()) {
      const actions = cell("actions");
      nodes.start = actionButton("Start", "plain", () => act(key, "start"));
      nodes.restart = actionButton("Restart", "plain", () => act(key, "restart"));
      nodes.stop = actionButton(
        "Stop",
        "danger",
        (button) => confirmThen(button, () => act(key, "stop")),
      );
      nodes.weightInput = el("input");
      nodes.weightInput.type = "number";
      nodes.weightInput.min = "0";
      nodes.weightInput.max = "100";
      nodes.weightInput.title = "Weight (0-100) for the service's shared host";
      nodes.weightInput.setAttribute("aria-label", `weight of ${key}`);
      nodes.weightSet = actionButton(
        "Set weight",
        "plain",
        () => setWeight(key, nodes.weightInput),
      );
      nodes.weightInput.addEventListener("keydown", (event) => {
        if (event.key === "Enter") void setWeight(key, nodes.weightInput);
      });
      actions.append(nodes.start, nodes.restart, nodes.stop, nodes.weightInput, nodes.weightSet);
    }
    return nodes;
  }

  function actionButton(label, variant, onClick) {
    const button = el("button", label, `small ${variant}`);
    button.type = "button";
    button.dataset.action = label.toLowerCase().replace(/\s+/g, "-");
    button.addEventListener("click", () => onClick(button));
    return button;
  }

  /** Two clicks to stop: the first arms the button for 4 s. */
  function confirmThen(button, run) {
    if (button.classList.contains("is-armed")) {
      button.classList.remove("is-armed");
      button.textContent = "Stop";
      void run();
      return;
    }
    button.classList.add("is-armed");
    button.textContent = "Confirm stop";
    setTimeout(() => {
      button.classList.remove("is-armed");
      button.textContent = "Stop";
    }, 4_000);
  }

  function fillRow(nodes, row) {
    nodes.status.textContent = row.status;
    nodes.status.className = `badge s-${row.status}`;
    nodes.health.textContent = row.health;
    nodes.health.className = `badge h-${row.health}`;
    const isAwake = row.status === "running" || row.status === "starting";
    nodes.uptime.textContent = isAwake ? formatDuration(row.uptime_secs) : "–";
    nodes.idle.textContent = isAwake ? formatDuration(row.idle_secs) : "–";
    nodes.restarts.textContent = String(row.restarts);
    nodes.weight.textContent = String(row.weight);
    nodes.memory.textContent = formatBytes(row.rss_bytes);
    nodes.rate.textContent = formatRate(state.rates.get(row.id));
    nodes.wake.textContent = formatMs(row.wake_avg_ms);
    nodes.wake.title = row.wakes > 0
      ? `${row.wakes} wakes, p95 at most ${formatMs(row.wake_p95_ms)}`
      : "no wakes recorded";
    nodes.tr.classList.toggle("is-selected", state.selected === row.id);
    if (nodes.start) {
      const isDown = row.status === "stopped" || row.status === "asleep" || row.status === "failed";
      nodes.start.hidden = !isDown;
      nodes.stop.hidden = isDown;
      if (document.activeElement !== nodes.weightInput && !nodes.weightInput.dataset.dirty) {
        nodes.weightInput.value = String(row.weight);
      }
    }
  }

  function splitKey(key) {
    const colon = key.indexOf(":");
    return { process: key.slice(0, colon), id: key.slice(colon + 1) };
  }

  async function act(key, action) {
    const path = `/api/instances/${encodeURIComponent(key).replace("%3A", ":")}`;
    try {
      if (action === "stop") await api("DELETE", path);
      else if (action === "restart") await api("POST", `${path}/restart`);
      else if (action === "start") await api("POST", "/api/instances/spawn", splitKey(key));
      notice(
        `${action === "stop" ? "Stopped" : action === "restart" ? "Restarted" : "Started"} ${key}`,
      );
    } catch (err) {
      notice(`Cannot ${action} ${key}: ${err.message}`, true);
    }
    pollSoon();
  }

  async function setWeight(key, input) {
    const weight = Number(input.value);
    if (!Number.isInteger(weight) || weight < 0 || weight > 100) {
      notice(`Cannot set the weight of ${key}: expected a whole number from 0 to 100`, true);
      return;
    }
    const path = `/api/instances/${encodeURIComponent(key).replace("%3A", ":")}/weight`;
    try {
      const res = await api("PUT", path, { weight });
      delete input.dataset.dirty;
      input.blur();
      notice(`Weight of ${key} set to ${res.weight}`);
    } catch (err) {
      notice(`Cannot set the weight of ${key}: ${err.message}`, true);
    }
    pollSoon();
  }

  $("instances").addEventListener("input", (event) => {
    if (event.target instanceof HTMLInputElement) event.target.dataset.dirty = "1";
  });

  $("spawn-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const process = $("spawn-process").value.trim();
    const id = $("spawn-id").value.trim();
    if (!process || !id) return;
    const button = event.target.querySelector("button");
    button.disabled = true;
    notice(`Spawning ${process}:${id} …`);
    try {
      await api("POST", "/api/instances/spawn", { process, id });
      notice(`Spawned ${process}:${id}`);
      $("spawn-id").value = "";
    } catch (err) {
      notice(`Cannot spawn ${process}:${id}: ${err.message}`, true);
    } finally {
      button.disabled = false;
    }
    pollSoon();
  });

  function renderKnownProcesses() {
    const list = $("known-processes");
    const names = [...new Set([...state.rows.values()].map((r) => r.process))].sort();
    if (list.children.length === names.length) return;
    list.replaceChildren(...names.map((name) => {
      const option = el("option");
      option.value = name;
      return option;
    }));
  }

  function select(key) {
    state.selected = state.selected === key ? null : key;
    for (const [k, nodes] of rowNodes) {
      nodes.tr.classList.toggle("is-selected", k === state.selected);
    }
    $("logs-target").textContent = state.selected ?? "all instances";
    $("logs-all").hidden = state.selected === null;
    renderCharts();
    void loadLogs();
  }
  $("logs-all").addEventListener("click", () => {
    if (state.selected !== null) select(state.selected);
  });

  // ---- charts --------------------------------------------------------------------------------

  const charts = { rate: null, wake: null };

  function chartWidth(id) {
    return Math.max(280, $(id).clientWidth || 400);
  }

  function makeChart(id, series, data) {
    if (typeof uPlot !== "function") return null;
    const opts = {
      width: chartWidth(id),
      height: 200,
      scales: {
        // At least the last two minutes, so a short history does not stretch over years.
        x: { time: true, range: (_u, min, max) => [Math.min(min, max - 120), max] },
        y: { range: (_u, min, max) => [0, Math.max(1, max * 1.15, min)] },
      },
      axes: [{}, { size: 56 }],
      legend: { live: false },
      series: [{}, ...series],
    };
    return new uPlot(opts, data, $(id));
  }

  function renderCharts() {
    renderKnownProcesses();
    const key = state.selected;
    $("rate-target").textContent = key ? `total and ${key}, req/s` : "all instances, req/s";
    $("wake-target").textContent = key ? `${key}, ms` : "slowest instance, ms";
    const times = state.times;
    const rateSeries = [{
      label: "total",
      stroke: "#2f6fdb",
      width: 2,
      fill: "rgba(47,111,219,0.08)",
    }];
    const rateData = [times, state.totalRates];
    if (key) {
      rateSeries.push({ label: key, stroke: "#d9822b", width: 2 });
      rateData.push(state.rateByKey.get(key) ?? times.map(() => null));
    }
    let p95;
    let avg;
    if (key) {
      p95 = state.wakeP95ByKey.get(key) ?? times.map(() => null);
      avg = state.wakeAvgByKey.get(key) ?? times.map(() => null);
    } else {
      // The slowest instance at each poll.
      const maxOf = (map) =>
        times.map((_t, i) => {
          let best = null;
          for (const list of map.values()) {
            const v = list[i];
            if (v !== null && v !== undefined && (best === null || v > best)) best = v;
          }
          return best;
        });
      p95 = maxOf(state.wakeP95ByKey);
      avg = maxOf(state.wakeAvgByKey);
    }
    const wakeSeries = [
      { label: "p95", stroke: "#c4271b", width: 2 },
      { label: "average", stroke: "#1a7f37", width: 2, dash: [4, 4] },
    ];
    charts.rate = redraw(charts.rate, "chart-rate", rateSeries, rateData);
    charts.wake = redraw(charts.wake, "chart-wake", wakeSeries, [times, p95, avg]);
  }

  function redraw(chart, id, series, rawData) {
    // A lone first point would make uPlot stretch the time axis over years: start the axis two
    // minutes earlier with an empty point.
    const data = rawData[0].length === 1
      ? rawData.map((list, i) => i === 0 ? [list[0] - 120, list[0]] : [null, list[0]])
      : rawData;
    if (
      chart && chart.series.length === series.length + 1 &&
      chart.series[1]?.label === series[0].label &&
      chart.series.at(-1)?.label === series.at(-1).label
    ) {
      chart.setData(data);
      return chart;
    }
    chart?.destroy();
    return makeChart(id, series, data);
  }

  // Charts follow their card's width (a window resize, the grid stacking them on a narrow screen).
  const resizeObserver = new ResizeObserver((entries) => {
    for (const entry of entries) {
      const chart = entry.target.id === "chart-rate" ? charts.rate : charts.wake;
      const width = Math.max(280, Math.floor(entry.contentRect.width));
      if (chart && Math.abs(chart.width - width) > 2) chart.setSize({ width, height: 200 });
    }
  });
  resizeObserver.observe($("chart-rate"));
  resizeObserver.observe($("chart-wake"));

  // ---- logs ----------------------------------------------------------------------------------

  /** lastId: the newest line shown; isLoaded: the history for the current filter is shown. */
  const logs = { lastId: 0, isLoaded: false, tail: null };

  function logQuery() {
    const params = new URLSearchParams();
    if (state.selected) {
      const { process, id } = splitKey(state.selected);
      params.set("process", process);
      params.set("id", id);
    }
    const search = $("logs-search").value.trim();
    if (search) params.set("search", search);
    const level = $("logs-level").value;
    if (level) params.set("level", level);
    return params;
  }

  function logLine(entry) {
    const li = el("li");
    li.dataset.id = String(entry.id);
    li.append(
      el("span", `${formatTime(entry.timestamp)} `, "time"),
      el(
        "span",
        entry.level === "stdout" ? "OUT" : entry.level === "stderr" ? "ERR" : "EVT",
        `lvl lvl-${entry.level}`,
      ),
      el("span", `${entry.process}:${entry.instance_id} `, "inst"),
      el("span", entry.message, "msg"),
    );
    return li;
  }

  function appendLines(entries) {
    const list = $("log-lines");
    const isAtBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 30;
    for (const entry of entries) {
      if (entry.id <= logs.lastId) continue;
      logs.lastId = entry.id;
      list.appendChild(logLine(entry));
    }
    while (list.children.length > MAX_LOG_LINES) list.firstElementChild.remove();
    if (isAtBottom) list.scrollTop = list.scrollHeight;
  }

  async function loadLogs() {
    if (!session.token) return;
    stopTail();
    const params = logQuery();
    params.set("limit", "200");
    logs.isLoaded = false;
    $("logs-error").textContent = "";
    $("logs-status").textContent = "Loading …";
    try {
      // Newest 200: ask newest-first is not offered, so narrow by time instead when large.
      const entries = await api("GET", `/api/logs?${params}`);
      $("log-lines").replaceChildren();
      logs.lastId = 0;
      appendLines(entries);
      logs.isLoaded = true;
      $("logs-status").textContent = entries.length === 0
        ? "No matching lines."
        : `${entries.length} lines`;
      const list = $("log-lines");
      list.scrollTop = list.scrollHeight;
      if ($("logs-tail").checked) startTail();
    } catch (err) {
      $("log-lines").replaceChildren();
      $("logs-status").textContent = "";
      $("logs-error").textContent = err.message;
    }
  }

  $("logs-form").addEventListener("submit", (event) => {
    event.preventDefault();
    void loadLogs();
  });
  $("logs-level").addEventListener("change", () => void loadLogs());
  $("logs-tail").addEventListener("change", () => {
    if ($("logs-tail").checked) startTail();
    else stopTail();
  });

  function stopTail() {
    if (logs.tail) {
      logs.tail.abort();
      logs.tail = null;
      $("logs-status").textContent = "";
    }
  }

  /**
   * Live tail: fetch() of the SSE stream (EventSource cannot send the Authorization header), its
   * body parsed here; reconnects with Last-Event-ID so nothing is missed or repeated.
   */
  function startTail() {
    stopTail();
    const controller = new AbortController();
    logs.tail = controller;
    const params = logQuery();
    void (async () => {
      let delayMs = 1_000;
      while (!controller.signal.aborted && session.token) {
        try {
          const headers = { authorization: `Bearer ${session.token}`, accept: "text/event-stream" };
          // After a history with no line (lastId 0), resuming from 0 still sends the lines
          // written between that query and this stream: none of the older ones matched.
          if (logs.isLoaded) headers["last-event-id"] = String(logs.lastId);
          const res = await fetch(`/api/logs/stream?${params}`, {
            headers,
            cache: "no-store",
            signal: controller.signal,
          });
          if (!res.ok) {
            const message = await errorMessage(res);
            if (res.status === 401) {
              signOut(
                `Signed out: the server no longer accepts this token (${message}). Sign in again.`,
              );
              return;
            }
            if (res.status === 400 || res.status === 403 || res.status === 404) {
              $("logs-error").textContent = message;
              $("logs-tail").checked = false;
              return;
            }
            throw new Error(message);
          }
          $("logs-status").textContent = "Live: following new lines";
          delayMs = 1_000;
          await readEvents(res.body, (data) => appendLines([JSON.parse(data)]));
        } catch (err) {
          if (controller.signal.aborted) return;
          $("logs-status").textContent = `Live tail interrupted (${err.message}); reconnecting …`;
        }
        if (controller.signal.aborted) return;
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        delayMs = Math.min(delayMs * 2, 15_000);
      }
    })();
  }

  /** Reads server-sent events from `body`, calling `onData` with each event's data. */
  async function readEvents(body, onData) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
        const data = [];
        for (const line of block.split(/\r?\n/)) {
          if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length > 0) onData(data.join("\n"));
      }
    }
  }

  // ---- start ---------------------------------------------------------------------------------

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && session.token) void poll();
  });

  const saved = session.token;
  if (saved) void signIn(saved);
  else showSignIn("");
})();
