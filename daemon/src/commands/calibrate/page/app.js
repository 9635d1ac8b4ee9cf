// The calibrate page: shows the camera's newest frame under its colour-mapped depth (or its
// class map), takes the user's clicks (floor marks, floor regions, zones, the dock edge,
// references), sends them to the server to fit and save, and reads the depth under the
// cursor. In Label mode it shows a held frame and sends the class strokes brushed on it; the
// server fits and saves a class head from them. The server checks everything; the page only
// helps to fill it in.
"use strict";

const $ = (id) => document.getElementById(id);
const canvas = $("canvas");
const ctx = canvas.getContext("2d");

const state = {
  mode: "floor",
  floor: [], // {pixel: [u, v], x: "", y: ""}
  regions: [], // [[nx, ny], …]
  zones: [], // {name, points}
  references: [], // {pixel, distance: ""}
  dock: [], // up to two pixels
  pending: [], // the polygon being drawn, normalised
  held: [], // {index, image, strokes: [{class, radius, points}]}, as the server holds them
  current: null, // the held frame shown in Label mode
  stroke: null, // the stroke being brushed
};
// The class colours of the server's overlays (pipeline::snapshot::class_colour).
const CLASS_COLOURS = {
  forklift: "rgb(255,140,0)",
  person: "rgb(235,40,200)",
  load: "rgb(240,225,40)",
  floor: "rgb(50,170,80)",
  other: "rgb(80,110,190)",
};
let size = null; // [width, height] of the camera's frames
let frame = null;
let depth = null;
let shownSeq = null;

const HINTS = {
  floor: "Click a mark on the floor, then type its floor coordinates in metres.",
  region: "Click the corners of an area of bare floor, then Close polygon.",
  zone: "Click the corners of a zone, then Close polygon and name it.",
  dock: "Click two points on the line where the dock face meets the floor.",
  reference: "Click a point whose straight-line distance from the camera you measured, then type it.",
  label: "Hold a frame, pick a class and brush over it; a few strokes per class on a few frames, then Fit classes.",
};

function num(text) {
  const v = parseFloat(text);
  return Number.isFinite(v) ? v : null;
}

// --- the picture -----------------------------------------------------------------------

function pixelAt(event) {
  const r = canvas.getBoundingClientRect();
  return [((event.clientX - r.left) / r.width) * size[0], ((event.clientY - r.top) / r.height) * size[1]];
}

function normalisedToPixel(p) {
  return [p[0] * size[0], p[1] * size[1]];
}

function cross(p, colour, label) {
  const [x, y] = p;
  const s = Math.max(4, size[0] / 120);
  ctx.strokeStyle = colour;
  ctx.lineWidth = Math.max(1.5, size[0] / 400);
  ctx.beginPath();
  ctx.moveTo(x - s, y);
  ctx.lineTo(x + s, y);
  ctx.moveTo(x, y - s);
  ctx.lineTo(x, y + s);
  ctx.stroke();
  if (label) text(label, x + s + 2, y - s - 2, colour);
}

function text(t, x, y, colour) {
  ctx.font = `${Math.max(10, Math.round(size[0] / 50))}px sans-serif`;
  ctx.fillStyle = "rgba(0,0,0,0.6)";
  const w = ctx.measureText(t).width;
  const h = Math.max(10, Math.round(size[0] / 50));
  ctx.fillRect(x - 1, y - h, w + 2, h + 3);
  ctx.fillStyle = colour;
  ctx.fillText(t, x, y);
}

function polygon(points, colour, closed, label) {
  if (points.length === 0) return;
  ctx.strokeStyle = colour;
  ctx.lineWidth = Math.max(1.5, size[0] / 400);
  ctx.setLineDash(closed ? [] : [6, 4]);
  ctx.beginPath();
  points.map(normalisedToPixel).forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
  if (closed) ctx.closePath();
  ctx.stroke();
  ctx.setLineDash([]);
  if (label) {
    const [x, y] = normalisedToPixel(points[0]);
    text(label, x + 4, y + 14, colour);
  }
}

function heldFrame() {
  return state.mode === "label" && state.current !== null ? state.held[state.current] : null;
}

