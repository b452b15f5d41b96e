// The observer page: a tiny Phoenix V2 client (no dependencies) joins "observer:tree"
// on /_observer/socket, draws every "tree" push as a collapsible tree, and asks for one
// process's details ("info") when it is clicked.
"use strict";

(function () {
  const TOPIC = "observer:tree";
  const base = location.pathname.replace(/\/[^/]*$/, "");
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const SOCKET_URL = `${scheme}://${location.host}${base}/socket/websocket?vsn=2.0.0`;
  const SUPERVISORS = new Set(["Supervisor", "DynamicSupervisor", "PartitionSupervisor"]);

  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  };

  // -- the Phoenix V2 client: [join_ref, ref, topic, event, payload] ------------------------

  let ws = null;
  let ref = 0;
  let joinRef = null;
  let retries = 0;
  let heartbeat = null;
  const pending = new Map();

  function setStatus(state, text) {
    const s = $("status");
    s.className = `status ${state}`;
    s.dataset.state = state;
    s.textContent = text;
  }

  function send(msg) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  }

  function push(event, payload) {
    const r = String(++ref);
    return new Promise((resolve) => {
      pending.set(r, resolve);
      send([joinRef, r, TOPIC, event, payload]);
    });
  }

  function join() {
    joinRef = String(++ref);
    pending.set(joinRef, (reply) => {
      if (reply.status === "ok") {
        retries = 0;
        setStatus("live", "live");
      } else {
        setStatus("offline", `join refused: ${JSON.stringify(reply.response)}`);
      }
    });
    send([joinRef, joinRef, TOPIC, "phx_join", {}]);
  }

  function connect() {
    setStatus("connecting", "connecting…");
    ws = new WebSocket(SOCKET_URL);
    ws.onopen = () => {
      join();
      clearInterval(heartbeat);
      heartbeat = setInterval(() => send([null, String(++ref), "phoenix", "heartbeat", {}]), 30000);
    };
    ws.onmessage = (e) => {
      const [, msgRef, topic, event, payload] = JSON.parse(e.data);
      if (event === "phx_reply") {
        const resolve = pending.get(msgRef);
        pending.delete(msgRef);
        if (resolve) resolve(payload);
      } else if (topic === TOPIC && event === "tree") {
        render(payload);
      } else if (topic === TOPIC && (event === "phx_error" || event === "phx_close")) {
        setStatus("connecting", "rejoining…");
        setTimeout(join, 1000);
      }
    };
    ws.onclose = () => {
      clearInterval(heartbeat);
      pending.clear();
      const delay = [1000, 2000, 5000, 10000][Math.min(retries++, 3)];
      setStatus("offline", `disconnected; retrying in ${delay / 1000} s`);
      setTimeout(connect, delay);
    };
  }

  // -- the tree ---------------------------------------------------------------------------------

  let known = null;          // pid -> slim process, from the previous push
  let selected = null;
  const collapsed = new Set();
  const fresh = new Set();

  function kind(p) {
    if (SUPERVISORS.has(p.behaviour)) return "sup";
    if (p.summary && typeof p.summary === "object" && "topic" in p.summary) return "chan";
    return "worker";
  }

  function label(p) {
    return p.name ? `${p.pid} ${p.name}` : `${p.pid} ${p.behaviour}`;
  }

  function metaText(p) {
    const s = p.summary;
    if (!s || typeof s !== "object") return "";
    const parts = [];
    if (s.strategy) parts.push(s.strategy);
    if (s.transport) parts.push(`transport=${s.transport}`);
    if (s.peer) parts.push(s.peer);
    if (typeof s.children === "number") parts.push(`children=${s.children}`);
    if (s.address) parts.push(String(s.address));
    if (s.state && typeof s.state !== "object") parts.push(String(s.state));
    return parts.join("  ");
  }

  function node(p) {
    const li = el("li", "proc");
    li.dataset.pid = p.pid;
    if (p.name) li.dataset.name = p.name;
    li.dataset.behaviour = p.behaviour;
    if (collapsed.has(p.pid)) li.classList.add("collapsed");
    if (fresh.has(p.pid)) li.classList.add("fresh");
    if (p.pid === selected) li.classList.add("selected");
    const row = el("div", "row");
    const hasKids = p.children.length > 0 || p.more > 0;
    const toggle = el("span", "toggle", hasKids ? (collapsed.has(p.pid) ? "▸" : "▾") : "");
    toggle.addEventListener("click", (e) => {
      e.stopPropagation();
      if (collapsed.has(p.pid)) collapsed.delete(p.pid); else collapsed.add(p.pid);
      li.classList.toggle("collapsed");
      toggle.textContent = collapsed.has(p.pid) ? "▸" : "▾";
    });
    row.append(toggle, el("span", `dot ${p.status}`), el("span", "pid", p.pid));
    if (p.name) row.append(el("span", "name", p.name));
    row.append(el("span", `beh ${kind(p)}`, p.behaviour));
    const s = p.summary && typeof p.summary === "object" ? p.summary : {};
    if (s.topic) row.append(el("span", "topic", s.topic));
    if (Array.isArray(s.topics) && s.topics.length) row.append(el("span", "topic", s.topics.join(", ")));
    if (p.mailbox > 0) row.append(el("span", "badge mailbox", `mailbox ${p.mailbox}`));
    if (p.restarts > 0) row.append(el("span", "badge restarts", `restarts ${p.restarts}`));
    const meta = metaText(p);
    if (meta) row.append(el("span", "meta", meta));
    row.addEventListener("click", () => select(p.pid));
    li.append(row);
    if (hasKids) {
      const ul = el("ul");
      for (const c of p.children) ul.append(node(c));
      if (p.more > 0) ul.append(el("li", "more", `… ${p.more} more`));
      li.append(ul);
    }
    return li;
  }

  function flatten(list, into) {
    for (const p of list) {
      into.set(p.pid, p);
      flatten(p.children, into);
    }
    return into;
  }

  function logEvent(cls, text) {
    const li = el("li", cls, `${new Date().toLocaleTimeString()}  ${text}`);
    const events = $("events");
    events.prepend(li);
    while (events.children.length > 200) events.lastChild.remove();
  }

  function render(view) {
    const now = flatten(view.tree, new Map());
    fresh.clear();
    if (known !== null) {
      for (const [pid, p] of known) if (!now.has(pid)) logEvent("exit", `exited   ${label(p)}`);
      for (const [pid, p] of now) {
        if (!known.has(pid)) {
          fresh.add(pid);
          logEvent("start", `started  ${label(p)}`);
        } else if ((p.restarts || 0) > (known.get(pid).restarts || 0)) {
          logEvent("exit", `restarted child of ${label(p)}`);
        }
      }
    }
    known = now;
    $("node").textContent = `node ${view.node}`;
    $("counts").textContent = `${view.processes} processes · ${view.crashes} crashes`;
    const tree = $("tree");
    tree.replaceChildren(...view.tree.map(node));
    if (selected !== null) {
      if (now.has(selected)) select(selected, true);
      else showGone(selected);
    }
  }

  // -- details ----------------------------------------------------------------------------------

  function pidLinks(list) {
    const td = el("td");
    if (!list || list.length === 0) {
      td.textContent = "-";
      return td;
    }
    list.forEach((item, i) => {
      const pid = typeof item === "string" ? item : item.pid;
      const a = el("a", null, typeof item === "string" ? pid : `${pid} ${item.name || item.behaviour}`);
      a.addEventListener("click", () => select(pid));
      if (i > 0) td.append(", ");
      td.append(a);
    });
    return td;
  }

  function row(table, name, value) {
    const tr = el("tr");
    tr.append(el("th", null, name));
    tr.append(value instanceof HTMLElement ? value : el("td", null, value));
    table.append(tr);
  }

  function showGone(pid) {
    const d = $("details");
    d.replaceChildren(el("h2", null, pid), el("p", "hint", "This process has exited."));
  }

  async function select(pid, refresh) {
    selected = pid;
    if (!refresh) {
      document.querySelectorAll("li.proc.selected").forEach((li) => li.classList.remove("selected"));
      const li = document.querySelector(`li.proc[data-pid="${pid}"]`);
      if (li) li.classList.add("selected");
    }
    const reply = await push("info", { target: pid });
    if (selected !== pid) return;
    if (reply.status !== "ok") {
      showGone(pid);
      return;
    }
    const p = reply.response;
    const d = $("details");
    const table = el("table");
    row(table, "behaviour", p.behaviour);
    row(table, "status", p.status);
    row(table, "parent", pidLinks(p.parent ? [{ pid: p.parent, name: p.parent_name, behaviour: "" }] : []));
    row(table, "trap_exit", String(p.trap_exit));
    row(table, "links", pidLinks(p.links));
    row(table, "monitors", pidLinks(p.monitors));
    row(table, "monitored_by", pidLinks(p.monitored_by));
    row(table, "children", pidLinks(p.children));
    for (const [k, v] of Object.entries(p.statistics || {})) row(table, k, v);
    const title = el("h2", null, `${p.pid} ${p.name || p.behaviour}`);
    const state = el("pre", "state", JSON.stringify(p.summary, null, 2));
    d.replaceChildren(title, table, el("h2", null, "state"), state);
    d.dataset.pid = p.pid;
  }

  connect();
})();
