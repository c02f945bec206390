// The wasmvisor dashboard: the supervision tree, live from the admin API.
//
// Plain JavaScript, no build step and no dependencies. Data comes from the
// same endpoints the CLI uses, each request carrying the admin token as
// `Authorization: Bearer`; the token stays in this tab's sessionStorage
// (never in a cookie: see host/src/admin/dashboard.rs). Every value from the
// host is written with textContent, never as HTML.
"use strict";

const TOKEN_KEY = "wasmvisor-admin-token";
// Event kinds the host sends (see host/src/events.rs), plus `lagged`.
const EVENT_KINDS = [
  "actor-started", "actor-exited", "restart-scheduled", "restart-failed",
  "health-changed", "actor-stopped", "actor-upgraded", "upgrade-started",
  "upgrade-committed", "upgrade-rolled-back", "plugin-rejected", "dead-lettered", "supervisor-gave-up", "lagged",
];
const TIMELINE_LIMIT = 500;
// Uptime, mailboxes and memory move without events: refresh this often too.
const POLL_MS = 2000;

const $ = (id) => document.getElementById(id);
let selected = null;     // the actor the side panel is about
let treeShape = "";      // the tree's structure when it was last built
let refreshTimer = null;
let knownNames = [];
let refreshAsked = 0;    // refreshes asked for, and the newest one drawn:
let refreshDrawn = 0;    // an older answer arriving late is not drawn
let stopped = true;      // signed out: no polling, no stream
let streams = 0;         // the newest event stream; older ones end

// ---------------------------------------------------------------- formatting

function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

function duration(ms) {
  if (ms == null) return "–";
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

// "stack-overflow" -> "stack overflow"
const words = (kind) => kind.replace(/-/g, " ");

// A serde enum as the host sends it ({kind, detail}) in words.
function reasonText(reason) {
  if (reason == null) return "";
  if (typeof reason === "string") return reason;
  const detail = reason.detail;
  let text = words(reason.kind);
  if (typeof detail === "string") text += `: ${detail}`;
  else if (detail && typeof detail === "object" && "kind" in detail) text += `: ${reasonText(detail)}`;
  else if (detail && typeof detail === "object") {
    text += ` (${Object.entries(detail).map(([k, v]) => `${words(k)} ${v}`).join(", ")})`;
  }
  return text;
}

function statusText(status) {
  return status.reason ? `${status.state}: ${status.reason}` : status.state;
}

function healthText(health) {
  return health.reason ? `${health.status}: ${health.reason}` : health.status;
}

function clock(date) {
  return date.toLocaleTimeString([], { hour12: false });
}

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) node.append(child);
  return node;
}

// ------------------------------------------------------------------- the API

const token = () => sessionStorage.getItem(TOKEN_KEY);

async function api(path, options = {}) {
  const headers = { ...(options.headers ?? {}), authorization: `Bearer ${token()}` };
  const response = await fetch(path, { ...options, headers, cache: "no-store" });
  if (response.status === 401) signOut("The host refused the token (it may have changed): sign in again.");
  return response;
}

// The error an answer carries ({error, message}), as text.
async function errorOf(response) {
  try {
    const body = await response.json();
    return `${body.error}: ${body.message}`;
  } catch {
    return `HTTP ${response.status}`;
  }
}

function showNotice(text, bad = false) {
  const notice = $("notice");
  notice.textContent = text;
  notice.className = bad ? "notice bad" : "notice";
}

// ------------------------------------------------------------------ signing in

// `#token=...` in the address (what `wasmvisor dashboard` prints): taken into
// this tab's storage and removed from the address bar and history entry.
function takeTokenFromAddress() {
  const match = /^#token=(.*)$/.exec(location.hash);
  if (!match) return;
  let value = match[1];
  try { value = decodeURIComponent(value); } catch { /* not encoded: as it is */ }
  sessionStorage.setItem(TOKEN_KEY, value);
  history.replaceState(null, "", location.pathname);
}

function signOut(problem = "") {
  stopped = true;
  sessionStorage.removeItem(TOKEN_KEY);
  $("dashboard").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  $("problem").textContent = problem;
  $("connection").textContent = "signed out";
  $("connection").className = "pill pill-bad";
}

