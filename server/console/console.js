/*
 * Tern's web console (server/console.h). Plain JavaScript, no framework,
 * nothing fetched from elsewhere.
 *
 * Everything it shows comes from the monitoring port it was served from:
 * /clusterz (the nodes, their health and the raft leader, gathered by the
 * server), /varz once a second (kept in a ring buffer here for the rate
 * charts), /routez, /jsz and /connz. The Live tab is a NATS client over
 * the WebSocket listener that /varz names; credentials typed there stay in
 * this page's memory and go only into that connection's CONNECT. DOM text
 * is always set with textContent, never parsed as HTML.
 */
"use strict";

const POLL_MS = 1000;
const HISTORY = 300;              /* seconds of rates kept: five minutes */
const LOG_MAX = 300;              /* messages kept in the Live tab */

const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function num(v) {
  return typeof v === "number" ? v.toLocaleString("en-US") : "";
}

function human(v) {
  if (typeof v !== "number") return "";
  const units = ["", "k", "M", "G", "T"];
  let i = 0;
  while (Math.abs(v) >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  const small = Math.abs(v) < 10 && v !== Math.round(v);
  return (i || small ? v.toFixed(1) : String(Math.round(v))) + units[i];
}

function row(cells, numeric) {
  const tr = document.createElement("tr");
  cells.forEach((c, i) => {
    const td = el("td");
    if (c instanceof Node) td.appendChild(c); else td.textContent = c === undefined ? "" : c;
    if (numeric && numeric.includes(i)) td.className = "num";
    tr.appendChild(td);
  });
  return tr;
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

async function getJSON(path) {
  /* A node that stops answering must not stall the page: give up after 5 s. */
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 5000);
  let r;
  try {
    r = await fetch(path, { cache: "no-store", signal: ctl.signal });
  } finally {
    clearTimeout(timer);
  }
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

/* ---- tabs ---- */

let activeTab = "cluster";

function showTab(name) {
  activeTab = name;
  for (const b of document.querySelectorAll("#tabs button"))
    b.classList.toggle("active", b.dataset.tab === name);
  for (const s of document.querySelectorAll("main > section"))
    s.hidden = s.id !== "tab-" + name;
  if (name === "live") live.open();
  refreshTab();
}

/* ---- /varz: the header line and the rates ---- */

const samples = [];               /* {t, inMsgs, outMsgs, inBytes, outBytes} */
let lastVarz = null;

async function pollVarz() {
  const v = await getJSON("varz");
  lastVarz = v;
  $("server-line").textContent = `${v.server_name} · ${v.tern_version || v.version} · ` +
    `${v.connections} clients · up ${v.uptime}`;
  samples.push({ t: Date.now() / 1000, inMsgs: v.in_msgs, outMsgs: v.out_msgs,
                 inBytes: v.in_bytes, outBytes: v.out_bytes });
  if (samples.length > HISTORY + 1) samples.shift();
  drawRates();
}

function rates(inKey, outKey) {
  const out = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1], b = samples[i], dt = b.t - a.t;
    if (dt <= 0) continue;
    out.push({ t: b.t, a: Math.max(0, (b[inKey] - a[inKey]) / dt),
               b: Math.max(0, (b[outKey] - a[outKey]) / dt) });
  }
  return out;
}

/* A line chart of two series over the last HISTORY seconds. */
function drawChart(canvas, points) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || canvas.width, h = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(w * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  const left = 48, bottom = h - 18, top = 8, right = w - 8;
  const now = Date.now() / 1000;
  let max = 1;
  for (const p of points) max = Math.max(max, p.a, p.b);
  g.strokeStyle = "#e2e6ee";
  g.fillStyle = "#64748b";
  g.font = "11px system-ui, sans-serif";
  g.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = bottom - (bottom - top) * i / 4;
    g.beginPath(); g.moveTo(left, y); g.lineTo(right, y); g.stroke();
    g.fillText(human(max * i / 4), 4, y + 4);
  }
  for (let m = 0; m <= 5; m++) {
    const x = right - (right - left) * m * 60 / HISTORY;
    g.fillText(m ? `-${m}m` : "now", x - 12, h - 4);
  }
  const xy = (p, key) => [right - (right - left) * (now - p.t) / HISTORY,
                          bottom - (bottom - top) * p[key] / max];
  for (const [key, color] of [["a", "#3b82f6"], ["b", "#f59e0b"]]) {
    g.strokeStyle = color;
    g.lineWidth = 2;
    g.beginPath();
    points.forEach((p, i) => {
      const [x, y] = xy(p, key);
      if (i) g.lineTo(x, y); else g.moveTo(x, y);
    });
    g.stroke();
  }
}