function drawStrokes(held) {
  ctx.globalAlpha = 0.55;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  for (const s of held.strokes.concat(state.stroke ? [state.stroke] : [])) {
    ctx.strokeStyle = ctx.fillStyle = CLASS_COLOURS[s.class];
    ctx.lineWidth = 2 * s.radius;
    ctx.beginPath();
    s.points.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    if (s.points.length === 1) ctx.arc(s.points[0][0], s.points[0][1], s.radius, 0, 2 * Math.PI);
    s.points.length === 1 ? ctx.fill() : ctx.stroke();
  }
  ctx.globalAlpha = 1;
}

function draw() {
  if (!size) return;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const held = heldFrame();
  if (held) {
    ctx.drawImage(held.image, 0, 0, size[0], size[1]);
    drawStrokes(held);
    return;
  }
  if (frame) ctx.drawImage(frame, 0, 0, size[0], size[1]);
  if (depth) {
    ctx.globalAlpha = $("overlay").value / 100;
    ctx.drawImage(depth, 0, 0, size[0], size[1]);
    ctx.globalAlpha = 1;
  }
  state.regions.forEach((r, i) => polygon(r, "#3fdc3f", true, `floor ${i + 1}`));
  state.zones.forEach((z) => polygon(z.points, "#ff4040", true, z.name));
  polygon(state.pending, "#ffffff", false);
  if (state.dock.length) {
    ctx.strokeStyle = "#ffdc00";
    ctx.lineWidth = Math.max(2, size[0] / 300);
    ctx.beginPath();
    state.dock.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    ctx.stroke();
    state.dock.forEach((p) => cross(p, "#ffdc00"));
  }
  state.floor.forEach((f, i) => cross(f.pixel, "#ff00ff", `${i + 1}`));
  state.references.forEach((r, i) => cross(r.pixel, "#00e6ff", r.distance ? `R${i + 1} ${r.distance} m` : `R${i + 1}`));
}

function load(url) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = reject;
    img.src = url;
  });
}

async function refreshImages(seq) {
  try {
    const overlay = $("overlay-kind").value === "classes" ? "classes" : "depth";
    frame = await load(`/api/frame.jpg?seq=${seq}`);
    depth = await load(`/api/${overlay}.png?seq=${seq}&t=${Date.now()}`).catch(() => null);
    shownSeq = seq;
    draw();
  } catch (e) {
    /* the next status poll tries again */
  }
}

async function poll() {
  try {
    const s = await (await fetch("/api/status")).json();
    $("camera").textContent = s.camera;
    $("source").textContent = `source ${s.source}` + (s.width ? ` · ${s.width}x${s.height} · frame ${s.seq}` : "");
    $("source").className = s.source === "up" || s.source.startsWith("ended") ? "up" : "down";
    if (s.width && (!size || size[0] !== s.width || size[1] !== s.height)) {
      size = [s.width, s.height];
      canvas.width = s.width;
      canvas.height = s.height;
    }
    if (s.seq !== null && s.seq !== shownSeq) await refreshImages(s.seq);
  } catch (e) {
    $("source").textContent = "the calibrate server does not answer";
    $("source").className = "down";
  }
  setTimeout(poll, 1000);
}

// --- clicks ------------------------------------------------------------------------------

function setMode(mode) {
  state.mode = mode;
  document.querySelectorAll("#tools [data-mode]").forEach((b) => b.classList.toggle("active", b.dataset.mode === mode));
  $("hint").textContent = HINTS[mode];
  draw();
}

canvas.addEventListener("click", (event) => {
  if (!size || state.mode === "label") return;
  const p = pixelAt(event);
  const n = [p[0] / size[0], p[1] / size[1]];
  switch (state.mode) {
    case "floor":
      state.floor.push({ pixel: p, x: "", y: "" });
      renderLists();
      $("floor-points").querySelector("tbody tr:last-child input[name=x]").focus();
      break;
    case "reference":
      state.references.push({ pixel: p, distance: "" });
      renderLists();
      $("references").querySelector("tbody tr:last-child input[name=distance]").focus();
      break;
    case "dock":
      if (state.dock.length === 2) state.dock = [];
      state.dock.push(p);
      renderLists();
      break;
    default:
      state.pending.push(n);
  }
  draw();
});

function closePolygon() {
  if (state.pending.length < 3) {
    $("hint").textContent = "A polygon needs at least 3 corners.";
    return;
  }
  if (state.mode === "zone") {
    state.zones.push({ name: `zone${state.zones.length + 1}`, points: state.pending });
  } else {
    state.regions.push(state.pending);
  }
  state.pending = [];
  renderLists();
  draw();
}

