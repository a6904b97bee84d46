// Adding images: multipart uploads in batches, progress from XHR upload events, jobs.

import { ApiError, api, authHeaders, collectionPath, unreachable, waitForJob } from "./http.js";
import { $, button, clearError, guarded, para, showError } from "./ui.js";
import { state } from "./state.js";
import { emit } from "./events.js";

export const UPLOAD_BATCH_BYTES = 16 * 1024 * 1024; // well under the server's default body cap
export const UPLOAD_BATCH_FILES = 32;

// ---- upload -------------------------------------------------------------------------

export function batchesOf(files) {
  const batches = [];
  let batch = [];
  let bytes = 0;
  for (const file of files) {
    if (batch.length && (bytes + file.size > UPLOAD_BATCH_BYTES || batch.length >= UPLOAD_BATCH_FILES)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(file);
    bytes += file.size;
  }
  if (batch.length) batches.push(batch);
  return batches;
}

// One multipart POST through XMLHttpRequest, whose upload events report progress.
export function postFiles(path, files, onProgress, onSent) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const file of files) form.append("files", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    });
    xhr.upload.addEventListener("load", onSent);
    xhr.addEventListener("error", () => reject(unreachable()));
    xhr.addEventListener("load", () => {
      const body = xhr.response;
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve({ status: xhr.status, body });
        return;
      }
      const e = body && body.error;
      reject(e && e.message
        ? new ApiError(xhr.status, e.code || "error", e.message, e.detail)
        : new ApiError(xhr.status, "http_" + xhr.status, `${xhr.status} ${xhr.statusText || "error"}`));
    });
    xhr.send(form);
  });
}

export function setProgress(fraction, label) {
  $("upload-progress").hidden = false;
  $("upload-bar").style.width = `${Math.round(Math.min(1, Math.max(0, fraction)) * 100)}%`;
  $("upload-label").textContent = label;
}

// Adds an ingest answer to the tally: per-item outcomes when the route lists them, else the
// report's counts and failures. Outcomes carry their position in the batch: failures are
// named by the file the user picked. Uploads get content-hash ids, so a file whose id another
// file of this upload already gave is the same image: skipped, and said so (`seen`: id -> name).
export function tally(body, counts, failures, files, seen = new Map(), notes = []) {
  if (!body) return;
  if (body.report && typeof body.report === "object") body = body.report;
  const items = ["outcomes", "items", "results"].map((k) => body[k]).find(Array.isArray);
  if (items) {
    for (const o of items) {
      const file = files[o.index];
      const name = file ? file.name : o.id || `item ${o.index + 1}`;
      let status = o.status || "done";
      const first = o.id != null ? seen.get(o.id) : undefined;
      if (first !== undefined && first !== name && (status === "failed" || status === "skipped")) {
        status = "skipped";
        notes.push({ id: name, note: `same image as ${first} (skipped)` });
      } else if (status === "failed" || o.error) {
        failures.push({ id: name, error: o.error });
      }
      if (o.id != null && !seen.has(o.id) && status !== "failed") seen.set(o.id, name);
      counts[status] = (counts[status] || 0) + 1;
    }
    return;
  }
  for (const key of ["indexed", "updated", "skipped"]) {
    if (typeof body[key] === "number" && body[key]) counts[key] = (counts[key] || 0) + body[key];
  }
  for (const f of Array.isArray(body.failed) ? body.failed : []) {
    counts.failed = (counts.failed || 0) + 1;
    failures.push({ id: f.id || f.source, error: f });
  }
}

// A background job (202): its id, to follow at GET /jobs/{id}.
export function jobIdOf(body) {
  return (body && body.id) || null;
}

export async function uploadFiles(fileList) {
  const files = Array.from(fileList || []);
  if (!files.length) return;
  if (!state.collection) {
    showError(new Error("Pick a collection first, or create one with “New…”."));
    return;
  }
  clearError();
  const name = state.collection;
  const total = files.reduce((n, f) => n + f.size, 0) || 1;
  const counts = {};
  const failures = [];
  const seen = new Map();
  const notes = [];
  let sent = 0;
  $("upload-button").disabled = true;
  $("upload-report").hidden = true;
  const noun = `${files.length} image${files.length === 1 ? "" : "s"}`;
  setProgress(0, `Uploading ${noun}…`);
  try {
    for (const batch of batchesOf(files)) {
      const size = batch.reduce((n, f) => n + f.size, 0);
      const answer = await guarded(
        () => postFiles(collectionPath(name) + "/records/upload", batch,
          (f) => setProgress((sent + f * size) / total, `Uploading ${noun}… ${Math.round(((sent + f * size) / total) * 100)}%`),
          () => setProgress((sent + size) / total, `Indexing ${noun}…`)),
        (err) => {
          counts.failed = (counts.failed || 0) + batch.length;
          for (const file of batch) failures.push({ id: file.name, error: err });
        });
      sent += size;
      if (!answer) continue;
      let body = answer.body;
      if (answer.status === 202) {
        const id = jobIdOf(body);
        if (id) {
          body = await guarded(() => waitForJob(id, (job) => {
            if (job.total) setProgress(job.done / job.total, `Indexing ${job.done} of ${job.total}…`);
          }));
          if (body && body.status !== "done" && body.error) {
            failures.push({ id: `job ${id}`, error: { message: body.error } });
          }
        }
      }
      tally(body, counts, failures, batch, seen, notes);
    }
  } finally {
    $("upload-button").disabled = false;
    $("upload-progress").hidden = true;
    $("upload-files").value = "";
  }
  reportUpload(counts, failures, notes);
  if (state.collection === name) {
    await emit("uploaded", name);
  }
}

export function reportUpload(counts, failures, notes = []) {
  const box = $("upload-report");
  box.replaceChildren();
  const summary = Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(", ");
  box.append(para(summary ? `Upload finished: ${summary}.` : "Upload finished."));
  if (failures.length) {
    const ul = document.createElement("ul");
    for (const f of failures) {
      const li = document.createElement("li");
      const e = f.error || {};
      const message = typeof e === "string" ? e : e.message || "failed";
      const id = f.id || "item";
      const own = [`upload:${id}: `, `${id}: `].find((prefix) => message.startsWith(prefix));
      li.textContent = `${id}: ${own ? message.slice(own.length) : message}`;
      ul.append(li);
    }
    box.append(ul);
  }
  if (notes.length) {
    const ul = document.createElement("ul");
    ul.className = "notes";
    for (const n of notes) {
      const li = document.createElement("li");
      li.textContent = `${n.id}: ${n.note}`;
      ul.append(li);
    }
    box.append(ul);
  }
  box.classList.toggle("has-failures", failures.length > 0);
  box.append(button("Close", () => { box.hidden = true; }, "quiet"));
  box.hidden = false;
}