async function signIn(event) {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
  $("token").value = "";
  const response = await fetch("/v1/tree", { headers: { authorization: `Bearer ${token()}` }, cache: "no-store" })
    .catch(() => null);
  if (!response || !response.ok) {
    signOut(response?.status === 401 ? "That is not this host's admin token." : "The host cannot be reached.");
    return;
  }
  start();
}

function start() {
  stopped = false;
  $("timeline").replaceChildren(); // the stream replays the kept events
  $("sign-in").hidden = true;
  $("dashboard").hidden = false;
  $("sign-out").hidden = false;
  refresh();
  follow();
}

// ------------------------------------------------------------------ the tree

// The tree's structure: names, kinds and nesting, not their values.
function shapeOf(nodes) {
  return JSON.stringify(nodes.map(function shape(node) {
    return [node.name, node.children.map((c) => [c.name, c.kind, c.supervisor ? shape(c.supervisor) : null])];
  }));
}

const COLUMNS = [
  ["name", "Actor"], ["world", "World"], ["status", "Status"], ["uptime", "Uptime"], ["restarts", "Restarts"],
  ["last-exit", "Last exit"], ["health", "Health"], ["version", "Version"],
  ["memory", "Memory"], ["mailbox", "Mailbox"], ["state", "State"], ["actions", ""],
];

function buildSupervisor(node) {
  const section = el("section", { class: "supervisor", "data-supervisor": node.name });
  section.append(el("header", {}, [
    el("h3", { text: node.name }),
    el("span", { class: "pill", "data-field": "sup-status" }),
    el("span", { class: "meta", "data-field": "sup-strategy" }),
    el("span", { class: "meta", "data-field": "sup-budget" }),
  ]));
  const table = el("table", { class: "children" });
  table.append(el("thead", {}, [el("tr", {}, COLUMNS.map(([, title]) => el("th", { text: title })))]));
  const body = el("tbody");
  for (const child of node.children) {
    const row = el("tr", { "data-actor": child.name, "data-kind": child.kind });
    for (const [field] of COLUMNS) row.append(el("td", { "data-field": field }));
    const name = row.querySelector('[data-field="name"]');
    if (child.kind === "worker") {
      name.append(el("button", {
        class: "link", text: child.name, title: "Send it a message, look at its state",
        onclick: () => select(child.name),
      }));
    } else {
      name.append(el("span", { text: `${child.name} (supervisor)` }));
    }
    const actions = row.querySelector('[data-field="actions"]');
    for (const action of ["restart", "stop", "start"]) {
      actions.append(el("button", {
        class: "small", text: action, "data-action": action,
        onclick: () => act(action, child.name),
      }));
    }
    body.append(row);
    if (child.supervisor) {
      const nested = el("tr", { class: "nested" }, [el("td", { colSpan: COLUMNS.length }, [buildSupervisor(child.supervisor)])]);
      body.append(nested);
    }
  }
  table.append(body);
  section.append(table);
  return section;
}

function fillSupervisor(section, node) {
  const field = (name) => section.querySelector(`:scope > header [data-field="${name}"]`);
  const running = node.status.state === "running";
  field("sup-status").textContent = statusText(node.status);
  field("sup-status").className = `pill ${running ? "pill-ok" : "pill-bad"}`;
  field("sup-strategy").textContent = node.strategy;
  const budget = node.restart_budget;
  const left = Math.max(0, budget.max_restarts - budget.used);
  field("sup-budget").textContent =
    `restarts left: ${left} of ${budget.max_restarts} per ${duration(budget.within_ms)}`;
  field("sup-budget").classList.toggle("warn", left === 0);
  const rows = section.querySelectorAll(":scope > table > tbody > tr[data-actor]");
  node.children.forEach((child, i) => {
    fillRow(rows[i], child);
    if (child.supervisor) {
      fillSupervisor(rows[i].nextElementSibling.querySelector("section.supervisor"), child.supervisor);
    }
  });
}

