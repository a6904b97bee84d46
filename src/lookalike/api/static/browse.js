// The browse view: every image of the collection as tiles, a page at a time from
// GET /collections/{name}/records and its cursor (next_offset), the next page loaded as the
// end of the grid comes into view. Honours the search view's filter. Tiles open the viewer.

import { api, collectionPath, thumbnailPath } from "./http.js";
import { $, guarded, para, setEmpty, showError } from "./ui.js";
import { state } from "./state.js";
import { sourceName, tile } from "./results.js";
import { emit } from "./events.js";

export const BROWSE_PAGE = 48;

let cursor = null; // next_offset of the last page; null before the first and after the last
let loaded = null; // the collection and filter the grid shows
let busy = false;
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

// Shows the collection in force from its first page, unless the grid already shows it.
export async function showBrowse() {
  const name = state.collection;
  const key = `${name}\n${filterText()}`;
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
  if (busy || loaded !== key) return;
  const name = state.collection;
  busy = true;
  const params = new URLSearchParams({ limit: String(BROWSE_PAGE) });
  if (cursor) params.set("offset", cursor);
  if (filterText()) params.set("filter", filterText());
  $("browse-summary").textContent = "Loading…";
  const body = await guarded(() => api("GET", `${collectionPath(name)}/records?${params}`),
    (err) => showError(err, "Browse failed"));
  busy = false;
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
  more.addEventListener("click", () => loadPage(loaded));
  observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting) && cursor && !$("view-browse").hidden) loadPage(loaded);
  }, { rootMargin: "600px" });
  observer.observe(more.parentElement);
}