function drawRates() {
  if (activeTab !== "cluster") return;
  drawChart($("chart-msgs"), rates("inMsgs", "outMsgs"));
  drawChart($("chart-bytes"), rates("inBytes", "outBytes"));
}

/* ---- cluster: /clusterz and /routez ---- */

function badge(text, cls) {
  return el("span", text, "badge " + cls);
}

async function pollCluster() {
  const c = await getJSON("clusterz");
  const js = c.jetstream || {};
  const nodes = c.nodes || [];
  const up = nodes.filter((n) => n.health === "up").length;
  let summary = `${nodes.length} node${nodes.length === 1 ? "" : "s"}, ${up} up`;
  if (c.cluster) summary = `cluster ${c.cluster}: ` + summary;
  if (js.clustered) summary += js.leader ? `; raft leader ${js.leader}` : "; no raft leader now";
  $("cluster-summary").textContent = summary;
  fill($("nodes").tBodies[0], nodes.map((n) => {
    const v = n.varz || {};
    const tr = row([
      n.name + (n.self ? " (this node)" : ""),
      badge(n.health, n.health),
      n.raft === "leader" ? badge("leader", "leader") : (n.raft || ""),
      n.self ? "" : (n.route ? "yes" : "no"),
      num(v.connections), num(v.subscriptions), num(v.in_msgs), num(v.out_msgs),
      v.uptime || "", v.tern_version || v.version || "", n.error || "",
    ], [4, 5, 6, 7]);
    tr.dataset.node = n.name;
    tr.dataset.health = n.health;
    tr.dataset.raft = n.raft || "";
    if (n.health !== "up") tr.className = "down";
    return tr;
  }));
}

async function pollRoutes() {
  const r = await getJSON("routez");
  fill($("routes").tBodies[0], (r.routes || []).map((x) => row([
    x.remote_name || x.remote_id, `${x.ip}:${x.port}`, x.did_solicit ? "yes" : "no",
    num(x.in_msgs), num(x.out_msgs), num(x.in_bytes), num(x.out_bytes),
    num(x.subscriptions), x.uptime,
  ], [3, 4, 5, 6, 7])));
}

/* ---- streams and consumers: /jsz ---- */

async function pollStreams() {
  const j = await getJSON("jsz?streams=1&consumers=1");
  if (j.disabled) {
    $("js-summary").textContent = "JetStream is not enabled on this node.";
    fill($("streams").tBodies[0], []);
    fill($("consumers").tBodies[0], []);
    return;
  }
  const acc = (j.account_details || [])[0] || {};
  const streams = acc.stream_detail || [];
  const meta = j.meta_cluster;
  $("js-summary").textContent = `${num(j.streams)} streams, ${num(j.consumers)} consumers, ` +
    `${num(j.messages)} messages, ${human(j.bytes)}B` +
    (meta ? `; raft leader ${meta.leader || "(none now)"}` : "");
  const consumers = [];
  fill($("streams").tBodies[0], streams.map((s) => {
    const st = s.state || {};
    for (const c of s.consumer_detail || []) consumers.push([s.name, c]);
    const tr = row([s.name, num(st.messages), num(st.bytes), num(st.first_seq), num(st.last_seq),
                    num(st.num_subjects), num(st.consumer_count),
                    (s.cluster && s.cluster.leader) || ""], [1, 2, 3, 4, 5, 6]);
    tr.dataset.stream = s.name;
    tr.dataset.messages = st.messages;
    return tr;
  }));
  const total = streams.reduce((n, s) => n + ((s.state || {}).consumer_count || 0), 0);
  $("consumers-note").textContent = total && !consumers.length
    ? "Consumers' live figures are kept by the node that serves JetStream" +
      (meta && meta.leader ? ` (${meta.leader}); open its console to see them.` : ".")
    : "";
  fill($("consumers").tBodies[0], consumers.map(([s, c]) => row([
    s, c.name, num(c.num_pending), num(c.num_ack_pending), num(c.num_redelivered),
    num(c.num_waiting), num((c.delivered || {}).stream_seq), num((c.ack_floor || {}).stream_seq),
  ], [2, 3, 4, 5, 6, 7])));
}