function undo() {
  const held = heldFrame();
  if (held) {
    held.strokes.pop();
    sendStrokes(held);
  } else if (state.pending.length) state.pending.pop();
  else if (state.mode === "floor") state.floor.pop();
  else if (state.mode === "reference") state.references.pop();
  else if (state.mode === "dock") state.dock.pop();
  else if (state.mode === "zone") state.zones.pop();
  else state.regions.pop();
  renderLists();
  draw();
}

// --- the lists -------------------------------------------------------------------------

const px = (p) => `${p[0].toFixed(1)}, ${p[1].toFixed(1)}`;

function input(name, value, onChange) {
  const el = document.createElement("input");
  el.type = name === "name" ? "text" : "number";
  el.step = "any";
  el.name = name;
  el.value = value;
  el.addEventListener("input", () => {
    onChange(el.value);
    el.classList.remove("missing");
    draw();
  });
  return el;
}

function remove(list, i) {
  const b = document.createElement("button");
  b.textContent = "✕";
  b.title = "remove";
  b.addEventListener("click", () => {
    list.splice(i, 1);
    renderLists();
    draw();
  });
  return b;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    const td = document.createElement("td");
    if (c instanceof Node) td.appendChild(c);
    else td.textContent = c;
    tr.appendChild(td);
  }
  return tr;
}

function renderLists() {
  const floor = $("floor-points").querySelector("tbody");
  floor.replaceChildren(
    ...state.floor.map((f, i) =>
      row([`${i + 1}`, px(f.pixel), input("x", f.x, (v) => (f.x = v)), input("y", f.y, (v) => (f.y = v)), remove(state.floor, i)]),
    ),
  );
  const refs = $("references").querySelector("tbody");
  refs.replaceChildren(
    ...state.references.map((r, i) =>
      row([`R${i + 1}`, px(r.pixel), input("distance", r.distance, (v) => (r.distance = v)), remove(state.references, i)]),
    ),
  );
  $("regions").replaceChildren(
    ...state.regions.map((r, i) => {
      const li = document.createElement("li");
      li.append(`floor ${i + 1}: ${r.length} corners `, remove(state.regions, i));
      return li;
    }),
  );
  const zones = $("zones").querySelector("tbody");
  zones.replaceChildren(
    ...state.zones.map((z, i) => row([input("name", z.name, (v) => (z.name = v)), `${z.points.length}`, remove(state.zones, i)])),
  );
  $("dock").textContent = state.dock.length ? state.dock.map(px).join(" → ") : "not marked";
}

// --- fit and save ----------------------------------------------------------------------

function points() {
  const camera = num($("fx").value) !== null ? { fx: num($("fx").value) } : { hfov_deg: num($("hfov").value) };
  const body = {
    camera,
    floor_point: state.floor.map((f) => ({ pixel: f.pixel, floor: [num(f.x), num(f.y)] })),
    floor_region: state.regions.map((r) => ({ points: r })),
    reference: state.references.map((r) => ({ pixel: r.pixel, distance_m: num(r.distance) })),
    zone: state.zones.map((z) => ({ name: z.name, points: z.points })),
  };
  if (state.dock.length === 2) body.dock = { edge: state.dock };
  return body;
}

/// Marks the empty number fields; the server would refuse them anyway, less helpfully.
function missingFields() {
  const empty = [...document.querySelectorAll("aside input[type=number]")].filter(
    (el) => el.id !== "fx" && el.id !== "hfov" && num(el.value) === null,
  );
  empty.forEach((el) => el.classList.add("missing"));
  if (num($("hfov").value) === null && num($("fx").value) === null) {
    $("hfov").classList.add("missing");
    empty.push($("hfov"));
  }
  return empty.length;
}

function showError(message) {
  const p = document.createElement("p");
  p.className = "error";
  p.textContent = message;
  $("result").replaceChildren(p);
}

