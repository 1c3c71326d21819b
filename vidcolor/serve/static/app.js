// vidcolor's page: drop a photo or a film, see it coloured, download it; put colour hints on a
// photo (with a preview after every change), or export a film's keyframes, colour them here
// and run the film with them.
// Plain JavaScript served by the package: no build step, nothing fetched from elsewhere.
// Every API call carries the bearer token when the server has one; results are fetched with
// it too and shown from blob: URLs, so the token never appears in a URL or a server log.
"use strict";

const API = "/api/v1";
const $ = (id) => document.getElementById(id);
let pollTimer = null;

// --- the token ------------------------------------------------------------------------------

// A link like http://host:8000/#token=XYZ hands the token over: the fragment is never sent
// to the server, and it is removed from the address bar at once.
function takeTokenFromAddress() {
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    sessionStorage.setItem("vidcolor-token", decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
}

function authHeaders() {
  const token = sessionStorage.getItem("vidcolor-token");
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function api(path, options = {}) {
  const response = await fetch(API + path, {
    ...options, headers: { ...(options.headers || {}), ...authHeaders() },
  });
  if (response.status === 401) {
    $("token-form").hidden = false;
    throw new Error("this server needs its access token");
  }
  if (!response.ok) {
    let text = `${response.status} ${response.statusText}`;
    try { text = (await response.json()).error || text; } catch (e) { /* not JSON */ }
    throw new Error(text);
  }
  return response;
}

// --- messages and state ---------------------------------------------------------------------

function say(text, isError = false) {
  $("message").textContent = text;
  $("message").classList.toggle("error", isError);
}

function setState(state) {
  document.body.dataset.state = state;  // what the browser test waits for
}

function formatSeconds(s) {
  if (s == null) return "";
  const m = Math.floor(s / 60), r = Math.round(s % 60);
  return `${m}:${String(r).padStart(2, "0")}`;
}

function downloadName(name, blobType, fallbackExt) {
  const ext = { "image/png": ".png", "image/jpeg": ".jpg", "image/tiff": ".tif",
                "image/webp": ".webp", "video/mp4": ".mp4", "video/webm": ".webm",
                "video/quicktime": ".mov", "video/x-matroska": ".mkv" }[blobType] || fallbackExt;
  return name.replace(/\.[^.]*$/, "") + "_colour" + ext;
}

// --- photos: a before/after comparison ------------------------------------------------------

function isTiff(file) {
  return file.type === "image/tiff" || /\.tiff?$/i.test(file.name);
}

// Browsers do not show TIFF: such a photo is shown (and offered) as PNG, which keeps 16 bits.
async function colorizePhoto(file, withGuide = false) {
  const form = new FormData();
  form.append("file", file, file.name);
  if (isTiff(file)) form.append("format", "png");
  if (withGuide) addGuide(form);
  const response = await api("/colorize", { method: "POST", body: form });
  if (response.status === 202) {
    const job = await response.json();
    say("A large picture: colorizing it as a job…");
    return waitForJob(job.id, () => {});
  }
  return response.blob();
}

function showPhoto(file, blob) {
  const after = $("after"), before = $("before");
  const afterUrl = URL.createObjectURL(blob);
  after.onload = () => setState("done");
  after.src = afterUrl;
  // The original, if the browser can show it; else the result's own lightness in grey
  // (it is the input's: vidcolor only adds colour).
  before.onerror = () => greyFrom(after).then((url) => { before.src = url; });
  before.src = URL.createObjectURL(file);
  const link = $("photo-download");
  link.href = afterUrl;
  link.download = downloadName(file.name, blob.type, ".png");
  $("photo-note").textContent = isTiff(file) ? "TIFF shown and downloaded as PNG (16 bits kept)" : "";
  setSplit(50);
  $("photo").hidden = false;
}

function greyFrom(img) {
  return new Promise((resolve) => {
    const draw = () => {
      const canvas = document.createElement("canvas");
      canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
      const ctx = canvas.getContext("2d");
      ctx.filter = "grayscale(1)";
      ctx.drawImage(img, 0, 0);
      canvas.toBlob((b) => resolve(URL.createObjectURL(b)));
    };
    if (img.complete && img.naturalWidth) draw(); else img.addEventListener("load", draw, { once: true });
  });
}

function setSplit(percent) {
  $("split").value = percent;
  $("before").style.clipPath = `inset(0 ${100 - percent}% 0 0)`;
  $("divider").style.left = `${percent}%`;
}

// --- films: progress, then a player ---------------------------------------------------------

async function colorizeFilm(file) {
  const form = new FormData();
  form.append("file", file);
  addFilmGuide(form);
  const job = await (await api("/jobs", { method: "POST", body: form })).json();
  $("film").hidden = false;
  $("player").hidden = true;
  $("film-download").hidden = true;
  const blob = await waitForJob(job.id, showFilmProgress);
  const url = URL.createObjectURL(blob);
  $("film-progress").value = $("film-progress").max;
  $("film-status").textContent = "Done.";
  $("player").src = url;
  $("player").hidden = false;
  const link = $("film-download");
  link.href = url;
  link.download = downloadName(file.name, blob.type, ".mp4");
  link.hidden = false;
  setState("done");
}

function showFilmProgress(job) {
  const p = job.progress;
  const bar = $("film-progress");
  if (p.total) { bar.max = p.total; bar.value = p.done; } else { bar.removeAttribute("value"); }
  const parts = [`${job.state}: ${p.done}${p.total ? " / " + p.total : ""} frames`];
  if (p.fps) parts.push(`${p.fps.toFixed(1)} frames/s`);
  if (p.eta_seconds != null) parts.push(`about ${formatSeconds(p.eta_seconds)} left`);
  $("film-status").textContent = parts.join(" · ");
}

// Poll a job until it is done, telling `onProgress`; then its result as a blob.
async function waitForJob(id, onProgress) {
  await waitForJobState(id, onProgress);
  return (await api(`/jobs/${id}/result`)).blob();
}

// --- the jobs list --------------------------------------------------------------------------

async function refreshJobs() {
  let jobs;
  try { jobs = (await (await api("/jobs")).json()).jobs; } catch (e) { return; }
  const body = $("jobs").tBodies[0];
  body.replaceChildren(...jobs.map(jobRow));
  $("no-jobs").hidden = jobs.length > 0;
}

function jobRow(job) {
  const row = document.createElement("tr");
  const cell = (text, cls) => {
    const td = row.insertCell(); td.textContent = text; if (cls) td.className = cls; return td;
  };
  cell(job.name);
  cell({ video: "film", image: "photo", keyframes: "keyframes" }[job.kind] || job.kind);
  const p = job.progress;
  cell(job.state === "running" && p.total ? `${job.state} ${Math.round(100 * p.done / p.total)}%`
       : job.state + (job.error ? `: ${job.error}` : ""), `state-${job.state}`);
  const actions = row.insertCell();
  if (job.state === "done" && job.kind !== "keyframes") {
    actions.append(button("download", () => downloadJob(job)));
  }
  actions.append(" ", button("delete", async () => {
    await api(`/jobs/${job.id}`, { method: "DELETE" }).catch((e) => say(e.message, true));
    refreshJobs();
  }));
  return row;
}

function button(text, onClick) {
  const b = document.createElement("button");
  b.className = "small"; b.type = "button"; b.textContent = text;
  b.addEventListener("click", onClick);
  return b;
}

async function downloadJob(job) {
  try {
    const blob = await (await api(`/jobs/${job.id}/result`)).blob();
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = downloadName(job.name, blob.type, "." + job.format);
    a.click();
  } catch (e) { say(e.message, true); }
}

// --- wiring ---------------------------------------------------------------------------------

function isFilmFile(file) {
  return file.type.startsWith("video/") || /\.(mkv|avi|mov|webm|mp4)$/i.test(file.name);
}

async function handleFile(file) {
  clearTimeout(pollTimer);
  for (const id of ["photo", "film", "guide", "film-setup"]) $(id).hidden = true;
  $("after").removeAttribute("src");
  if (isFilmFile(file)) return setUpFilm(file);
  setState("working");
  say(`Colorizing ${file.name}…`);
  openGuide(file, "photo");
  await run(file.name, async () => showPhoto(file, await colorizePhoto(file)));
  schedulePreview(0);
}

// Run a step, saying how it ended; the page's state says it too (the browser tests wait on it).
async function run(name, step) {
  try {
    await step();
    say(`${name}: done.`);
  } catch (e) {
    setState("error");
    say(`${name}: ${e.message}`, true);
  }
  refreshJobs();
}

// --- hints: marks on the picture, a list, and a preview after every change -------------------

// What the guide panel works on: a photo, or a keyframe of the film.
const guide = {
  file: null, mode: "photo", keyframe: null, hints: [], scribble: null, references: [],
  width: 0, height: 0, small: null, previewTimer: null, previewSeq: 0,
};
const PREVIEW_DELAY_MS = 250;

function openGuide(file, mode, keyframe = null) {
  Object.assign(guide, { file, mode, keyframe, hints: keyframe ? keyframe.hints : [],
                         scribble: null, small: null, width: 0, height: 0 });
  if (mode === "photo") guide.references = [];
  $("guide-title").textContent = mode === "photo" ? `Hints for ${file.name}`
    : `Keyframe at ${formatTime(keyframe.time)}`;
  $("guide-apply").textContent = mode === "photo" ? "Colour at full size" : "Use as keyframe";
  $("reference-file").parentElement.hidden = mode !== "photo";  // a film's are the film's
  const picture = $("guide-picture");
  picture.onload = () => {
    guide.width = picture.naturalWidth; guide.height = picture.naturalHeight;
    makePreviewCopy(picture);
    drawHints();
    // A photo's first preview waits for its full result (handleFile): two network runs of
    // one picture at once would only share the cores.
    if (mode === "keyframe") schedulePreview(0);
  };
  picture.onerror = () => {  // TIFF: the browser cannot show it; its grey result stands in
    picture.onerror = null;
    greyFrom($("after")).then((url) => { picture.src = url; });
  };
  picture.src = URL.createObjectURL(file);
  $("preview").removeAttribute("src");
  // Under what it works on: the photo's result, or the film's keyframes.
  $(mode === "photo" ? "photo" : "film-setup").after($("guide"));
  $("guide").hidden = false;
  showGuideFiles();
}

function formatTime(seconds) {
  const m = Math.floor(seconds / 60), s = (seconds % 60).toFixed(3);
  return `${m}:${s.padStart(6, "0")}`;
}

// A pointer's place on the shown picture -> the picture's own pixel (column x, row y).
function pixelAt(event) {
  const box = $("guide-picture").getBoundingClientRect();
  const x = Math.floor((event.clientX - box.left) / box.width * guide.width);
  const y = Math.floor((event.clientY - box.top) / box.height * guide.height);
  return { x: Math.min(Math.max(x, 0), guide.width - 1), y: Math.min(Math.max(y, 0), guide.height - 1) };
}

function addHint(event) {
  if (event.target !== $("guide-picture") || !guide.width) return;
  const { x, y } = pixelAt(event);
  guide.hints.push({ x, y, radius: Number($("hint-radius").value) || 0, color: $("hint-colour").value });
  hintsChanged();
}

function hintsChanged() {
  drawHints();
  schedulePreview();
}

function drawHints() {
  const marks = $("marks"), list = $("hint-list");
  marks.replaceChildren(); list.replaceChildren();
  guide.hints.forEach((hint, i) => {
    marks.append(hintMark(hint, i));
    list.append(hintRow(hint, i));
  });
}

function hintMark(hint, i) {
  const mark = document.createElement("span");
  mark.className = "mark"; mark.title = `hint ${i + 1}: drag to move`;
  mark.dataset.index = i;
  mark.style.left = `${(hint.x + 0.5) / guide.width * 100}%`;
  mark.style.top = `${(hint.y + 0.5) / guide.height * 100}%`;
  mark.style.background = hint.color;
  mark.addEventListener("pointerdown", (e) => dragHint(e, hint, mark));
  return mark;
}

// Drag a mark: it follows the pointer; the hint moves (and the preview follows) on release.
function dragHint(event, hint, mark) {
  event.preventDefault(); event.stopPropagation();
  mark.setPointerCapture(event.pointerId);
  const move = (e) => {
    Object.assign(hint, pixelAt(e));
    mark.style.left = `${(hint.x + 0.5) / guide.width * 100}%`;
    mark.style.top = `${(hint.y + 0.5) / guide.height * 100}%`;
  };
  const stop = () => {
    mark.removeEventListener("pointermove", move);
    mark.removeEventListener("pointerup", stop);
    hintsChanged();
  };
  mark.addEventListener("pointermove", move);
  mark.addEventListener("pointerup", stop);
}

function hintRow(hint, i) {
  const row = document.createElement("li");
  const swatch = document.createElement("input");
  swatch.type = "color"; swatch.value = hint.color; swatch.title = "change its colour";
  swatch.addEventListener("change", () => { hint.color = swatch.value; hintsChanged(); });
  const where = document.createElement("span");
  where.textContent = ` x ${hint.x}, y ${hint.y}, size ${hint.radius} `;
  row.append(swatch, where, button("remove", () => { guide.hints.splice(i, 1); hintsChanged(); }));
  return row;
}

// The hints as the --hints JSON; on `small` (a copy at preview size), scaled to it.
function hintsJson(small = null) {
  const place = (v, s, size) => Math.min(Math.floor((v + 0.5) * s), size - 1);
  return JSON.stringify({ points: guide.hints.map(({ x, y, radius, color }) => (small
    ? { x: place(x, small.sx, small.width), y: place(y, small.sy, small.height),
        radius: Math.round(radius * small.sx), color }
    : { x, y, radius, color })) });
}

// The guidance of the photo (or keyframe) on a request: hints, a painted hint image, references.
function addGuide(form, small = null) {
  if (guide.scribble) form.append("hints_image", guide.scribble);
  else if (guide.hints.length) form.append("hints", hintsJson(small));
  if (guide.mode === "photo") guide.references.forEach((f) => form.append("references", f));
}

let previewSize = 512;  // the server's, from /info

// A copy of a large picture at preview size, made once: previews then send (and the server
// decodes) that instead of the whole photo, with the hints scaled to it.
function makePreviewCopy(picture) {
  guide.small = null;
  const long = Math.max(guide.width, guide.height);
  if (long <= previewSize) return;
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(guide.width * previewSize / long));
  canvas.height = Math.max(1, Math.round(guide.height * previewSize / long));
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(picture, 0, 0, canvas.width, canvas.height);
  const source = picture.src;
  canvas.toBlob((blob) => {
    if (picture.src !== source || !blob) return;  // another picture since
    guide.small = { blob, width: canvas.width, height: canvas.height,
                    sx: canvas.width / guide.width, sy: canvas.height / guide.height };
  }, "image/png");
}

function schedulePreview(delay = PREVIEW_DELAY_MS) {
  clearTimeout(guide.previewTimer);
  guide.previewTimer = setTimeout(updatePreview, delay);
}

// Ask for a preview; one that comes back after a newer one was asked for is dropped.
async function updatePreview() {
  const seq = ++guide.previewSeq;
  const form = new FormData();
  const small = guide.scribble ? null : guide.small;  // a painted hint image is full size
  if (small) form.append("file", small.blob, "preview.png");
  else form.append("file", guide.file, guide.file.name || "picture.png");
  addGuide(form, small);
  $("preview-state").textContent = "preview: updating…";
  document.body.dataset.preview = "busy";
  const started = performance.now();
  try {
    const blob = await (await api("/preview", { method: "POST", body: form })).blob();
    if (seq !== guide.previewSeq) return;
    const count = guide.scribble ? "painted" : String(guide.hints.length);
    $("preview").onload = () => {
      $("preview").dataset.hints = count;
      $("preview").dataset.version = String(seq);  // which request it shows (for tests)
      document.body.dataset.preview = "ready";
    };
    $("preview").src = URL.createObjectURL(blob);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    $("preview-state").textContent = `preview (${seconds} s)`;
  } catch (e) {
    if (seq !== guide.previewSeq) return;
    document.body.dataset.preview = "error";
    $("preview-state").textContent = `preview: ${e.message}`;
  }
}

async function loadHintsJson(file) {
  try {
    const data = JSON.parse(await file.text());
    if (!data || !Array.isArray(data.points)) throw new Error('expected {"points": [...]}');
    guide.hints = data.points.map((p) => ({ x: p.x, y: p.y, radius: p.radius || 0, color: p.color }));
    guide.scribble = null;
    showGuideFiles();
    hintsChanged();
  } catch (e) { say(`${file.name}: ${e.message}`, true); }
}

function showGuideFiles() {
  const parts = [];
  if (guide.scribble) parts.push(`painted hints: ${guide.scribble.name} (replace the marks)`);
  if (guide.mode === "photo" && guide.references.length) {
    parts.push(`reference photos: ${guide.references.map((f) => f.name).join(", ")}`);
  }
  $("guide-files").textContent = parts.join(" · ");
}

function saveHints() {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([hintsJson()], { type: "application/json" }));
  a.download = (guide.file.name || "picture").replace(/\.[^.]*$/, "") + ".json";
  a.click();
}

