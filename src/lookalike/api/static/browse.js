// The browse view: every image of the collection as tiles, a page at a time from
// GET /collections/{name}/records and its cursor (next_offset), the next page loaded as the
// end of the grid comes into view. Sorted newest first unless the address names another sort
// (`sort=`, the records route's values); images without a capture time come last when sorted
// by it. Honours the search view's filter. Tiles open the viewer.

import { api, collectionPath, thumbnailPath, waitForJob } from "./http.js";
import { $, guarded, para, setEmpty, showError } from "./ui.js";
import { state } from "./state.js";
import { sourceName, tile } from "./results.js";
import { emit } from "./events.js";

export const BROWSE_PAGE = 48;
export const DEFAULT_SORT = "-indexed_at";
const SORTS = ["-indexed_at", "indexed_at", "-taken_at", "taken_at"];

let cursor = null; // next_offset of the last page; null before the first and after the last
let loaded = null; // the collection and filter the grid shows
let busy = null; // the grid a page is being loaded for
let observer = null;

export function clearBrowse() {
  cursor = null;
  loaded = null;
  $("browse").replaceChildren();
  $("browse-summary").textContent = "";
  $("browse-more").hidden = true;
  setEmpty($("browse-empty"), null);
}

const filterText = () => $("query-filter").value.trim();

// The sort shown, as the address writes it ("" for the default).
export function browseSort() {
  const sort = $("browse-sort").value;
  return sort === DEFAULT_SORT ? "" : sort;
}

// Shows the sort an address names (an unknown one reads as the default).
export function setBrowseSort(sort) {
  $("browse-sort").value = SORTS.includes(sort) ? sort : DEFAULT_SORT;
}

// Turning thumbnails on for a collection made without them: POST .../thumbnails starts a job
// that makes them from the sources still there; its progress and outcome show beside it.
let making = null; // the collection whose thumbnails are being made
let reported = null; // the collection the progress line speaks of

function showThumbnailTool() {
  const info = state.info;
  $("browse-thumbnails").hidden = !info || info.thumbnails || making === state.collection;
  if (reported !== state.collection) $("thumbnails-progress").textContent = "";
}

async function makeThumbnails() {
  const name = state.collection;
  if (!name || making) return;
  making = reported = name;
  showThumbnailTool();
  const status = $("thumbnails-progress");
  status.textContent = "Making thumbnails…";
  const started = await guarded(() => api("POST", collectionPath(name) + "/thumbnails"),
    (err) => showError(err, "Thumbnails failed"));
  const job = started && await guarded(() => waitForJob(started.id, (j) => {
    if (state.collection === name && j.total) {
      status.textContent = `Making thumbnails: ${j.done.toLocaleString()} of ${j.total.toLocaleString()}…`;
    }
  }), (err) => showError(err, "Thumbnails failed"));
  making = null;
  if (!job || state.collection !== name) {
    if (state.collection === name) status.textContent = "";
    showThumbnailTool();
    return;
  }
  const r = job.result || {};
  status.textContent = job.status === "done"
    ? `Thumbnails: ${r.made} made` + (r.source_missing ? `, ${r.source_missing} without a source left` : "")
      + (r.failed ? `, ${r.failed} failed` : "") + "."
    : `Thumbnails stopped: ${(job.error && job.error.message) || job.status}.`;
  await emit("thumbnails-made", name);
}

// Shows the collection in force from its first page, unless the grid already shows it.
export async function showBrowse() {
  showThumbnailTool();
  const name = state.collection;
  const key = `${name}\n${filterText()}\n${$("browse-sort").value}`;
  if (loaded === key) return;
  clearBrowse();
  if (!name) {
    setEmpty($("browse-empty"), "Nothing to browse", para("Create a collection and add images first."));
    return;
  }
  loaded = key;
  await loadPage(key);
}

async function loadPage(key) {
  if (busy === key || loaded !== key) return;
  const name = state.collection;
  busy = key;
  const params = new URLSearchParams({ limit: String(BROWSE_PAGE), sort: $("browse-sort").value });
  if (cursor) params.set("offset", cursor);
  if (filterText()) params.set("filter", filterText());
  $("browse-summary").textContent = "Loading…";
  const body = await guarded(() => api("GET", `${collectionPath(name)}/records?${params}`),
    (err) => showError(err, "Browse failed"));
  if (busy === key) busy = null;
  if (loaded !== key) return;
  if (!body) {
    $("browse-summary").textContent = "";
    return;
  }
  const thumbs = state.info && state.info.thumbnails;
  for (const record of body.records || []) {
    const li = document.createElement("li");
    const card = document.createElement("button");
    card.type = "button";
    card.className = "card";
    card.dataset.id = record.id;
    card.append(tile(record.id, thumbs ? thumbnailPath(name, record.id) : null,
      { hidden: record.safe === false }));
    const meta = document.createElement("div");
    meta.className = "meta";
    const idLine = document.createElement("div");
    idLine.className = "id";
    idLine.textContent = sourceName(record.source) || record.id;
    meta.append(idLine);
    const taken = record.exif && record.exif.taken_at;
    if (taken) {
      const when = document.createElement("div");
      when.className = "source";
      when.textContent = String(taken).slice(0, 10);
      meta.append(when);
    }
    card.append(meta);
    card.addEventListener("click", () => emit("open", record));
    li.append(card);
    $("browse").append(li);
  }
  cursor = body.next_offset || null;
  const shown = $("browse").children.length;
  $("browse-summary").textContent = `${shown.toLocaleString()} image${shown === 1 ? "" : "s"}` +
    (cursor ? " so far" : "") + (filterText() ? " passing the filter" : "");
  $("browse-more").hidden = !cursor;
  if (!shown) {
    setEmpty($("browse-empty"), "No images",
      para(filterText() ? "No image passes the filter." : "This collection has no images yet."));
  }
  // observing again reports whether the end is still in view: the screen is not full yet
  if (cursor && observer) {
    observer.unobserve($("browse-more").parentElement);
    observer.observe($("browse-more").parentElement);
  }
}

export function setupBrowse() {
  const more = $("browse-more");
  $("browse-sort").addEventListener("change", () => emit("browse-sort", browseSort()));
  $("browse-thumbnails").addEventListener("click", makeThumbnails);
  more.addEventListener("click", () => loadPage(loaded));
  observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting) && cursor && !$("view-browse").hidden) loadPage(loaded);
  }, { rootMargin: "600px" });
  observer.observe(more.parentElement);
}
