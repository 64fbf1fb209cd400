// rollback-host's read-only page: plans, a plan's actions, its graph.
// Everything goes through the public API with the token from the form
// (kept in sessionStorage); data is inserted as text, never as HTML.
"use strict";

const $ = (sel) => document.querySelector(sel);

function token() { return sessionStorage.getItem("rollback-token") || ""; }

async function api(path, accept) {
  const headers = { "Accept": accept || "application/json" };
  if (token()) headers["X-Auth-Token"] = token();
  const resp = await fetch(path, { headers });
  if (!resp.ok) {
    let why = resp.status + " " + resp.statusText;
    try { const body = await resp.json(); why = body.faultstring || why; } catch (e) { /* not JSON */ }
    throw new Error(why);
  }
  return accept ? resp.text() : resp.json();
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function stateBadge(state) { return el("span", state, "state state-" + state); }

function planLink(uuid) {
  const a = el("a", uuid.slice(0, 8));
  a.href = "#plan=" + uuid;
  a.title = uuid;
  a.className = "plan-link";
  a.dataset.uuid = uuid;
  return a;
}

function json(v) { return el("pre", v === null || v === undefined ? "" : JSON.stringify(v, null, 1)); }

async function loadPlans() {
  const status = $("#plans-status");
  const body = $("#plans tbody");
  status.textContent = "Loading…";
  status.className = "status";
  try {
    const data = await api("/v1/action_plans/detail?limit=200&sort_key=id&sort_dir=desc");
    body.replaceChildren();
    for (const p of data.action_plans) {
      const tr = el("tr");
      tr.dataset.uuid = p.uuid;
      tr.append(el("td"), el("td"), el("td", p.strategy_name), el("td", p.created_at), el("td"));
      tr.children[0].append(planLink(p.uuid));
      tr.children[1].append(stateBadge(p.state));
      if (p.rollback_of) { tr.children[4].append("undoes ", planLink(p.rollback_of)); }
      else if (p.rolled_back_by) { tr.children[4].append("undone by ", planLink(p.rolled_back_by)); }
      body.append(tr);
    }
    status.textContent = data.action_plans.length + " plan(s)";
  } catch (e) {
    status.textContent = "Cannot list plans: " + e.message;
    status.className = "status error";
  }
}

async function showPlan(uuid) {
  $("#plan-section").hidden = false;
  $("#plan-uuid").textContent = uuid;
  for (const tr of document.querySelectorAll("#plans tbody tr")) {
    tr.classList.toggle("selected", tr.dataset.uuid === uuid);
  }
  const fields = $("#plan-fields");
  fields.replaceChildren(el("dt", "Loading…"));
  try {
    const p = await api("/v1/action_plans/" + uuid);
    fields.replaceChildren();
    const add = (name, value) => {
      const dd = el("dd");
      if (value instanceof Node) dd.append(value); else dd.textContent = value === null || value === undefined ? "—" : String(value);
      fields.append(el("dt", name), dd);
    };
    add("State", stateBadge(p.state));
    add("Strategy", p.strategy_name);
    add("Status message", p.status_message);
    add("Created", p.created_at);
    add("Rollback of", p.rollback_of ? planLink(p.rollback_of) : null);
    add("Rolled back by", p.rolled_back_by ? planLink(p.rolled_back_by) : null);
    if (p.source) {
      const s = p.source;
      add("Imported from", "Watcher action plan " + s.action_plan_uuid + " (" + (s.watcher_state || "?") + " in Watcher, " +
        s.watcher_url + ")");
      add("Audit", (s.audit_name || "—") + " " + (s.audit_uuid || "") + "; strategy " + (s.strategy_name || "—") +
        ", goal " + (s.goal_name || "—"));
    }
    const actions = await api("/v1/actions/detail?action_plan_uuid=" + uuid + "&limit=1000");
    const body = $("#actions tbody");
    body.replaceChildren();
    for (const a of actions.actions) {
      const tr = el("tr");
      tr.dataset.uuid = a.uuid;
      tr.append(el("td", a.uuid.slice(0, 8)), el("td", a.action_type), el("td"), el("td", a.status_message || ""),
        el("td"), el("td"), el("td"));
      tr.children[0].title = a.uuid;
      tr.children[2].append(stateBadge(a.state));
      tr.children[4].append(json(a.input_parameters));
      tr.children[5].append(json(a.pre_state));
      tr.children[6].append(json(a.result));
      body.append(tr);
    }
  } catch (e) {
    fields.replaceChildren(el("dt", "Cannot load the plan: " + e.message, "error"));
  }
  const graph = $("#graph");
  graph.replaceChildren(el("p", "Drawing…", "status"));
  try {
    const text = await api("/v1/action_plans/" + uuid + "/graph", "image/svg+xml");
    const doc = new DOMParser().parseFromString(text, "image/svg+xml");
    const svg = doc.documentElement;
    if (svg.nodeName !== "svg") throw new Error("the graph is not SVG");
    graph.replaceChildren(document.importNode(svg, true));
  } catch (e) {
    graph.replaceChildren(el("p", "Cannot draw the plan: " + e.message, "error"));
  }
}

function route() {
  const m = location.hash.match(/^#plan=([0-9a-f-]{36})$/);
  if (m) showPlan(m[1]); else $("#plan-section").hidden = true;
}

document.addEventListener("DOMContentLoaded", () => {
  $("#token").value = token();
  $("#token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem("rollback-token", $("#token").value);
    loadPlans().then(route);
  });
  $("#refresh").addEventListener("click", () => loadPlans().then(route));
  window.addEventListener("hashchange", route);
  loadPlans().then(route);
});
