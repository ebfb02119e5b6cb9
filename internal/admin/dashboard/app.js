// The dashboard: draws the platform from /v1/dashboard/stream (server-sent
// events, one snapshot a second) and colours it by its live state.
"use strict";

const SVG = "http://www.w3.org/2000/svg";

function el(name, attrs, parent) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

// layout places the nodes in three columns: the gateway and the topics,
// the services, the endpoints of event routes.
function layout(graph) {
  const cols = [[], [], []];
  for (const n of graph.nodes) {
    const c = n.kind === "gateway" || n.kind === "topic" ? 0 : n.kind === "endpoint" ? 2 : 1;
    cols[c].push(n);
  }
  const pos = {};
  const w = 210, h = 34, gapX = 150, gapY = 22;
  cols.forEach((col, c) => col.forEach((n, i) => { pos[n.id] = { x: 10 + c * (w + gapX), y: 10 + i * (h + gapY), w, h }; }));
  const rows = Math.max(...cols.map((c) => c.length), 1);
  return { pos, width: 3 * w + 2 * gapX + 20, height: rows * (h + gapY) + 20 };
}

function nodeState(n, snap) {
  if (n.kind === "topic" || n.kind === "endpoint" || n.kind === "gateway") return n.kind === "gateway" ? "healthy" : n.kind;
  const s = snap.services[n.id.replace(/^svc_/, "")];
  return s ? s.state : "unknown";
}

function edgeBreaker(e, snap) {
  if (e.kind === "call") return snap.breakers[e.label.replace(/^breaker /, "")];
  if (e.kind === "route") return snap.breakers[e.to.replace(/^svc_/, "")];
  return undefined;
}

function drawGraph(snap) {
  const svg = document.getElementById("graph");
  svg.replaceChildren();
  const { pos, width, height } = layout(snap.graph);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.style.height = height + "px";
  for (const e of snap.graph.edges) {
    const a = pos[e.from], b = pos[e.to];
    if (!a || !b) continue;
    const state = edgeBreaker(e, snap);
    const g = el("g", { class: `edge ${e.kind} ${state || ""}`, "data-from": e.from, "data-to": e.to, "data-kind": e.kind, "data-breaker-state": state || "" }, svg);
    let d, lx, ly;
    if (a.x === b.x) { // a call or dependency between services: an arc on the right
      const x = a.x + a.w, y1 = a.y + a.h / 2, y2 = b.y + b.h / 2, bend = 60 + Math.abs(y2 - y1) / 4;
      d = `M${x},${y1} C${x + bend},${y1} ${x + bend},${y2} ${x},${y2}`;
      lx = x + bend * 0.75 + 4; ly = (y1 + y2) / 2;
    } else {
      const x1 = a.x + a.w, y1 = a.y + a.h / 2, x2 = b.x, y2 = b.y + b.h / 2;
      d = `M${x1},${y1} C${x1 + 60},${y1} ${x2 - 60},${y2} ${x2},${y2}`;
      lx = x1 + (x2 - x1) * 0.55 - 30; ly = y1 + (y2 - y1) * 0.55 - 5;
    }
    el("path", { d, "marker-end": "url(#arrow)" }, g);
    const title = el("title", {}, g);
    title.textContent = e.label + (state ? ` (breaker ${state})` : "");
    // Routes are in their service's tooltip; calls and event routes are
    // labelled on the graph.
    if (e.kind !== "route") {
      const t = el("text", { x: lx, y: ly }, g);
      t.textContent = (e.kind === "call" ? `breaker ${state || "?"}` : e.label).slice(0, 48);
    }
  }
  for (const n of snap.graph.nodes) {
    const p = pos[n.id];
    const state = nodeState(n, snap);
    const g = el("g", { class: `node ${state} ${n.protocol || ""}`, "data-id": n.id, "data-state": state, "data-protocol": n.protocol || "" }, svg);
    el("rect", { x: p.x, y: p.y, width: p.w, height: p.h }, g);
    const t = el("text", { x: p.x + 8, y: p.y + p.h / 2 }, g);
    t.textContent = n.label.length > 34 ? n.label.slice(0, 33) + "…" : n.label;
    const s = snap.services[n.id.replace(/^svc_/, "")];
    // One dot per instance, coloured by its health.
    if (s && s.kind !== "builtin") {
      s.instances.forEach((inst, i) => {
        const dot = el("circle", { class: `instance ${inst.health} ${inst.origin || ""}`, cx: p.x + p.w - 10 - i * 13, cy: p.y + p.h / 2, r: 5,
          "data-instance": inst.address, "data-health": inst.health, "data-origin": inst.origin || "" }, g);
        const beat = inst.last_heartbeat ? `, last heartbeat ${Math.round((Date.now() - Date.parse(inst.last_heartbeat)) / 1000)} s ago` : "";
        const origin = inst.origin === "registry" ? ` (registered as ${inst.id}${beat})` : "";
        el("title", {}, dot).textContent = `${inst.address}: ${inst.health}, ${inst.in_flight} in flight${origin}`;
      });
    }
    const title = el("title", {}, g);
    const routes = snap.graph.edges.filter((e) => e.kind === "route" && e.to === n.id).map((e) => e.label);
    title.textContent = n.label + (routes.length ? "\nroutes: " + routes.join(" ") : "") +
      (s ? "\n" + s.instances.map((i) => `${i.address}: ${i.health}`).join("\n") : "");
  }
  const defs = el("defs", {}, svg);
  const m = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto" }, defs);
  el("path", { d: "M0,0 L10,5 L0,10 z", fill: "#8a93a6" }, m);
}

function drawSide(snap) {
  document.getElementById("generation").textContent = `generation ${snap.generation}`;
  document.getElementById("bus").textContent = `bus ${snap.bus.kind}: ${snap.bus.state}`;
  const rates = document.querySelector("#rates tbody");
  rates.replaceChildren();
  const row = (what, name, v) => {
    const tr = document.createElement("tr");
    tr.innerHTML = `<td>${what}</td><td></td><td>${v.toFixed(1)}</td>`;
    tr.children[1].textContent = name;
    rates.appendChild(tr);
  };
  for (const [name, v] of Object.entries(snap.rates.services)) row("requests", name, v);
  for (const [name, v] of Object.entries(snap.rates.routes)) row("events", name, v);
  const reloads = document.getElementById("reloads");
  reloads.replaceChildren();
  for (const r of snap.reloads.slice().reverse()) {
    const li = document.createElement("li");
    li.className = "reload " + (r.ok ? "ok" : "failed");
    li.textContent = `${new Date(r.time).toLocaleTimeString()} ${r.ok ? (r.changed ? "applied" : "unchanged") : "failed"} (${r.duration})`;
    if (r.diagnostics && r.diagnostics.length) {
      const pre = document.createElement("pre");
      pre.textContent = r.diagnostics.join("\n");
      li.appendChild(pre);
    }
    reloads.appendChild(li);
  }
  const events = document.querySelector("#events tbody");
  events.replaceChildren();
  for (const e of snap.events.slice().reverse()) {
    const tr = document.createElement("tr");
    for (const v of [new Date(e.time).toLocaleTimeString(), e.type, e.subject, e.id.slice(0, 12)]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.appendChild(td);
    }
    events.appendChild(tr);
  }
}

const stream = new EventSource("/v1/dashboard/stream");
stream.onmessage = (m) => {
  const snap = JSON.parse(m.data);
  drawGraph(snap);
  drawSide(snap);
  document.body.dataset.generation = snap.generation;
};
stream.onerror = () => { document.getElementById("generation").textContent = "disconnected; retrying…"; };
