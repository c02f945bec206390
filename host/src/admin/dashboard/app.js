// The wasmvisor dashboard: the supervision tree, live from the admin API.
//
// Plain JavaScript, no build step and no dependencies. Data comes from the
// same endpoints the CLI uses; the session cookie signs every request, and
// requests that change something carry the CSRF header the endpoint asks for.
// Every value from the host is written with textContent, never as HTML.
"use strict";

const CSRF = { "x-wasmvisor-csrf": "1" };
// Event kinds the host sends (see host/src/events.rs), plus `lagged`.
const EVENT_KINDS = [
  "actor-started", "actor-exited", "restart-scheduled", "restart-failed",
  "health-changed", "actor-stopped", "actor-upgraded", "upgrade-failed",
  "plugin-rejected", "dead-lettered", "supervisor-gave-up", "lagged",
];
const TIMELINE_LIMIT = 500;
// Uptime, mailboxes and memory move without events: refresh this often too.
const POLL_MS = 2000;

const $ = (id) => document.getElementById(id);
let selected = null;     // the actor the side panel is about
let treeShape = "";      // the tree's structure when it was last built
let refreshTimer = null;
let knownNames = [];

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
  if (m < 60) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
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

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, cache: "no-store" });
  if (response.status === 401) {
    showNotice("The session ended: reload the page to sign in again.", true);
  }
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

// ------------------------------------------------------------------ the tree

// The tree's structure: names, kinds and nesting, not their values.
function shapeOf(nodes) {
  return JSON.stringify(nodes.map(function shape(node) {
    return [node.name, node.children.map((c) => [c.name, c.kind, c.supervisor ? shape(c.supervisor) : null])];
  }));
}

const COLUMNS = [
  ["name", "Actor"], ["status", "Status"], ["uptime", "Uptime"], ["restarts", "Restarts"],
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
  const running = node.status === "running";
  field("sup-status").textContent = node.status;
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
    set("version", child.version ?? "–");
    set("memory", bytes(child.memory_bytes), "num");
    set("mailbox", String(child.mailbox_depth), child.mailbox_depth > 0 ? "num warn" : "num");
    set("state", bytes(child.state_bytes), "num");
  } else {
    for (const field of ["health", "version", "memory", "mailbox", "state"]) set(field, "");
  }
  const stopped = state === "stopped";
  row.querySelector('[data-action="stop"]').disabled = stopped;
  row.querySelector('[data-action="start"]').disabled = !stopped;
  row.dataset.status = state;
}

function allChildren(nodes) {
  return nodes.flatMap((node) =>
    node.children.flatMap((child) => [child, ...(child.supervisor ? allChildren([child.supervisor]) : [])]));
}

async function refresh() {
  let nodes;
  try {
    const response = await api("/v1/tree");
    if (!response.ok) return;
    nodes = await response.json();
  } catch {
    return; // the host is away; the event stream says so
  }
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
  const response = await api(`/v1/actors/${encodeURIComponent(name)}/${action}`, { method: "POST", headers: CSRF });
  if (response.ok) showNotice(`${name} ${done}`);
  else showNotice(`${verb} ${name}: ${await errorOf(response)}`, true);
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
  const response = await api(`/v1/actors/${encodeURIComponent(name)}/call`, {
    method: "POST", headers: CSRF, body: $("message").value,
  });
  if (response.ok) {
    reply.className = "reply ok";
    reply.replaceChildren(el("span", { class: "label", text: `${name} replied` }), el("pre", { text: await response.text() }));
  } else {
    reply.className = "reply bad";
    reply.replaceChildren(el("span", { class: "label", text: `${name} did not reply` }), el("pre", { text: await errorOf(response) }));
  }
}

async function showState() {
  if (!selected) return;
  const name = selected;
  const box = $("state");
  box.hidden = false;
  const response = await api(`/v1/actors/${encodeURIComponent(name)}/state`);
  if (!response.ok) {
    box.replaceChildren(el("p", { class: "bad", text: await errorOf(response) }));
    return;
  }
  const state = await response.json();
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

function detailOf(kind, event) {
  switch (kind) {
    case "actor-started": return `instance ${event.instance}`;
    case "actor-exited": return `instance ${event.instance} ${reasonText(event.reason)}`;
    case "restart-scheduled": return `restart in ${event.delay_ms} ms`;
    case "health-changed": return healthText(event.status);
    case "actor-upgraded": return `now version ${event.version}`;
    case "dead-lettered": return `dead letter ${event.id} after ${event.attempts} crashed deliveries`;
    case "lagged": return `this page missed ${event.missed} event(s)`;
    default: return event.reason ?? "";
  }
}

const SEVERITY = {
  "actor-exited": "warn", "restart-failed": "bad", "actor-stopped": "bad", "upgrade-failed": "bad",
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
}

// --------------------------------------------------------------- live stream

// From the events the host kept (so the timeline shows what happened before
// the page opened); when the browser reconnects, it sends the last event id
// it saw and the host replays what followed.
function follow() {
  const stream = new EventSource("/v1/events?since=0");
  const connection = $("connection");
  stream.onopen = () => {
    connection.textContent = "live";
    connection.className = "pill pill-ok";
    refresh(); // the tree as it is now
  };
  stream.onerror = () => {
    connection.textContent = "reconnecting…";
    connection.className = "pill pill-wait";
  };
  for (const kind of EVENT_KINDS) {
    stream.addEventListener(kind, (message) => {
      let event = {};
      try { event = JSON.parse(message.data); } catch { /* shown without details */ }
      addEvent(kind, event);
      refreshSoon();
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("send-form").addEventListener("submit", send);
  $("load-state").addEventListener("click", showState);
  $("timeline-filter").addEventListener("change", applyFilter);
  $("timeline-clear").addEventListener("click", () => { $("timeline").replaceChildren(); applyFilter(); });
  refresh();
  follow();
  setInterval(refresh, POLL_MS);
});