/* ---- connections: /connz ---- */

async function pollConnections() {
  const c = await getJSON("connz?limit=256");
  $("conn-summary").textContent = `${num(c.num_connections)} of ${num(c.total)} connections shown`;
  fill($("connections").tBodies[0], (c.connections || []).map((x) => row([
    x.cid, x.name || "", `${x.ip}:${x.port}`, x.lang || "", x.version || "",
    num(x.subscriptions), num(x.in_msgs), num(x.out_msgs), num(x.pending_bytes), x.uptime,
  ], [0, 5, 6, 7, 8])));
}

/* ---- polling ---- */

let busy = false;

async function refreshTab() {
  try {
    if (activeTab === "cluster") await Promise.all([pollCluster(), pollRoutes()]);
    else if (activeTab === "streams") await pollStreams();
    else if (activeTab === "connections") await pollConnections();
  } catch (e) {
    $("cluster-summary").textContent = "monitoring port not answering: " + e.message;
  }
}

async function tick() {
  if (busy) return;        /* a slow answer is never stacked on */
  busy = true;
  try {
    await pollVarz();
  } catch (e) {
    $("server-line").textContent = "monitoring port not answering: " + e.message;
  }
  await refreshTab();
  busy = false;
}

/* ---- Live: a NATS client over WebSocket ---- */

const enc = new TextEncoder();
const dec = new TextDecoder();

function concat(a, b) {
  const c = new Uint8Array(a.length + b.length);
  c.set(a, 0);
  c.set(b, a.length);
  return c;
}

function indexCRLF(buf, from) {
  for (let i = from; i + 1 < buf.length; i++)
    if (buf[i] === 13 && buf[i + 1] === 10) return i;
  return -1;
}

/* What a NATS status header block says: "NATS/1.0 503" → 503. */
function parseHeaders(bytes) {
  const lines = dec.decode(bytes).split("\r\n");
  const m = /^NATS\/1\.0(?: (\d{3}))?/.exec(lines[0] || "");
  const headers = [];
  for (const l of lines.slice(1)) if (l) headers.push(l);
  return { status: m && m[1] ? Number(m[1]) : 0, headers };
}

class NatsWs {
  constructor(url, creds, on) {
    this.on = on;                    /* {status, error, authNeeded, ready, closed} */
    this.creds = creds;              /* {user, pass} or {token} or null */
    this.buf = new Uint8Array(0);
    this.sid = 0;
    this.subs = new Map();           /* sid → {subject, queue, cb} */
    this.ready = false;
    this.ws = new WebSocket(url);
    this.ws.binaryType = "arraybuffer";
    this.ws.onmessage = (e) => this.data(e.data);
    this.ws.onclose = () => { this.ready = false; this.on.closed(); };
    this.ws.onerror = () => this.on.status("WebSocket error: cannot reach " + url);
  }