async function applyGuide() {
  if (guide.mode === "photo") {
    setState("working");
    say(`Colorizing ${guide.file.name} with its hints…`);
    return run(guide.file.name, async () => showPhoto(guide.file, await colorizePhoto(guide.file, true)));
  }
  const keyframe = guide.keyframe;
  say(`Colouring the keyframe at ${formatTime(keyframe.time)}…`);
  await run(keyframe.name, async () => {
    const form = new FormData();
    form.append("file", keyframe.grey, keyframe.name);
    addGuide(form);
    keyframe.hints = guide.hints;
    setKeyframeColour(keyframe, await (await api("/colorize", { method: "POST", body: form })).blob());
    setState("keyframe-set");
  });
}

// --- films: keyframes exported, coloured here, and the film run with them --------------------

const film = { file: null, keyframes: [], colourFrom: null, references: [] };

function setUpFilm(file) {
  Object.assign(film, { file, keyframes: [], colourFrom: null, references: [] });
  $("film-name").textContent = file.name;
  $("keyframes").replaceChildren();
  $("export-status").textContent = "";
  $("export-progress").hidden = true;
  for (const id of ["colour-from", "film-references"]) $(id).value = "";
  showFilmFiles();
  $("film-setup").hidden = false;
  say(`${file.name}: export its keyframes to colour them, or colorize it now.`);
  setState("film-ready");
}

