// neuralgae live: shows the stream smoothly although frames take seconds to compute.
//
// Each computed frame k is frame k-1 magnified by `zoom` and turned by `rotate`
// degrees (counter-clockwise), then drawn into. The page keeps a continuous
// position `pos` measured in computed frames and shows frame k magnified by
// zoom^(pos - k) and turned by rotate * (pos - k): between two frames the
// picture keeps zooming, and a new frame fades in exactly where the old one
// has got to (seed 003's interpolation). Where a new frame does not cover the
// canvas yet, the older one shows through.
"use strict";

const canvas = document.getElementById("view");
const ctx = canvas.getContext("2d");
const stage = document.getElementById("stage");
const statusEl = document.getElementById("status");
const nextBar = document.getElementById("next-bar");
const nextText = document.getElementById("next-text");
const form = document.getElementById("ask");
const input = document.getElementById("ask-name");
const message = document.getElementById("message");
const queueEl = document.getElementById("queue");
const queueEmpty = document.getElementById("queue-empty");
const subjectEls = { top: document.getElementById("subject-top"), bottom: document.getElementById("subject-bottom") };

const FADE_MAX = 2.5;      // seconds a new frame takes to fade in, at most
const AHEAD_MAX = 1.25;    // how far past the newest frame the zoom may run while waiting

let state = null;
let stateAt = 0;           // performance.now() when `state` arrived
let frames = [];           // [{index, img, arrived}], oldest first, at most 3
let wanted = -1;           // newest frame index asked for
let pos = null;            // continuous position in computed frames
let interval = 3;          // seconds between computed frames (estimated)
let zoom = 1.03, turn = 0.3;
let last = performance.now();

// -- drawing ----------------------------------------------------------------------------

function fitCanvas() {
  const rect = canvas.getBoundingClientRect();
  const dpr = Math.min(window.devicePixelRatio || 1, 2);
  const w = Math.max(1, Math.round(rect.width * dpr));
  const h = Math.max(1, Math.round(rect.height * dpr));
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
}

function drawFrame(frame, alpha) {
  const W = canvas.width, H = canvas.height;
  const t = pos - frame.index;
  const scale = Math.pow(zoom, t);
  ctx.save();
  ctx.globalAlpha = alpha;
  ctx.translate(W / 2, H / 2);
  ctx.rotate(-turn * Math.PI / 180 * t);
  ctx.scale(scale, scale);
  ctx.drawImage(frame.img, -W / 2, -H / 2, W, H);
  ctx.restore();
}

function tick(now) {
  const dt = Math.min(0.1, (now - last) / 1000);
  last = now;
  if (frames.length) {
    const newest = frames[frames.length - 1];
    const since = (now - newest.arrived) / 1000;
    const target = newest.index + Math.min(since / interval, AHEAD_MAX);
    if (pos === null || target - pos > 3) pos = target;  // first frame, or back from a hidden tab
    // run at the frame rate, a little faster when behind, easing to a halt when no frame comes
    const speed = Math.max(0, Math.min(3, 1 + 1.5 * (target - pos))) / interval;
    pos = Math.min(pos + dt * speed, newest.index + AHEAD_MAX);
    fitCanvas();
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    const fade = Math.min(FADE_MAX, 0.6 * interval);
    frames.forEach((f, i) => {
      const alpha = i === 0 ? 1 : Math.min(1, (now - f.arrived) / 1000 / fade);
      if (alpha > 0) drawFrame(f, alpha);
    });
    if (frames.length > 1 && (now - newest.arrived) / 1000 > fade) frames = frames.slice(-1);
    stage.dataset.drawn = String(newest.index);  // what is on the canvas now (tests read it)
  }
  showCountdown(now);
  requestAnimationFrame(tick);
}

function loadFrame(index) {
  if (index <= wanted) return;
  wanted = index;
  const img = new Image();
  img.onload = () => {
    if (frames.length && index <= frames[frames.length - 1].index) return;
    frames.push({ index, img, arrived: performance.now() });
    if (frames.length > 3) frames = frames.slice(-3);
    stage.dataset.frames = String(Number(stage.dataset.frames) + 1);
    stage.dataset.latest = String(index);
  };
  img.src = `/frame/${index}.jpg`;
}

// -- state ---------------------------------------------------------------------------------