function fillRow(row, child) {
  const set = (field, text, cls = "") => {
    const cell = row.querySelector(`[data-field="${field}"]`);
    cell.textContent = text;
    cell.className = cls;
  };
  const state = child.status.state;
  const statusCell = row.querySelector('[data-field="status"]');
  statusCell.replaceChildren(el("span", {
    class: `pill ${state === "running" ? "pill-ok" : state === "stopped" ? "pill-bad" : "pill-wait"}`,
    text: statusText(child.status),
  }));
  set("uptime", duration(child.uptime_ms));
  set("restarts", String(child.restarts), child.restarts > 0 ? "num warn" : "num");
  set("last-exit", child.last_exit ? reasonText(child.last_exit) : "–");
  if (child.kind === "worker") {
    const health = child.health.status;
    set("health", healthText(child.health),
      health === "healthy" ? "ok" : health === "degraded" ? "warn" : health === "unhealthy" ? "bad" : "");
    set("world", child.world ?? "–");
    set("version", versionText(child));
    set("memory", bytes(child.memory_bytes), "num");
    set("mailbox", String(child.mailbox_depth), child.mailbox_depth > 0 ? "num warn" : "num");
    set("state", bytes(child.state_bytes), "num");
  } else {
    for (const field of ["world", "health", "version", "memory", "mailbox", "state"]) set(field, "");
  }
  const down = state === "stopped";
  row.querySelector('[data-action="stop"]').disabled = down;
  row.querySelector('[data-action="start"]').disabled = !down;
  row.dataset.status = state;
}

function allChildren(nodes) {
  return nodes.flatMap((node) =>
    node.children.flatMap((child) => [child, ...(child.supervisor ? allChildren([child.supervisor]) : [])]));
}

async function refresh() {
  if (stopped) return;
  const asked = ++refreshAsked;
  let nodes;
  try {
    const response = await api("/v1/tree");
    if (!response.ok) return;
    nodes = await response.json();
  } catch {
    return; // the host is away; the event stream says so
  }
  if (asked < refreshDrawn) return; // a newer answer is already drawn
  refreshDrawn = asked;
  const tree = $("tree");
  const shape = shapeOf(nodes);
  if (shape !== treeShape) {
    treeShape = shape;
    tree.replaceChildren(...nodes.map(buildSupervisor));
    if (nodes.length === 0) tree.replaceChildren(el("p", { class: "empty", text: "No supervisors." }));
  }
  const sections = tree.querySelectorAll(":scope > section.supervisor");
  nodes.forEach((node, i) => fillSupervisor(sections[i], node));

  const children = allChildren(nodes);
  const workers = children.filter((c) => c.kind === "worker");
  const running = workers.filter((c) => c.status.state === "running").length;
  $("summary").textContent =
    `${nodes.length} supervisor(s), ${workers.length} actor(s), ${running} running`;
  updateFilter(children.map((c) => c.name));
}

// Many events arrive together (a one-for-all restart): one refresh for them.
function refreshSoon() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    refresh();
  }, 100);
}

// ----------------------------------------------------------------- actions

function confirmAction(text) {
  const dialog = $("confirm");
  $("confirm-text").textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}

const ACTION_WORDS = {
  restart: ["Restart", "It is stopped (by its shutdown spec) and started again; its supervisor does not count this toward its restart intensity.", "restarted"],
  stop: ["Stop", "It stays down, and its messages are refused, until it is started again.", "stopped"],
  start: ["Start", "A new instance starts on its saved state.", "started"],
};

async function act(action, name) {
  const [verb, consequence, done] = ACTION_WORDS[action];
  $("confirm-ok").textContent = verb;
  if (!(await confirmAction(`${verb} \`${name}\`? ${consequence}`))) return;
  showNotice(`${verb} ${name}…`);
  try {
    const response = await api(`/v1/actors/${encodeURIComponent(name)}/${action}`, { method: "POST" });
    const started = response.status === 200 ? await response.json() : null;
    if (started && started.instance === null) showNotice(`${name} ignored its start: it stays stopped`);
    else if (response.ok) showNotice(`${name} ${done}`);
    else showNotice(`${verb} ${name}: ${await errorOf(response)}`, true);
  } catch {
    showNotice(`${verb} ${name}: the host cannot be reached`, true);
  }
  refresh();
}