  send(text) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(enc.encode(text));
  }

  close() {
    this.ws.onclose = null;
    this.ws.close();
  }

  data(chunk) {
    const bytes = typeof chunk === "string" ? enc.encode(chunk) : new Uint8Array(chunk);
    this.buf = concat(this.buf, bytes);
    for (;;) {
      const eol = indexCRLF(this.buf, 0);
      if (eol < 0) return;
      const line = dec.decode(this.buf.subarray(0, eol));
      const args = line.split(" ").filter((x) => x.length);
      const op = (args[0] || "").toUpperCase();
      if (op === "MSG" || op === "HMSG") {
        const hdr = op === "HMSG" ? Number(args[args.length - 2]) : 0;
        const total = Number(args[args.length - 1]);
        if (!Number.isInteger(total) || !Number.isInteger(hdr) || hdr < 0 || total < hdr) {
          this.on.error("cannot read the server's line: " + line);
          this.close();
          this.on.closed();
          return;
        }
        if (this.buf.length < eol + 2 + total + 2) return;       /* wait for the rest */
        const body = this.buf.subarray(eol + 2, eol + 2 + total);
        const reply = args.length === (op === "HMSG" ? 6 : 5) ? args[3] : "";
        this.buf = this.buf.slice(eol + 2 + total + 2);
        this.deliver(args[1], args[2], reply, hdr ? parseHeaders(body.subarray(0, hdr)) : null,
                     dec.decode(body.subarray(hdr)));
        continue;
      }
      this.buf = this.buf.slice(eol + 2);
      this.control(op, line);
    }
  }

  control(op, line) {
    if (op === "INFO") {
      let info;
      try {
        info = JSON.parse(line.slice(5));
      } catch (e) {
        this.on.error("cannot read the server's INFO");
        return;
      }
      if (this.ready) return;                                     /* a later INFO */
      if (info.auth_required && !this.creds) {
        this.close();
        this.on.authNeeded("");
        return;
      }
      const c = { verbose: false, pedantic: false, tls_required: false, name: "tern-console",
                  lang: "javascript", version: "tern-console", protocol: 1, echo: true,
                  headers: true, no_responders: true };
      if (this.creds && this.creds.token) c.auth_token = this.creds.token;
      if (this.creds && this.creds.user) { c.user = this.creds.user; c.pass = this.creds.pass; }
      this.send("CONNECT " + JSON.stringify(c) + "\r\nPING\r\n");
      this.on.status(`connected to ${info.server_name || info.server_id}, authenticating…`);
      this.serverName = info.server_name || info.server_id;
    } else if (op === "PING") {
      this.send("PONG\r\n");
    } else if (op === "PONG") {
      if (!this.ready) {
        this.ready = true;
        this.on.status(`connected to ${this.serverName} over WebSocket`);
        this.on.ready();
      }
    } else if (op === "-ERR") {
      const text = line.slice(5).replace(/^'|'$/g, "");
      if (/authorization violation|authentication/i.test(text)) {
        this.close();
        this.on.authNeeded(text);
      } else {
        this.on.error(text);
      }
    }
  }

  deliver(subject, sid, reply, hdr, payload) {
    const s = this.subs.get(sid);
    if (s) s.cb({ subject, reply, hdr, payload, sid });
  }

  subscribe(subject, queue, cb) {
    const sid = String(++this.sid);
    this.subs.set(sid, { subject, queue, cb });
    this.send(`SUB ${subject}${queue ? " " + queue : ""} ${sid}\r\n`);
    return sid;
  }

  unsubscribe(sid, max) {
    if (max) {
      this.send(`UNSUB ${sid} ${max}\r\n`);
    } else {
      this.subs.delete(sid);
      this.send(`UNSUB ${sid}\r\n`);
    }
  }

  publish(subject, reply, payload) {
    const body = enc.encode(payload);
    const head = enc.encode(`PUB ${subject}${reply ? " " + reply : ""} ${body.length}\r\n`);
    if (this.ws.readyState === WebSocket.OPEN)
      this.ws.send(concat(concat(head, body), enc.encode("\r\n")));
  }

  request(subject, payload, timeoutMs) {
    const inbox = "_INBOX.console." + Math.random().toString(36).slice(2) + "." + (this.sid + 1);
    return new Promise((resolve) => {
      let timer = null;
      const sid = this.subscribe(inbox, "", (m) => {
        clearTimeout(timer);
        this.subs.delete(sid);
        resolve(m);
      });
      this.unsubscribe(sid, 1);
      timer = setTimeout(() => { this.unsubscribe(sid); resolve(null); }, timeoutMs);
      this.publish(subject, inbox, payload);
    });
  }
}

function logLine(cls, parts) {
  const li = el("li", null, cls);
  const t = new Date();
  li.appendChild(el("span", t.toTimeString().slice(0, 8) + " "));
  for (const [text, c] of parts) li.appendChild(el("span", text, c));
  const log = $("log");
  log.prepend(li);
  while (log.children.length > LOG_MAX) log.lastChild.remove();
  return li;
}