function showReport(r) {
  const f = (v, d) => v.toFixed(d);
  const rows = [
    ["camera height", `${f(r.height_m, 3)} m`],
    ["pitch · roll · heading", `${f(r.pitch_deg, 2)}° · ${f(r.roll_deg, 2)}° · ${f(r.heading_deg, 2)}°`],
    ["reprojection", `${f(r.reprojection_rms_px, 2)} px rms, ${f(r.reprojection_max_px, 2)} px max`],
    ["depth alignment", r.output === "relative"
      ? `1 / metric = ${f(r.a, 4)} · predicted ${r.b >= 0 ? "+" : "−"} ${f(Math.abs(r.b), 4)} per m (relative model)`
      : `metric = ${f(r.a, 4)} · predicted ${r.b >= 0 ? "+" : "−"} ${f(Math.abs(r.b), 4)} m`],
    ["held-out residual", `${f(r.holdout_rmse_m, 3)} m rms, ${f(r.holdout_max_m, 3)} m max (${r.fitted} fitted, ${r.held_out} held out)`],
    ["floor AbsRel", r.floor_abs_rel_before === null
      ? `${f(r.floor_abs_rel_after, 3)} after the alignment`
      : `${f(r.floor_abs_rel_before, 3)} before → ${f(r.floor_abs_rel_after, 3)} after`],
    ...(r.empty_scene_spread === null ? [] : [["empty scene", `the depth moves by ${f(r.empty_scene_spread * 100, 1)} % from frame to frame (median of ${r.empty_scene_frames} frames)`]]),
    ...(r.empty_scene_frames >= r.empty_scene_frames_wanted ? [] : [["warning", `the empty scene is from ${r.empty_scene_frames} of the ${r.empty_scene_frames_wanted} frames it needs: keep it empty longer (the model takes two a second), then Fit again; with fewer, its spread is too unsteady, and rules that go by geometry alone start falsely`]]),
    ...r.references.map((x, i) => [`reference R${i + 1}`, `measured ${f(x.measured_m, 2)} m, reads ${f(x.reads_m, 2)} m`]),
    ...r.planes.map((p) => [`plane ${p.name}`, `${f(p.distance_m, 2)} m from the camera`]),
  ];
  const table = document.createElement("table");
  table.id = "report";
  rows.forEach((cells) => table.appendChild(row(cells)));
  $("result").replaceChildren(table);
}

async function send(path) {
  if (missingFields()) {
    showError("Fill in the fields marked red first.");
    return null;
  }
  let response, answer;
  try {
    response = await fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(points()),
    });
    answer = await response.json();
  } catch (e) {
    showError(`The calibrate server did not answer (${e}). Is it still running?`);
    return null;
  }
  if (!response.ok) {
    showError(answer.error);
    return null;
  }
  return answer;
}

$("fit").addEventListener("click", async () => {
  const report = await send("/api/fit");
  if (report) {
    showReport(report);
    shownSeq = null; // the overlay is now in metres by the fit
  }
});

$("save").addEventListener("click", async () => {
  const answer = await send("/api/save");
  if (answer) {
    showReport(answer.report);
    const p = document.createElement("p");
    p.id = "saved";
    p.textContent = `Saved ${answer.written.calibration} (and ${answer.written.preview}). Reload the daemon: systemctl reload dinoedge`;
    $("result").appendChild(p);
    shownSeq = null;
  }
});

// --- the read-out under the cursor ---------------------------------------------------

let reading = false;
let wanted = null;

async function readOut() {
  if (reading || !wanted) return;
  reading = true;
  const [x, y] = wanted;
  wanted = null;
  try {
    const response = await fetch(`/api/read?x=${x}&y=${y}`);
    const r = await response.json();
    let line = `pixel ${x.toFixed(0)}, ${y.toFixed(0)} · `;
    if (!response.ok) line += r.error;
    else if (r.depth_m === undefined) line += r.predicted_m === null ? "no depth" : `model depth ${r.predicted_m.toFixed(2)} (fit to read metres)`;
    else {
      line += `depth ${r.depth_m.toFixed(2)} m · distance ${r.distance_m.toFixed(2)} m · height ${r.height_m.toFixed(2)} m`;
      for (const [name, d] of Object.entries(r.planes)) line += ` · ${name} ${d.toFixed(2)} m`;
    }
    $("readout").textContent = line;
  } finally {
    reading = false;
    readOut();
  }
}

canvas.addEventListener("mousemove", (event) => {
  if (!size) return;
  wanted = pixelAt(event);
  readOut();
});

// --- classes: held frames, strokes, the class head ---------------------------------------

