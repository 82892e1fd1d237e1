// The PromptActors console: plain JavaScript on the host's own /v1 API (no framework, no CDN, works offline).
"use strict";

const state = { key: sessionStorage.getItem("pa-key"), prompts: [], instance: null, runs: [] };
const $ = (id) => document.getElementById(id);

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.detail ? `${body.code}: ${body.detail}` : `HTTP ${status}`);
    this.status = status;
    this.code = body && body.code;
  }
}

async function call(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { authorization: `Bearer ${state.key}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, json);
  return json;
}

function notice(message) { $("notice").textContent = message || ""; }

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  return node;
}

// A table row that opens with a click or the keyboard (Enter).
function openableRow(cells, open) {
  const row = el("tr", { tabindex: "0", onclick: open, onkeydown: (e) => { if (e.key === "Enter") open(); } },
    ...cells.map((c) => el("td", {}, c)));
  return row;
}

// ---------------------------------------------------------------- views

const views = ["signin", "prompts", "run", "runs", "history"];

async function show() {
  const view = state.key ? (location.hash.slice(1) || "prompts") : "signin";
  for (const v of views) $(`view-${v}`).hidden = v !== view;
  $("nav").hidden = !state.key;
  notice("");
  try {
    if (view === "prompts" || view === "run") await loadPrompts();
    if (view === "runs") await loadRuns();
    if (view === "history") await loadHistory();
  } catch (e) {
    notice(e.message);
  }
}

$("signin-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  state.key = $("key").value.trim();
  try {
    await call("GET", "/v1/prompts?limit=1");
    sessionStorage.setItem("pa-key", state.key);
    location.hash = "#prompts";
    await show();
  } catch (err) {
    state.key = null;
    notice(err.status === 401 ? "That key is not valid." : err.message);
  }
});

$("signout").addEventListener("click", () => {
  sessionStorage.removeItem("pa-key");
  state.key = null;
  show();
});

window.addEventListener("hashchange", show);

// ---------------------------------------------------------------- prompts

async function loadPrompts() {
  state.prompts = (await call("GET", "/v1/prompts?limit=1000")).prompts;
  const list = $("prompt-list");
  list.replaceChildren(...state.prompts.map((p) =>
    openableRow([p.id, p.name, p.version, p.owner.kind + (p.owner.scopeId ? ` ${p.owner.scopeId}` : "")], () => editPrompt(p.id))));
  const select = $("run-prompt");
  const chosen = select.value;
  select.replaceChildren(...state.prompts.map((p) => el("option", { value: p.id }, `${p.id} (v${p.version})`)));
  if (chosen) select.value = chosen;
  renderVariables();
}

function editable(p) {
  return { name: p.name, description: p.description, messages: p.messages, variableDefaults: p.variableDefaults, settings: p.settings };
}

async function editPrompt(id) {
  const versions = (await call("GET", `/v1/prompts/${encodeURIComponent(id)}/versions`)).versions;
  $("prompt-id").value = id;
  $("prompt-json").value = JSON.stringify(editable(versions[0]), null, 2);
  state.versions = versions;
  const options = () => versions.map((v) => el("option", { value: v.version }, `v${v.version}`));
  $("diff-from").replaceChildren(...options());
  $("diff-to").replaceChildren(...options());
  $("diff-from").value = versions[Math.min(1, versions.length - 1)].version;
  $("diff-to").value = versions[0].version;
  renderDiff();
}

$("prompt-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const body = JSON.parse($("prompt-json").value || "{}");
    const saved = await call("PUT", `/v1/prompts/${encodeURIComponent($("prompt-id").value)}`, body);
    await loadPrompts();
    await editPrompt(saved.id);
    notice(`Saved ${saved.id} version ${saved.version}.`);
  } catch (err) {
    notice(err instanceof SyntaxError ? `The prompt is not valid JSON: ${err.message}` : err.message);
  }
});

// A line diff (longest common subsequence) of two versions' JSON.
function renderDiff() {
  const pick = (n) => state.versions.find((v) => String(v.version) === String(n));
  const from = pick($("diff-from").value), to = pick($("diff-to").value);
  if (!from || !to) return;
  const a = JSON.stringify(editable(from), null, 2).split("\n"), b = JSON.stringify(editable(to), null, 2).split("\n");
  const lcs = Array.from({ length: a.length + 1 }, () => new Array(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--)
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const lines = [];
  let i = 0, j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) { lines.push(el("span", {}, `  ${a[i]}\n`)); i++; j++; }
    else if (j < b.length && (i === a.length || lcs[i][j + 1] >= lcs[i + 1][j])) { lines.push(el("span", { class: "add" }, `+ ${b[j]}\n`)); j++; }
    else { lines.push(el("span", { class: "del" }, `- ${a[i]}\n`)); i++; }
  }
  $("diff").replaceChildren(...lines);
}
$("diff-from").addEventListener("change", renderDiff);
$("diff-to").addEventListener("change", renderDiff);

// ---------------------------------------------------------------- run

function selectedPrompt() { return state.prompts.find((p) => p.id === $("run-prompt").value); }

// The variables form: each of the prompt's variables, with where its value comes from.
function renderVariables() {
  const p = selectedPrompt();
  const box = $("run-variables");
  if (!p) { box.replaceChildren(); return; }
  const names = new Set(p.variableDefaults.map((d) => d.name));
  for (const m of p.messages) for (const match of m.content.matchAll(/\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}/g)) names.add(match[1]);
  box.replaceChildren(...[...names].map((name) => {
    const d = p.variableDefaults.find((x) => x.name === name);
    const input = el("input", { id: `var-${name}`, "data-variable": name, placeholder: d && d.defaultValue != null ? d.defaultValue : "" });
    input.addEventListener("input", renderPreview);
    const source = el("span", { class: "provenance", id: `prov-${name}` });
    return el("div", {}, el("label", { for: `var-${name}` }, name), input, source);
  }));
  renderPreview();
}
$("run-prompt").addEventListener("change", renderVariables);

function variableValues() {
  const values = {};
  for (const input of document.querySelectorAll("[data-variable]")) if (input.value !== "") values[input.dataset.variable] = input.value;
  return values;
}

// The messages with variables filled in as the engine will (your value, else the prompt's default; scope values are added
// by the engine and shown as such).
function renderPreview() {
  const p = selectedPrompt();
  if (!p) return;
  const values = variableValues();
  for (const input of document.querySelectorAll("[data-variable]")) {
    const name = input.dataset.variable, d = p.variableDefaults.find((x) => x.name === name);
    $(`prov-${name}`).textContent = values[name] !== undefined ? " your value"
      : d && d.defaultValue != null ? " the prompt's default" : " from your scopes, or missing";
  }
  $("run-preview").textContent = p.messages.map((m) => `${m.role}: ${m.content.replace(/\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}/g,
    (all, name) => values[name] ?? (p.variableDefaults.find((x) => x.name === name)?.defaultValue ?? all))}`).join("\n");
}

$("run-start").addEventListener("click", async () => {
  try {
    const started = await call("POST", "/v1/instances", { promptId: $("run-prompt").value, variables: variableValues() });
    setInstance(started);
  } catch (err) { notice(err.message); }
});

function setInstance(view) {
  state.instance = view.instanceId;
  $("run-instance").textContent = view.instanceId;
  $("run-status").textContent = view.status;
  renderConversation(view);
}

function renderConversation(view) {
  const messages = (view.conversation && view.conversation.messages) || [];
  $("conversation").replaceChildren(...messages.map((m) => el("li", { class: `role-${m.role}` },
    `${m.role}: ${m.content}`, ...(m.parts || []).map(describePart))));
}

// A part as a line under its message: its kind, name, media type and size (the bytes stay on the server).
function describePart(p) {
  const what = p.sha256 ? `${p.name ? p.name + ", " : ""}${p.mediaType}, ${p.size} bytes`
    : p.url ? p.url : p.sourceUrl ? `${p.sourceUrl}: ${p.text}` : p.text;
  return el("div", { class: "part" }, `[${p.type}] ${what}`);
}

// The chosen files as message parts (base64, as the API takes them).
async function fileParts() {
  const files = Array.from($("chat-files").files || []);
  return Promise.all(files.map(async (file) => {
    const bytes = new Uint8Array(await file.arrayBuffer());
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    const type = file.type.startsWith("image/") ? "image" : "file";
    return { type, data: btoa(binary), mediaType: file.type || "application/octet-stream", name: type === "file" ? file.name : undefined };
  }));
}

$("chat-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (!state.instance) { notice("Start an instance first."); return; }
  const text = $("chat-input").value;
  const parts = await fileParts();
  $("chat-input").value = "";
  $("chat-files").value = "";
  $("reply").textContent = "";
  $("reply-stats").textContent = "";
  $("run-status").textContent = "streaming";
  try {
    const body = parts.length > 0 ? { userInput: text, parts } : { userInput: text };
    await stream("POST", `/v1/instances/${encodeURIComponent(state.instance)}/messages?stream=true`, body);
  } catch (err) { notice(err.message); $("run-status").textContent = "error"; }
  setInstance(await call("GET", `/v1/instances/${encodeURIComponent(state.instance)}`));
});

$("chat-cancel").addEventListener("click", async () => {
  if (!state.instance) return;
  try { await call("POST", `/v1/instances/${encodeURIComponent(state.instance)}/cancel`); } catch (err) { notice(err.message); }
});

// Reads a server-sent event stream from a fetch (EventSource cannot send the key or POST).
async function stream(method, path, body) {
  const response = await fetch(path, {
    method, headers: { authorization: `Bearer ${state.key}`, "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify(body),
  });
  if (!response.ok) {
    const text = await response.text();
    throw new ApiError(response.status, text ? JSON.parse(text) : null);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      if (data) onEvent(event, JSON.parse(data));
    }
  }
}

function onEvent(event, data) {
  if (event === "chunk") $("reply").textContent += data.text;
  else if (event === "repair") $("reply").textContent = "";
  else if (event === "tool_call" && data.status === "awaiting_approval") showApproval(data);
  else if (event === "tool_call" && data.status === "awaiting_client") showClientTool(data);
  else if (event === "tool_call" || event === "tool_result") $("reply-stats").textContent = `${event} ${data.name}: ${data.status}`;
  else if (event === "completed") {
    $("run-status").textContent = "completed";
    const s = data.stats;
    $("reply-stats").textContent = `TTFT ${Math.round(s.timeToFirstToken ?? 0)} ms · total ${Math.round(s.totalTime)} ms · ` +
      `${s.tokens} tokens · cost ${s.cost}`;
  } else if (event === "error") {
    $("run-status").textContent = data.code;
    notice(`${data.code}: ${data.detail}`);
  }
}

function showApproval(call_) {
  const decide = async (decision) => {
    try {
      await call("POST", `/v1/instances/${encodeURIComponent(state.instance)}/approvals/${encodeURIComponent(call_.callId)}`, { decision });
      box.remove();
    } catch (err) { notice(err.message); }
  };
  const box = el("div", { class: "approval" }, `${call_.name} ${JSON.stringify(call_.arguments)} waits for approval `,
    el("button", { type: "button", onclick: () => decide("approve") }, "Approve"),
    el("button", { type: "button", onclick: () => decide("reject") }, "Reject"));
  $("approvals").append(box);
}

// A client tool call: the person (or the page) gives its result, which the turn goes on with.
function showClientTool(call_) {
  const input = el("textarea", { id: `result-${call_.callId}`, rows: "2" });
  const send = async () => {
    try {
      await call("POST", `/v1/instances/${encodeURIComponent(state.instance)}/tool-results`, [{ callId: call_.callId, result: input.value }]);
      box.remove();
    } catch (err) { notice(err.message); }
  };
  const box = el("div", { class: "client-tool" },
    el("label", { for: `result-${call_.callId}` }, `Result of ${call_.name} ${JSON.stringify(call_.arguments)}`), input,
    el("button", { type: "button", "data-result-for": call_.callId, onclick: send }, "Send result"));
  $("approvals").append(box);
}

// ---------------------------------------------------------------- runs

async function loadRuns() {
  state.runs = (await call("GET", "/v1/runs?limit=200")).runs;
  renderRuns();
}

function renderRuns() {
  const filter = $("runs-filter").value.toLowerCase();
  $("run-list").replaceChildren(...state.runs
    .filter((r) => !filter || `${r.name ?? ""} ${r.promptId}`.toLowerCase().includes(filter))
    .map((r) => openableRow([r.runId, r.promptId, r.status, r.taskCount, r.totalTokens, r.totalCost], () => openRun(r.runId))));
}
$("runs-filter").addEventListener("input", renderRuns);

async function openRun(runId) {
  const run = await call("GET", `/v1/runs/${encodeURIComponent(runId)}`);
  $("run-detail-id").textContent = runId;
  $("task-list").replaceChildren(...run.tasks.map((t) => el("tr", {},
    ...[t.taskId, t.status, t.tokensInput, t.tokensOutput, t.tokensTotal, t.cost,
      t.timeToFirstToken == null ? "" : Math.round(t.timeToFirstToken), t.totalTime == null ? "" : Math.round(t.totalTime)]
      .map((c) => el("td", {}, c)))));
}

// ---------------------------------------------------------------- history

async function loadHistory() {
  $("history-instance").textContent = state.instance || "(start an instance on the Run page)";
  if (!state.instance) { $("timeline").replaceChildren(); return; }
  const history = await call("GET", `/v1/instances/${encodeURIComponent(state.instance)}/history`);
  $("timeline").replaceChildren(...history.events.map((e) => el("li", {},
    `#${e.sequenceNr} ${e.kind}: ${e.summary} `,
    el("button", { type: "button", "data-fork": e.sequenceNr, onclick: () => fork(e.sequenceNr) }, `Fork at #${e.sequenceNr}`))));
}

async function fork(at) {
  try {
    const forked = await call("POST", `/v1/instances/${encodeURIComponent(state.instance)}/fork`, { at });
    notice(`Forked into ${forked.instanceId}: it continues on its own from event #${at}.`);
    setInstance(forked);
    await loadHistory();
  } catch (err) { notice(err.message); }
}

show();