const live = {
  nc: null,
  creds: null,
  opened: false,
  wanted: [],                       /* subscriptions to make again after a reconnect */

  status(text) {
    $("live-status").textContent = text;
  },

  wsURL() {
    const w = (lastVarz && lastVarz.websocket) || {};
    if (!w.port) return null;
    return `${w.no_tls ? "ws" : "wss"}://${location.hostname}:${w.port}`;
  },

  async open() {
    if (this.opened) return;
    if (!lastVarz) {
      try { lastVarz = await getJSON("varz"); } catch (e) { this.status(e.message); return; }
    }
    const url = this.wsURL();
    if (!url) {
      this.status("This node has no WebSocket listener, so the Live tab cannot connect. " +
                  "Configure one (websocket { port: 8080, no_tls: true }) to use it.");
      $("live-forms").hidden = true;
      return;
    }
    this.opened = true;
    this.connect(url);
  },

  connect(url) {
    this.status("connecting to " + url + " …");
    $("auth-form").hidden = true;
    $("live-forms").hidden = true;
    clearTimeout(this.retry);
    this.nc = new NatsWs(url, this.creds, {
      status: (t) => this.status(t),
      error: (t) => logLine("err", [["error: " + t]]),
      authNeeded: (why) => {
        this.creds = null;
        this.nc = null;
        this.status("credentials needed");
        $("auth-error").textContent = why;
        $("auth-form").hidden = false;
      },
      closed: () => {
        /* The node went away or restarted: try again every two seconds,
         * with the same credentials and subscriptions. */
        $("live-forms").hidden = true;
        this.status("connection closed; reconnecting…");
        this.retry = setTimeout(() => this.connect(url), 2000);
      },
      ready: () => {
        $("live-forms").hidden = false;
        const again = this.wanted;
        this.wanted = [];
        $("subs").replaceChildren();
        for (const [s, q] of again) this.subscribe(s, q);
      },
    });
  },

  subscribe(subject, queue) {
    if (!this.nc || !this.nc.ready) return;
    const sid = this.nc.subscribe(subject, queue, (m) => {
      const parts = [[m.subject, "subj"], [` [${subject}${queue ? " / " + queue : ""}]`]];
      if (m.reply) parts.push([` reply-to ${m.reply}`]);
      if (m.hdr && m.hdr.headers.length) parts.push([" " + m.hdr.headers.join("; ")]);
      parts.push([" " + m.payload, "payload"]);
      const li = logLine("msg", parts);
      li.dataset.subject = m.subject;
    });
    this.wanted.push([subject, queue]);
    const li = el("li", `${subject}${queue ? " (queue " + queue + ")" : ""} `);
    li.dataset.subject = subject;
    const x = el("button", "unsubscribe");
    x.type = "button";
    x.addEventListener("click", () => {
      this.nc.unsubscribe(sid);
      this.wanted = this.wanted.filter(([s, q]) => s !== subject || q !== queue);
      li.remove();
    });
    li.appendChild(x);
    $("subs").appendChild(li);
    logLine("info", [[`subscribed to ${subject}${queue ? " in queue group " + queue : ""}`]]);
  },
};

function setupLive() {
  $("auth-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const token = $("auth-token").value;
    live.creds = token ? { token } : { user: $("auth-user").value, pass: $("auth-pass").value };
    $("auth-pass").value = "";
    $("auth-token").value = "";
    live.connect(live.wsURL());
  });
  $("sub-form").addEventListener("submit", (e) => {
    e.preventDefault();
    live.subscribe($("sub-subject").value.trim(), $("sub-queue").value.trim());
  });
  $("pub-form").addEventListener("submit", (e) => {
    e.preventDefault();
    if (!live.nc || !live.nc.ready) return;
    const subject = $("pub-subject").value.trim(), reply = $("pub-reply").value.trim();
    live.nc.publish(subject, reply, $("pub-payload").value);
    logLine("info", [[`published to ${subject}${reply ? " (reply-to " + reply + ")" : ""}`]]);
  });
  $("req-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!live.nc || !live.nc.ready) return;
    const subject = $("req-subject").value.trim();
    const timeout = Math.max(1, Number($("req-timeout").value) || 2000);
    logLine("info", [[`request sent to ${subject}`]]);
    const m = await live.nc.request(subject, $("req-payload").value, timeout);
    if (!m) logLine("err", [[`no reply from ${subject} within ${timeout} ms`]]);
    else if (m.hdr && m.hdr.status === 503) logLine("err", [[`no responders for ${subject}`]]);
    else logLine("reply", [[`reply from ${subject}: `], [m.payload, "payload"]]);
  });
  $("log-clear").addEventListener("click", () => $("log").replaceChildren());
}

/* ---- start ---- */

document.addEventListener("DOMContentLoaded", () => {
  for (const b of document.querySelectorAll("#tabs button"))
    b.addEventListener("click", () => showTab(b.dataset.tab));
  setupLive();
  const first = (location.hash || "").slice(1);
  if (["cluster", "streams", "connections", "live"].includes(first)) showTab(first);
  tick();
  setInterval(tick, POLL_MS);
});