function showFilmFiles() {
  const parts = [];
  if (film.colourFrom) parts.push(`colour copy: ${film.colourFrom.name}`);
  if (film.references.length) parts.push(`reference photos: ${film.references.map((f) => f.name).join(", ")}`);
  const coloured = film.keyframes.filter((k) => k.coloured).length;
  if (coloured) parts.push(`${coloured} coloured keyframe${coloured > 1 ? "s" : ""}`);
  $("film-files").textContent = parts.join(" · ");
}

function addFilmGuide(form) {
  for (const k of film.keyframes) if (k.coloured) form.append("keyframes", k.coloured, k.name);
  if (film.colourFrom) {
    form.append("colour_from", film.colourFrom);
    form.append("colour_offset", String(Number($("colour-offset").value) || 0));
  }
  film.references.forEach((f) => form.append("references", f));
}

async function exportKeyframes() {
  setState("working");
  say(`Finding the keyframes of ${film.file.name}…`);
  await run(film.file.name, async () => {
    const form = new FormData();
    form.append("file", film.file);
    const job = await (await api("/keyframes", { method: "POST", body: form })).json();
    const bar = $("export-progress");
    bar.hidden = false;
    const done = await waitForJobState(job.id, (j) => {
      const p = j.progress;
      if (p.total) { bar.max = p.total; bar.value = p.done; }
      $("export-status").textContent = `${j.state}: ${p.done}${p.total ? " / " + p.total : ""} frames looked at`;
    });
    const listed = (await (await api(done.result.slice(API.length))).json()).keyframes;
    film.keyframes = await Promise.all(listed.map(async (k) => ({
      name: k.name, time: k.time, hints: [], coloured: null,
      grey: await (await api(k.url.slice(API.length))).blob(),
    })));
    $("export-status").textContent = `${film.keyframes.length} keyframes: colour any of them, then colorize the film.`;
    drawKeyframes();
    setState("keyframes");
  });
}

