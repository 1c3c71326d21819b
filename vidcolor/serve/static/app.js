// vidcolor's page: drop a photo or a film, see it coloured, download it.
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
async function colorizePhoto(file) {
  const form = new FormData();
  form.append("file", file);
  if (isTiff(file)) form.append("format", "png");
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
function waitForJob(id, onProgress) {
  return new Promise((resolve, reject) => {
    const tick = async () => {
      try {
        const job = await (await api(`/jobs/${id}`)).json();
        onProgress(job);
        if (job.state === "failed") return reject(new Error(job.error));
        if (job.state === "done") return resolve((await api(`/jobs/${id}/result`)).blob());
        pollTimer = setTimeout(tick, 500);
      } catch (e) { reject(e); }
    };
    tick();
  });
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
  cell(job.kind === "video" ? "film" : "photo");
  const p = job.progress;
  cell(job.state === "running" && p.total ? `${job.state} ${Math.round(100 * p.done / p.total)}%`
       : job.state + (job.error ? `: ${job.error}` : ""), `state-${job.state}`);
  const actions = row.insertCell();
  if (job.state === "done") actions.append(button("download", () => downloadJob(job)));
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

async function handleFile(file) {
  clearTimeout(pollTimer);
  $("photo").hidden = true;
  $("film").hidden = true;
  setState("working");
  const isFilm = file.type.startsWith("video/") || /\.(mkv|avi|mov|webm|mp4)$/i.test(file.name);
  say(`Colorizing ${file.name}…`);
  try {
    if (isFilm) {
      await colorizeFilm(file);
    } else {
      showPhoto(file, await colorizePhoto(file));
    }
    say(`${file.name}: done.`);
  } catch (e) {
    setState("error");
    say(`${file.name}: ${e.message}`, true);
  }
  refreshJobs();
}

async function showServerInfo() {
  try {
    const info = await (await api("/info")).json();
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
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem("vidcolor-token", $("token").value.trim());
    say("");
    showServerInfo();
  });
  showServerInfo();
}

wire();
