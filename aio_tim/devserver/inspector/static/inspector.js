// aio_tim inspector: plain JavaScript, no build step. Everything shown is text put into the DOM
// with textContent (never innerHTML): message bodies are whatever a client sent.
"use strict";

const API = "api/";
const FAULTS = "/_dev/faults";
const ACTION = { "Content-Type": "application/json" };  // JSON: no other site may send it (CORS)
const ROWS = 200;          // rows kept in the REST and webhook tables (the newest)
const FLUSH_MS = 250;      // live entries are drawn at most this often
const REFRESH_MS = 1000;   // the conversation list is reloaded at most this often
const FIRST_ROWS = 50;     // rows the first screen draws of each table (the rest arrive live)

const state = {
  open: null,          // the conversation shown: ["c2c", a, b] or ["group", id]
  offset: 0,           // messages shown from the newest
  pending: [],         // live entries not drawn yet
  lastFlush: 0,        // how many entries the last flush drew
  down: false,         // the stream dropped; reload everything when it is back
  flushTimer: null,
  dirtyOpen: false,    // the open conversation changed since it was drawn
  dirtyList: false,    // the conversation list changed
  loadingOpen: false,
  lastListLoad: 0,
  restSeen: 0,
  webhooksSeen: 0,
  firstRender: null,
  lists: null,         // the last answer of api/lists
  drawn: {},           // what each list was drawn from (JSON), so an unchanged list is not redrawn
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function safeUrl(text) {
  // Only http(s) links and images: a message may carry "javascript:" anything.
  try {
    const url = new URL(text, location.href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch (_) {
    return null;
  }
}

const two = (n) => String(n).padStart(2, "0");

function when(seconds) {
  // By hand: Intl's formatters cost more than the rest of a table row.
  const d = new Date(seconds * 1000);
  const time = `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  return Date.now() - d > 864e5 ? `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${time}` : time;
}

function convKey(conversation) { return JSON.stringify(conversation); }

function convName(conversation, info) {
  if (conversation[0] === "group") return "# " + (info && info.name && info.name !== conversation[1] ? `${info.name} (${conversation[1]})` : conversation[1]);
  return `${conversation[1]} ↔ ${conversation[2]}`;
}

async function getJson(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

// --- the first screen -------------------------------------------------------------------------

async function loadOverview() {
  const data = await getJson(API + "overview");
  const s = data.server;
  $("server").textContent = `${s.url} · sdkappid ${s.sdk_app_id} · admin ${s.admin}`;
  const list = $("endpoints");
  if (list.children.length <= 1) for (const e of s.endpoints || []) list.append(el("option", { value: e }));
  drawLists(data);
  state.restSeen = data.counts.rest - Math.min(data.rest.length, FIRST_ROWS);
  state.webhooksSeen = data.counts.webhook - Math.min(data.webhooks.length, FIRST_ROWS);
  drawRest(data.rest.slice(0, FIRST_ROWS).reverse(), true);
  drawWebhooks(data.webhooks.slice(0, FIRST_ROWS).reverse(), true);
  state.lastListLoad = performance.now();
  return data;
}

function drawLists(data) {
  const t = data.totals;
  $("accounts-count").textContent = `(${t.accounts})`;
  $("groups-count").textContent = `(${t.groups})`;
  $("conversations-count").textContent = `(${t.c2c_messages + t.group_messages} messages)`;
  const conversations = JSON.stringify(data.conversations);
  if (conversations !== state.drawn.conversations) drawConversations(data.conversations);
  state.drawn.conversations = conversations;
  state.lists = data;
  // The folded lists are drawn when opened (and kept fresh while open).
  if ($("accounts-box").open) drawAccounts();
  if ($("groups-box").open) drawGroups();
}

function drawAccounts() {
  const accounts = JSON.stringify(state.lists.accounts);
  if (accounts === state.drawn.accounts) return;
  state.drawn.accounts = accounts;
  $("accounts").replaceChildren(...state.lists.accounts.map((a) =>
    el("li", {}, el("button", { type: "button", onclick: () => search("user", a.id) },
      el("span", { class: "name", text: a.id + (a.nick ? ` (${a.nick})` : "") }),
      el("span", { class: "muted", text: "messages" })))));
}

function drawGroups() {
  const groups = JSON.stringify(state.lists.groups);
  if (groups === state.drawn.groups) return;
  state.drawn.groups = groups;
  $("groups").replaceChildren(...state.lists.groups.map(drawGroup));
}

function drawConversations(conversations) {
  const openKey = state.open && convKey(state.open);
  $("conversations").replaceChildren(...conversations.map((c) => {
    const key = convKey(c.conversation);
    return el("li", {}, el("button", {
      type: "button", "aria-current": key === openKey ? "true" : "false", "data-conv": key,
      onclick: () => openConversation(c.conversation, c),
    }, el("span", { class: "name", text: convName(c.conversation, c) }),
       el("span", { class: "muted", text: String(c.messages) })));
  }));
}

function drawGroup(g) {
  const members = el("ul", { class: "sub", hidden: true });
  const toggle = el("button", { type: "button", "aria-expanded": "false", onclick: async () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    members.hidden = !open;
    if (open) {
      const data = await getJson(API + "members?group=" + encodeURIComponent(g.id));
      members.replaceChildren(...data.members.map((m) => el("li", { text: `${m.account} · ${m.role}` })));
    }
  } }, el("span", { class: "name", text: `${g.name} (${g.id}, ${g.type})` }),
       el("span", { class: "muted", text: `${g.members} members` }));
  const open = el("button", { type: "button", class: "sub", onclick: () => openConversation(["group", g.id], g) },
    "open its messages");
  return el("li", {}, toggle, members, open);
}

// --- a conversation's messages ----------------------------------------------------------------

async function openConversation(conversation, info, page) {
  state.open = conversation;
  state.openInfo = info;
  state.offset = 0;
  for (const b of document.querySelectorAll("#conversations button")) {
    b.setAttribute("aria-current", b.dataset.conv === convKey(conversation) ? "true" : "false");
  }
  await reloadOpen(false, page);
}

async function reloadOpen(older, given) {
  if (!state.open) return;
  state.loadingOpen = true;
  state.dirtyOpen = false;
  try {
    const offset = older ? state.offset + 50 : 0;
    const url = `${API}messages?conv=${encodeURIComponent(convKey(state.open))}&offset=${offset}`;
    const data = given || await getJson(url);
    if (convKey(data.conversation) !== convKey(state.open)) return;
    state.offset = offset;
    $("thread-title").textContent = convName(state.open, state.openInfo);
    const marks = Object.entries(data.read).map(([who, t]) => `${who} read up to ${when(t)}`);
    $("thread-info").textContent = (offset ? `messages ${offset + 1}–${offset + data.messages.length}` : "newest first") +
      (marks.length ? " · " + marks.join(" · ") : "");
    const items = data.messages.map((m) => drawMessage(m, data.read));
    if (older) $("messages").append(...items);
    else $("messages").replaceChildren(...items);
    $("older").hidden = data.messages.length < 50;
  } finally {
    state.loadingOpen = false;
  }
  if (state.dirtyOpen) scheduleFlush();
}

function drawMessage(m, read) {
  const tags = [];
  if (m.kind === "import") tags.push(el("span", { class: "tag", text: "imported" }));
  if (m.recalled) tags.push(el("span", { class: "tag recalled", text: "recalled" }));
  if (m.online_only) tags.push(el("span", { class: "tag", text: "online only" }));
  if (m.to && read && read[m.to] >= m.time) tags.push(el("span", { class: "tag read", text: `read by ${m.to}` }));
  if (m.receipts && m.receipts.length) tags.push(el("span", { class: "tag read", text: `receipts: ${m.receipts.join(", ")}` }));
  const meta = el("div", { class: "meta" },
    el("span", { class: "from", text: m.from + (m.to ? ` → ${m.to}` : "") }),
    el("time", { text: when(m.time) }),
    el("span", { text: m.key ? `key ${m.key}` : `seq ${m.seq}` }), ...tags);
  let body;
  try { body = JSON.parse(m.body); } catch (_) { body = []; }
  const elements = el("div", { class: "elements" }, ...body.map(drawElement));
  if (m.custom) elements.append(el("div", { class: "muted", text: "CloudCustomData" }), el("pre", { text: m.custom }));
  const extensions = Object.entries(m.extensions || {});
  if (extensions.length) {
    elements.append(el("div", { class: "muted", text: "extensions" }),
      el("pre", { text: extensions.map(([k, v]) => `${k} = ${v}`).join("\n") }));
  }
  return el("li", { class: "message" + (m.recalled ? " recalled" : "") }, meta, elements);
}

function link(url, text) {
  const href = safeUrl(url || "");
  return href ? el("a", { href, download: true, rel: "noreferrer", text }) : el("span", { text });
}

function tag(text) { return el("span", { class: "tag", text }); }

function drawElement(item) {
  const c = item.MsgContent || {};
  switch (item.MsgType) {
    case "TIMTextElem":
      return el("p", { class: "text", text: c.Text || "" });
    case "TIMImageElem": {
      const images = c.ImageInfoArray || [];
      const thumb = images.find((i) => i.Type === 3) || images[0] || {};
      const full = images.find((i) => i.Type === 1) || thumb;
      const src = safeUrl(thumb.URL || "");
      const img = src ? el("img", { src, alt: `image ${full.Width || "?"}×${full.Height || "?"}`, loading: "lazy" }) : "image";
      const href = safeUrl(full.URL || "");
      return href ? el("a", { href, rel: "noreferrer", class: "image" }, img) : el("span", {}, img);
    }
    case "TIMFileElem":
      return el("p", {}, tag("file"), link(c.Url, `${c.FileName || "file"} (${c.FileSize || 0} bytes)`));
    case "TIMSoundElem":
      return el("p", {}, tag("sound"), link(c.Url, `${c.Second || 0} s`));
    case "TIMVideoFileElem":
      return el("p", {}, tag("video"), link(c.VideoUrl, `${c.VideoSecond || 0} s`));
    case "TIMCustomElem":
      return el("div", {}, el("span", { class: "tag", text: "custom" }),
        el("pre", { text: [c.Desc && `Desc: ${c.Desc}`, `Data: ${c.Data || ""}`, c.Ext && `Ext: ${c.Ext}`].filter(Boolean).join("\n") }));
    default:
      return el("div", {}, el("span", { class: "tag", text: item.MsgType || "element" }),
        el("pre", { text: JSON.stringify(c, null, 1) }));
  }
}

// --- REST calls and webhooks -------------------------------------------------------------------

function keepNewest(tbody, rows, replace) {
  // Newest on top; at most ROWS rows in the DOM however fast entries arrive.
  const fresh = rows.reverse();
  if (replace) tbody.replaceChildren(...fresh);
  else tbody.prepend(...fresh);
  while (tbody.children.length > ROWS) tbody.lastElementChild.remove();
}

// A hidden table only keeps its newest entries; they are drawn when its tab is chosen.
const unseen = { rest: [], webhooks: [] };

function drawTable(name, entries, replace, row) {
  const panel = $(`panel-${name}`);
  if (replace) unseen[name] = [];
  if (panel.hidden && !replace) {
    unseen[name] = unseen[name].concat(entries).slice(-ROWS);
    return;
  }
  keepNewest($(name), entries.slice(-ROWS).map(row), replace);
}

function showUnseen(name) {
  const entries = unseen[name];
  unseen[name] = [];
  if (entries.length) drawTable(name, entries, false, name === "rest" ? restRow : webhookRow);
}

function drawRest(entries, replace) {
  state.restSeen += entries.length;
  $("rest-count").textContent = String(state.restSeen);
  drawTable("rest", entries, replace, restRow);
}

function restRow(e) {
  return el("tr", {},
    el("td", { text: when(e.at) }), el("td", { text: e.endpoint }),
    el("td", { text: String(e.code), class: e.code ? "code-bad" : "good" }), el("td", { text: e.ms.toFixed(1) }),
    el("td", { text: e.caller, class: "wide" }));
}

function drawWebhooks(entries, replace) {
  state.webhooksSeen += entries.length;
  $("webhooks-count").textContent = String(state.webhooksSeen);
  drawTable("webhooks", entries, replace, webhookRow);
}

function webhookRow(e) {
  const result = e.error ? e.error : `HTTP ${e.status}`;
  return el("tr", { "data-entry": e.id },
    el("td", { text: when(e.at) }),
    el("td", { text: e.command + (e.redelivery_of ? ` (again #${e.redelivery_of})` : "") }),
    el("td", { text: result, class: e.error ? "bad" : "good" }),
    el("td", { text: e.ms.toFixed(1) }),
    el("td", {},
      el("button", { type: "button", onclick: () => showDelivery(e.id), "aria-label": `Show delivery ${e.id}` }, "Show"),
      el("button", { type: "button", class: "redeliver", onclick: () => redeliver(e.id), "aria-label": `Redeliver ${e.id}` }, "Redeliver")));
}

async function showDelivery(id) {
  const e = await getJson(`${API}webhooks/${id}`);
  $("delivery").hidden = false;
  $("delivery-title").textContent = `#${e.id} ${e.command} → ${e.url}`;
  $("delivery-body").textContent = JSON.stringify(e.body, null, 2);
  $("delivery-answer").textContent = e.error ? `${e.error}\n${e.answer}` : e.answer;
}

async function redeliver(id) {
  const response = await fetch(`${API}webhooks/${id}/redeliver`, { method: "POST", headers: ACTION, body: "{}" });
  const data = await response.json();
  $("webhooks-count").title = data.answered ? `#${id} redelivered` : `#${id} redelivery failed`;
}

// --- live updates ------------------------------------------------------------------------------

function connect() {
  const source = new EventSource(API + "events");
  source.onopen = () => {
    $("live").textContent = "live";
    $("live").className = "badge live";
    // Back after a drop (the server restarted, the laptop slept): what was missed is reloaded.
    if (state.down) { state.down = false; loadOverview().then(() => reloadOpen()); }
  };
  source.onerror = () => {
    state.down = true;
    $("live").textContent = "reconnecting…";
    $("live").className = "badge down";
  };
  source.onmessage = (event) => {
    state.pending.push(...JSON.parse(event.data));
    scheduleFlush();
  };
  source.addEventListener("reset", () => { state.pending = []; loadOverview().then(() => reloadOpen()); });
}

function scheduleFlush() {
  // In a flood (more entries a flush than a table shows) draw once a second: a table redrawn
  // four times a second at 1,000 entries/s is churn nobody can read.
  const delay = state.lastFlush > ROWS ? 4 * FLUSH_MS : FLUSH_MS;
  if (state.flushTimer === null) state.flushTimer = setTimeout(flush, delay);
}

function flush() {
  state.flushTimer = null;
  const entries = state.pending;
  state.pending = [];
  state.lastFlush = entries.length;
  const rest = [], hooks = [];
  const openKey = state.open && convKey(state.open);
  for (const e of entries) {
    if (e.kind === "rest") rest.push(e);
    else if (e.kind === "webhook") hooks.push(e);
    else if (e.kind === "message") {
      state.dirtyList = true;
      if (e.conversations.some((c) => convKey(c) === openKey)) state.dirtyOpen = true;
    }
  }
  if (rest.length) drawRest(rest, false);
  if (hooks.length) drawWebhooks(hooks, false);
  if (state.dirtyOpen && !state.loadingOpen && state.offset === 0) reloadOpen();
  if (state.dirtyList) {
    const wait = state.lastListLoad + REFRESH_MS - performance.now();
    if (wait <= 0) { state.dirtyList = false; loadLists(); } else scheduleFlush();
  }
}

async function loadLists() {
  state.lastListLoad = performance.now();
  const data = await getJson(API + "lists");
  drawLists(data);
}

// --- search ------------------------------------------------------------------------------------

async function search(field, q) {
  $("search-field").value = field;
  $("q").value = q;
  const data = await getJson(`${API}search?field=${field}&q=${encodeURIComponent(q)}`);
  state.open = null;
  $("thread-title").textContent = `Search: ${field} “${q}”`;
  $("thread-info").textContent = `${data.messages.length} messages (newest first, at most 50)`;
  $("messages").replaceChildren(...data.messages.map((m) => {
    const item = drawMessage(m, null);
    item.querySelector(".meta").prepend(el("button", { type: "button", onclick: () => openConversation(m.conversation) },
      convName(m.conversation)));
    return item;
  }));
  $("older").hidden = true;
  $("thread").focus();
}

// --- tabs ----------------------------------------------------------------------------------------

function selectTab(tab) {
  for (const t of document.querySelectorAll('[role="tab"]')) {
    const selected = t === tab;
    t.setAttribute("aria-selected", String(selected));
    t.tabIndex = selected ? 0 : -1;
    $(t.getAttribute("aria-controls")).hidden = !selected;
  }
  if (tab.id === "tab-faults") loadFaults();
  if (tab.id === "tab-rest") showUnseen("rest");
  if (tab.id === "tab-webhooks") showUnseen("webhooks");
}

function tabKeys(event) {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  const at = tabs.indexOf(document.activeElement);
  const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
  if (at < 0 || !step) return;
  const next = tabs[(at + step + tabs.length) % tabs.length];
  next.focus();
  selectTab(next);
}

// --- fault switches ---------------------------------------------------------------------------

function numberOrNull(id) {
  const text = $(id).value.trim();
  return text === "" ? null : Number(text);
}

async function loadFaults() {
  let data;
  try {
    data = await getJson(FAULTS);
  } catch (error) {
    $("fault-status").textContent = "fault switches are not available on this server";
    return;
  }
  $("faults").replaceChildren(...data.faults.map((f) => el("tr", { "data-fault": f.id },
    el("td", { text: f.endpoint + (f.webhook ? " (webhooks)" : "") }),
    el("td", { text: f.error_code === null ? "—" : String(f.error_code) }),
    el("td", { text: f.remaining === null ? "∞" : String(f.remaining) }),
    el("td", { text: f.share === null ? "—" : String(f.share) }),
    el("td", { text: `${f.latency_ms} ms` }),
    el("td", {}, el("button", { type: "button", onclick: () => removeFault(f.id), "aria-label": `Remove fault on ${f.endpoint}` }, "Remove")))));
}

async function addFault(event) {
  event.preventDefault();
  const share = numberOrNull("fault-share");
  const fault = {
    endpoint: $("fault-endpoint").value.trim(),
    error_code: numberOrNull("fault-code"),
    count: share === null ? numberOrNull("fault-count") : null,
    share,
    latency_ms: numberOrNull("fault-latency") || 0,
    webhook: $("fault-webhook").checked,
  };
  const response = await fetch(FAULTS, { method: "POST", headers: ACTION, body: JSON.stringify(fault) });
  const answer = await response.json().catch(() => ({}));
  $("fault-status").textContent = response.ok ? `fault ${answer.id} added on ${fault.endpoint}` :
    `refused: ${answer.error || answer.ErrorInfo || response.status}`;
  await loadFaults();
}

async function removeFault(id) {
  await fetch(`${FAULTS}/${encodeURIComponent(id)}`, { method: "DELETE", headers: ACTION });
  $("fault-status").textContent = `fault ${id} removed`;
  await loadFaults();
}

async function clearFaults() {
  await fetch(FAULTS, { method: "DELETE", headers: ACTION });
  $("fault-status").textContent = "every fault removed";
  await loadFaults();
}

// --- start ---------------------------------------------------------------------------------------

async function start() {
  const started = performance.now();
  $("search").addEventListener("submit", (e) => { e.preventDefault(); search($("search-field").value, $("q").value); });
  $("older").addEventListener("click", () => reloadOpen(true));
  for (const t of document.querySelectorAll('[role="tab"]')) t.addEventListener("click", () => selectTab(t));
  document.querySelector('[role="tablist"]').addEventListener("keydown", tabKeys);
  $("fault-form").addEventListener("submit", addFault);
  $("faults-clear").addEventListener("click", clearFaults);
  $("accounts-box").addEventListener("toggle", () => { if ($("accounts-box").open && state.lists) drawAccounts(); });
  $("groups-box").addEventListener("toggle", () => { if ($("groups-box").open && state.lists) drawGroups(); });
  setInterval(() => { if (!$("panel-faults").hidden) loadFaults(); }, 2000);
  connect();
  const data = await loadOverview();
  const lists = performance.now() - started;
  // The overview holds the newest conversation's first page: no second round trip.
  if (data.first) await openConversation(data.first.conversation, data.conversations[0], data.first);
  state.firstRender = performance.now() - started;
  document.body.dataset.ready = "1";
  // What the browser test prints: ms from the script's start to the lists, then to the messages too.
  window.inspectorTimings = { lists, firstRender: state.firstRender, sinceNavigation: performance.now() };
}

document.addEventListener("DOMContentLoaded", start);