function drawKeyframes() {
  $("keyframes").replaceChildren(...film.keyframes.map((k) => {
    const card = document.createElement("figure");
    card.className = "keyframe"; card.dataset.name = k.name;
    const img = document.createElement("img");
    img.src = URL.createObjectURL(k.coloured || k.grey);
    img.alt = `frame at ${formatTime(k.time)}`;
    const caption = document.createElement("figcaption");
    caption.textContent = `${formatTime(k.time)}${k.coloured ? " · coloured" : ""}`;
    const upload = document.createElement("label");
    upload.className = "button small small-file"; upload.textContent = "painted…";
    const input = document.createElement("input");
    input.type = "file"; input.accept = "image/*";
    input.addEventListener("change", () => input.files[0] && setKeyframeColour(k, input.files[0]));
    upload.append(input);
    const actions = document.createElement("div");
    actions.append(button("colour", () => openGuide(new File([k.grey], k.name, { type: "image/png" }), "keyframe", k)),
                   " ", upload);
    if (k.coloured) actions.append(" ", button("clear", () => setKeyframeColour(k, null)));
    card.append(img, caption, actions);
    return card;
  }));
}

function setKeyframeColour(keyframe, blob) {
  keyframe.coloured = blob;
  drawKeyframes();
  showFilmFiles();
}