function showCountdown(now) {
  if (!state) return;
  const p = state.progress || {};
  let text = "";
  let fill = 0;
  if (state.status === "drawing") {
    fill = p.total ? p.done / p.total : 0;
    if (p.eta != null) {
      const left = Math.max(0, p.eta - (now - stateAt) / 1000);
      text = left < 0.5 ? "next frame any moment" : `next frame in ${left.toFixed(left < 10 ? 1 : 0)} s`;
    } else {
      text = "drawing the first frame";
    }
    text += ` · step ${p.done} of ${p.total}`;
  } else if (state.status === "paused") {
    text = "resting while nobody watches";
  } else if (state.status === "failed") {
    text = `the stream stopped: ${state.error}`;
  } else if (state.status === "stopped") {
    text = "the stream has ended";
  }
  if (state.interval) text += ` · a new frame every ${state.interval.toFixed(1)} s, shown at the screen's rate`;
  nextText.textContent = text || "\u00a0";
  nextBar.style.width = `${(fill * 100).toFixed(1)}%`;
}

function showSubjects(subjects) {
  const byAim = { top: null, bottom: null };
  if (subjects.length === 1) byAim.bottom = subjects[0];
  else subjects.forEach((s) => { byAim[s.aim] = s; });
  for (const aim of ["top", "bottom"]) {
    const el = subjectEls[aim];
    const s = byAim[aim];
    el.hidden = !s;
    if (!s) continue;
    const where = subjects.length === 1 ? "dreaming of" : (aim === "top" ? "above · dreaming of" : "below · dreaming of");
    const label = el.querySelector(".name");
    label.innerHTML = "";
    const small = document.createElement("small");
    small.textContent = s.requested ? where : `${where} · the stream's own choice`;
    label.append(small, document.createTextNode(s.name));
    el.dataset.subject = s.name;
    const left = s.hold ? Math.max(0, Math.min(1, s.left / s.hold)) : 0;
    el.querySelector(".hold i").style.transform = `scaleX(${left})`;
  }
}

function showQueue(queue) {
  queueEl.innerHTML = "";
  for (const item of queue) {
    const li = document.createElement("li");
    li.textContent = item.name;
    queueEl.append(li);
  }
  queueEmpty.hidden = queue.length > 0;
}

function applyState(s) {
  state = s;
  stateAt = performance.now();
  zoom = s.zoom || 1;
  turn = s.rotate || 0;
  if (s.interval) interval = Math.max(0.2, s.interval);
  document.documentElement.style.setProperty("--aspect", String(s.width / s.height));
  statusEl.classList.toggle("live", s.status === "drawing");
  statusEl.textContent = {
    starting: "waking the network…",
    drawing: s.viewers > 1 ? `live · ${s.viewers} watching` : "live",
    paused: "resting",
    failed: "stopped by an error",
    stopped: "ended",
  }[s.status] || s.status;
  showSubjects(s.subjects || []);
  showQueue(s.queue || []);
  if (s.frame) loadFrame(s.frame.index);
}

function connect() {
  const events = new EventSource("/events");
  events.onmessage = (e) => applyState(JSON.parse(e.data));
  events.onerror = () => { statusEl.textContent = "reconnecting…"; statusEl.classList.remove("live"); };
}

// -- requests --------------------------------------------------------------------------------

function say(text, kind) {
  message.textContent = text;
  message.className = `message ${kind || ""}`;
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const name = input.value.trim();
  if (!name) { say("type the name of something for the network to dream of", "bad"); return; }
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const r = await fetch("/request", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name }),
    });
    const body = await r.json();
    if (r.ok) { say(body.message, "good"); input.value = ""; }
    else say(body.error || "the stream refused that request", "bad");
  } catch (err) {
    say("the stream cannot be reached; is nd serve still running?", "bad");
  } finally {
    button.disabled = false;
  }
});

async function loadClasses() {
  const list = document.getElementById("class-names");
  const classes = await (await fetch("/classes")).json();
  const options = document.createDocumentFragment();
  for (const c of classes) {
    const o = document.createElement("option");
    o.value = c.name;
    if (c.also.length) o.label = c.also.join(", ");
    options.append(o);
  }
  list.append(options);
}

fetch("/state").then((r) => r.json()).then(applyState).catch(() => {});
connect();
loadClasses();
requestAnimationFrame(tick);