function select(name) {
  selected = name;
  $("actor-panel").hidden = false;
  $("actor-title").textContent = name;
  $("reply").hidden = true;
  $("state").hidden = true;
  $("message").focus();
}

async function send(event) {
  event.preventDefault();
  if (!selected) return;
  const name = selected;
  const reply = $("reply");
  reply.hidden = false;
  reply.className = "reply pending";
  reply.textContent = `waiting for ${name}…`;
  const answer = (ok, label, text) => {
    reply.className = ok ? "reply ok" : "reply bad";
    reply.replaceChildren(el("span", { class: "label", text: label }), el("pre", { text }));
  };
  try {
    const response = await api(`/v1/actors/${encodeURIComponent(name)}/call`, {
      method: "POST", body: $("message").value,
    });
    if (response.ok) answer(true, `${name} replied`, await response.text());
    else answer(false, `${name} did not reply`, await errorOf(response));
  } catch {
    answer(false, `${name} did not reply`, "the host cannot be reached");
  }
}

async function showState() {
  if (!selected) return;
  const name = selected;
  const box = $("state");
  box.hidden = false;
  let response, state;
  try {
    response = await api(`/v1/actors/${encodeURIComponent(name)}/state`);
    state = response.ok ? await response.json() : null;
  } catch {
    box.replaceChildren(el("p", { class: "bad", text: "the host cannot be reached" }));
    return;
  }
  if (selected !== name) return; // another actor was chosen meanwhile
  if (!state) {
    box.replaceChildren(el("p", { class: "bad", text: await errorOf(response) }));
    return;
  }
  const keys = Object.keys(state.entries);
  const rows = keys.map((key) => {
    const value = state.entries[key];
    const [form, text] = "text" in value ? ["text", value.text] : ["hex", value.hex];
    return el("tr", {}, [el("td", { class: "key", text: key }), el("td", { text }), el("td", { class: "meta", text: form })]);
  });
  box.replaceChildren(
    el("p", { class: "meta", text: `${name}: ${keys.length} key(s), version ${state.version}${state.snapshot ? ", with a snapshot" : ""}` }),
    el("table", { class: "state" }, [el("tbody", {}, rows)]),
  );
}

// ---------------------------------------------------------------- timeline

function subjectOf(event) {
  return event.actor ?? event.supervisor ?? event.plugin ?? "";
}

// The version, and the probation of a hot upgrade while one runs.
function versionText(child) {
  const version = child.version ?? "–";
  const probation = child.probation;
  if (!probation) return version;
  return `${version} (on probation: ${Math.ceil(probation.remaining_ms / 1000)} s or ` +
    `${probation.messages_left} messages left; was ${probation.previous_version})`;
}

function detailOf(kind, event) {
  switch (kind) {
    case "actor-started": return `instance ${event.instance}`;
    case "actor-exited": return `instance ${event.instance} ${reasonText(event.reason)}`;
    case "restart-scheduled": return `restart in ${event.delay_ms} ms`;
    case "health-changed": return healthText(event.status);
    case "actor-upgraded": return `now version ${event.version}`;
    case "upgrade-started": return `from version ${event.from} to ${event.to}`;
    case "upgrade-committed": return `version ${event.version} kept`;
    case "upgrade-rolled-back":
      return `${event.in_probation ? "rolled back" : "refused"}: ${event.reason}`;
    case "dead-lettered": return `dead letter ${event.id} after ${event.attempts} crashed deliveries`;
    case "lagged": return `this page missed ${event.missed} event(s)`;
    default: return event.reason ?? "";
  }
}

const SEVERITY = {
  "actor-exited": "warn", "restart-failed": "bad", "actor-stopped": "bad", "upgrade-rolled-back": "bad",
  "upgrade-committed": "ok",
  "plugin-rejected": "bad", "dead-lettered": "bad", "supervisor-gave-up": "bad", "lagged": "warn",
  "actor-started": "ok", "actor-upgraded": "ok",
};