// Poll a job until it is done (its JSON) or failed (an error), telling `onProgress`.
function waitForJobState(id, onProgress) {
  return new Promise((resolve, reject) => {
    const tick = async () => {
      try {
        const job = await (await api(`/jobs/${id}`)).json();
        onProgress(job);
        if (job.state === "failed") return reject(new Error(job.error));
        if (job.state === "done") return resolve(job);
        pollTimer = setTimeout(tick, 500);
      } catch (e) { reject(e); }
    };
    tick();
  });
}

async function runFilm() {
  setState("working");
  say(`Colorizing ${film.file.name}…`);
  await run(film.file.name, () => colorizeFilm(film.file));
}

async function showServerInfo() {
  try {
    const info = await (await api("/info")).json();
    previewSize = info.preview_size || previewSize;
    const mb = Math.round(info.max_upload / 1e6);
    $("server-info").textContent =
      `vidcolor ${info.vidcolor}, model ${info.model}; uploads up to ${mb} MB.`;
    $("token-form").hidden = true;
    refreshJobs();
  } catch (e) { say(e.message, true); }
}

function wire() {
  takeTokenFromAddress();
  const drop = $("drop");
  $("file").addEventListener("change", (e) => e.target.files[0] && handleFile(e.target.files[0]));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault(); drop.classList.remove("over");
    if (e.dataTransfer.files[0]) handleFile(e.dataTransfer.files[0]);
  });
  $("split").addEventListener("input", (e) => setSplit(Number(e.target.value)));
  $("stage").addEventListener("click", addHint);
  $("hints-file").addEventListener("change", (e) => e.target.files[0] && loadHintsJson(e.target.files[0]));
  $("scribble-file").addEventListener("change", (e) => {
    guide.scribble = e.target.files[0] || null; e.target.value = "";
    showGuideFiles(); schedulePreview(0);
  });
  $("reference-file").addEventListener("change", (e) => {
    guide.references.push(...e.target.files); e.target.value = "";
    showGuideFiles(); schedulePreview(0);
  });
  $("hints-save").addEventListener("click", saveHints);
  $("hints-clear").addEventListener("click", () => {
    guide.hints = []; guide.scribble = null; showGuideFiles(); hintsChanged();
  });
  $("guide-apply").addEventListener("click", applyGuide);
  $("export-keyframes").addEventListener("click", exportKeyframes);
  $("film-run").addEventListener("click", runFilm);
  $("colour-from").addEventListener("change", (e) => { film.colourFrom = e.target.files[0] || null; showFilmFiles(); });
  $("film-references").addEventListener("change", (e) => { film.references = [...e.target.files]; showFilmFiles(); });
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem("vidcolor-token", $("token").value.trim());
    say("");
    showServerInfo();
  });
  showServerInfo();
}

wire();