function showClasses(message, isError) {
  const p = document.createElement("p");
  if (isError) p.className = "error";
  p.textContent = message;
  $("classes-result").replaceChildren(p);
}

async function call(method, path, body) {
  let response, answer;
  try {
    response = await fetch(path, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    answer = await response.json();
  } catch (e) {
    showClasses(`The calibrate server did not answer (${e}). Is it still running?`, true);
    return null;
  }
  if (!response.ok) {
    showClasses(answer.error, true);
    return null;
  }
  return answer;
}

function renderHeld() {
  const held = state.held.length;
  $("held").textContent = held
    ? `${held} frame${held > 1 ? "s" : ""} held` + (state.current !== null ? `; labelling frame ${state.current + 1}` : "")
    : "No frame held.";
}

async function sendStrokes(held) {
  const answer = await call("PUT", `/api/labels/${held.index}`, { strokes: held.strokes });
  if (answer) {
    const counts = Object.entries(answer.pixels).map(([c, n]) => `${c} ${n}`).join(", ");
    showClasses(`Frame ${held.index + 1}: ${counts || "no labels"} (pixels).`);
  }
  draw();
}

$("hold").addEventListener("click", async () => {
  const answer = await call("POST", "/api/labels/hold");
  if (!answer) return;
  const image = await load(`/api/labels/${answer.index}/frame.jpg`);
  state.held[answer.index] = { index: answer.index, image, strokes: [] };
  state.current = answer.index;
  setMode("label");
  renderHeld();
  draw();
});

function brushRadius() {
  return ($("brush").value * size[0]) / 640;
}

canvas.addEventListener("mousedown", (event) => {
  if (!heldFrame()) return;
  state.stroke = { class: $("label-class").value, radius: brushRadius(), points: [pixelAt(event)] };
  draw();
});

canvas.addEventListener("mousemove", (event) => {
  if (!state.stroke) return;
  const [x, y] = pixelAt(event);
  state.stroke.points.push([Math.min(Math.max(x, 0), size[0] - 0.01), Math.min(Math.max(y, 0), size[1] - 0.01)]);
  draw();
});

window.addEventListener("mouseup", () => {
  const held = heldFrame();
  if (!state.stroke || !held) return;
  held.strokes.push(state.stroke);
  state.stroke = null;
  sendStrokes(held);
});

$("fit-classes").addEventListener("click", async () => {
  showClasses("Fitting…");
  const r = await call("POST", "/api/classes/fit");
  if (!r) return;
  const per = Object.entries(r.patches_per_class).map(([c, n]) => `${c} ${n}`).join(", ");
  showClasses(
    `Fitted on ${r.frames} frame${r.frames > 1 ? "s" : ""} (${per} labelled patches): ` +
      `loss ${r.initial_loss.toFixed(3)} → ${r.final_loss.toFixed(3)}, ` +
      `agrees with ${(100 * r.agreement).toFixed(1)} % of the labelled patches.`,
  );
  $("classes-result").firstChild.id = "class-fit";
  $("overlay-kind").value = "classes";
  setMode("floor"); // back to the live picture, now under its class map
  shownSeq = null;
});

$("save-classes").addEventListener("click", async () => {
  const r = await call("POST", "/api/classes/save");
  if (!r) return;
  const p = document.createElement("p");
  p.id = "classes-saved";
  p.textContent = `Saved ${r.saved.frames} labelled frames in ${r.saved.labels} and the class head ${r.saved.head}. ` +
    `Use it: [model] classes = "${r.saved.head}", then systemctl reload dinoedge. Re-fit it scripted (adding the simulator's frames as a prior if wanted):`;
  const code = document.createElement("code");
  code.textContent = `dinoedge heads train-classes --data ${r.saved.labels} --val ${r.saved.labels} --backbone <the [model] backbone> --out ${r.saved.head}`;
  $("classes-result").replaceChildren(p, code);
});

$("overlay-kind").addEventListener("change", () => (shownSeq = null));
document.querySelectorAll("#tools [data-mode]").forEach((b) => b.addEventListener("click", () => setMode(b.dataset.mode)));
$("close-polygon").addEventListener("click", closePolygon);
$("undo").addEventListener("click", undo);
$("overlay").addEventListener("input", draw);
setMode("floor");
renderLists();
renderHeld();
poll();