function addEvent(kind, event) {
  const subject = subjectOf(event);
  const severity = kind === "health-changed"
    ? (event.status.status === "healthy" ? "ok" : "warn")
    : SEVERITY[kind] ?? "";
  const item = el("li", { "data-subject": subject, "data-kind": kind }, [
    el("time", { text: clock(event.at_ms ? new Date(event.at_ms) : new Date()) }),
    el("span", { class: `pill pill-${severity || "plain"}`, text: words(kind) }),
    el("strong", { text: subject }),
    el("span", { class: "detail", text: detailOf(kind, event) }),
  ]);
  const timeline = $("timeline");
  timeline.prepend(item);
  while (timeline.children.length > TIMELINE_LIMIT) timeline.lastElementChild.remove();
  applyFilter();
}

function applyFilter() {
  const wanted = $("timeline-filter").value;
  let shown = 0;
  for (const item of $("timeline").children) {
    item.hidden = wanted !== "" && item.dataset.subject !== wanted;
    if (!item.hidden) shown++;
  }
  $("timeline-empty").hidden = shown > 0;
}

function updateFilter(names) {
  const sorted = [...new Set(names)].sort();
  if (JSON.stringify(sorted) === JSON.stringify(knownNames)) return;
  knownNames = sorted;
  const filter = $("timeline-filter");
  const current = filter.value;
  filter.replaceChildren(el("option", { value: "", text: "every actor" }),
    ...sorted.map((name) => el("option", { value: name, text: name })));
  filter.value = sorted.includes(current) ? current : "";
  applyFilter();
}

// --------------------------------------------------------------- live stream

function setConnection(text, cls) {
  $("connection").textContent = text;
  $("connection").className = `pill ${cls}`;
}

// One server-sent event (the lines between two blank lines).
function dispatch(block, position) {
  let kind = "message", data = "";
  for (const line of block.split("\n")) {
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") kind = value;
    else if (field === "data") data += value;
    else if (field === "id") position.id = value;
  }
  if (!EVENT_KINDS.includes(kind)) return; // keep-alive comments, unknown kinds
  let event = {};
  try { event = JSON.parse(data); } catch { /* shown without details */ }
  addEvent(kind, event);
  refreshSoon();
}

// The event stream, read with fetch (an EventSource cannot send the token).
// It starts from the events the host kept, so the timeline shows what
// happened before the page opened; after a break it asks for what followed
// the last event id it saw (the host replays it, or says how many it no
// longer has; an id from an earlier run of the host replays all it kept).
async function follow() {
  const mine = ++streams;
  const current = () => !stopped && mine === streams;
  const position = { id: "0" };
  let wait = 500;
  while (current()) {
    try {
      const response = await api(`/v1/events?since=${encodeURIComponent(position.id)}`);
      if (response.status === 401) return;
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      setConnection("live", "pill-ok");
      wait = 500;
      refresh(); // the tree as it is now
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done || !current()) {
          reader.cancel().catch(() => {});
          break;
        }
        buffer += value.replace(/\r\n?/g, "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          dispatch(buffer.slice(0, end), position);
          buffer = buffer.slice(end + 2);
        }
      }
    } catch {
      // the host went away or the connection broke: try again below
    }
    if (!current()) return;
    setConnection("reconnecting…", "pill-wait");
    await new Promise((resolve) => setTimeout(resolve, wait));
    wait = Math.min(wait * 2, 10000);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("send-form").addEventListener("submit", send);
  $("load-state").addEventListener("click", showState);
  $("timeline-filter").addEventListener("change", applyFilter);
  $("timeline-clear").addEventListener("click", () => { $("timeline").replaceChildren(); applyFilter(); });
  $("sign-in-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", () => signOut());
  setInterval(refresh, POLL_MS);
  // A sign-in address opened in a tab already on the page.
  window.addEventListener("hashchange", () => {
    takeTokenFromAddress();
    if (token() && stopped) start();
  });
  takeTokenFromAddress();
  if (token()) start();
  else signOut();
});
