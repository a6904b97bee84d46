// The lookalike web page: plain JavaScript modules over the REST routes of docs/server.md.
// No framework and no build step; the server ships these files as they are.

import { ApiError, api, authHeaders, collectionPath, thumbnailPath } from "./http.js";
import { $, button, clearError, code, guarded, para, setEmpty, setupKeyDialog, showError } from "./ui.js";
import { state } from "./state.js";
import { clearResults, loadThumbnail, renderResults } from "./results.js";
import { uploadFiles } from "./upload.js";
import { findDuplicates, showDuplicatesIntro } from "./duplicates.js";
import { clearPeople, hasSignal, setupPeople, showPeople } from "./people.js";
import { on } from "./events.js";
import { openCollectionDialog, setupCollectionDialog } from "./newcollection.js";
import { clearFilterControls, filterNear, setupFilterControls } from "./filters.js";
import { VIEWS, readRoute, routeHref, saveRoute } from "./route.js";
import { closeViewer, openViewer, setupViewer } from "./viewer.js";
import { browseSort, clearBrowse, setBrowseSort, setupBrowse, showBrowse } from "./browse.js";
import { clearRegion, setupRegion, showRegion } from "./region.js";

export const COLLECTION_STORE = "lookalike.collection";

// ---- collections --------------------------------------------------------------------

export async function loadCollections(select) {
  const body = await guarded(() => api("GET", "collections"));
  if (!body) return;
  state.collections = (body.collections || []).map((c) => (typeof c === "string" ? { name: c } : c));
  // An alias is offered like a collection (every route takes one), named "alias → collection":
  // a page left on "photos" stays on it when a reindex switches "photos" to a new version.
  for (const [alias, target] of Object.entries(body.aliases || {}).sort()) {
    const info = state.collections.find((c) => c.name === target);
    if (info) state.collections.push({ ...info, name: alias, target });
  }
  const picker = $("collection");
  picker.replaceChildren();
  for (const c of state.collections) {
    const option = document.createElement("option");
    option.value = c.name;
    option.textContent = c.target ? `${c.name} → ${c.target}` : c.name;
    picker.append(option);
  }
  picker.disabled = state.collections.length === 0;
  const names = state.collections.map((c) => c.name);
  const wanted = [select, readRoute().collection, state.collection,
    localStorage.getItem(COLLECTION_STORE), names[0]].find((n) => n && names.includes(n));
  await chooseCollection(wanted || null, { push: false });
}

// `push`: the user picked it, a new history entry; else the address is only brought in line.
export async function chooseCollection(name, { push = true } = {}) {
  const view = readRoute().view;
  if (push) saveRoute({ view, collection: name });
  else if (name && readRoute().collection !== name) {
    saveRoute({ ...readRoute(), collection: name }, { replace: true });
  }
  state.collection = name;
  state.shown = null;
  state.searchSeq += 1;
  state.info = null;
  state.query = null;
  clearResults();
  clearPreview();
  $("upload-report").hidden = true;
  $("clusters").replaceChildren();
  $("duplicates-summary").textContent = "";
  showDuplicatesIntro();
  clearPeople();
  clearBrowse();
  clearFilterControls();
  $("more-results").hidden = true;
  $("query-summary").textContent = "";
  $("upload-area").hidden = !name;
  if (!name) {
    $("collection-count").textContent = "";
    showTextSignals();
    showImageSignals();
    showSearchEmpty();
    if (!$("view-people").hidden) showPeople();
    if (!$("view-browse").hidden) showBrowse();
    return;
  }
  $("collection").value = name;
  localStorage.setItem(COLLECTION_STORE, name);
  await refreshInfo();
  showSearchEmpty();
  if (!$("view-people").hidden && state.collection === name) showPeople();
  if (!$("view-browse").hidden && state.collection === name) showBrowse();
}

export async function refreshInfo() {
  const name = state.collection;
  const info = await guarded(() => api("GET", collectionPath(name)));
  if (state.collection !== name) return;
  state.info = info || null;
  const count = info ? info.count : null;
  $("collection-count").textContent = typeof count === "number"
    ? `${count.toLocaleString()} image${count === 1 ? "" : "s"}` : "";
  const threshold = info && info.copy_threshold;
  $("dup-threshold").placeholder = typeof threshold === "number" ? threshold.toFixed(2) : "default";
  showTextSignals();
  showImageSignals();
}

// With the text signal, words can match what images show (semantic), the text written in
// them (text), or both (the server fuses the two when no signal is named).
export const TEXT_SIGNALS = [
  ["", "meaning and written words", ["semantic", "text"]],
  ["semantic", "meaning", ["semantic"]],
  ["text", "words in the image", ["text"]],
];

export function showTextSignals() {
  const picker = $("text-signal");
  const previous = picker.value;
  picker.replaceChildren();
  if (!hasSignal("text")) {
    picker.hidden = true;
    return;
  }
  for (const [value, label, needs] of TEXT_SIGNALS) {
    if (!needs.every(hasSignal)) continue;
    const option = document.createElement("option");
    option.value = value;
    option.textContent = label;
    picker.append(option);
  }
  if ([...picker.options].some((o) => o.value === previous)) picker.value = previous;
  picker.disabled = picker.options.length < 2;
  picker.hidden = false;
}

// ---- search -------------------------------------------------------------------------

export function showSearchEmpty() {
  const box = $("empty");
  if (!state.collection) {
    setEmpty(box, "No collections yet",
      para("Create one here and add images to it, or index a folder from a terminal:"),
      para(code("lookalike index ~/Pictures --collection photos --thumbnails")),
      para(button("New collection…", openCollectionDialog)));
  } else if (state.info && state.info.count === 0) {
    setEmpty(box, `“${state.collection}” has no images yet`,
      para(button("Add images…", () => $("upload-files").click()),
        " or drop them on that button, or index a folder from a terminal:"),
      para(code(`lookalike index FOLDER --collection ${state.collection}`)));
  } else {
    const words = hasSignal("semantic") || hasSignal("text");
    setEmpty(box, `Search “${state.collection}”`,
      para("Drop an image on the box above, paste one (Ctrl+V), choose a file, give an image " +
        `URL${words ? ", or describe what you look for in words" : ""}. Click any result to ` +
        "see it large, with more like it."));
  }
}

// What an image search looks for, by signal: the collection's signals decide which are offered.
export const IMAGE_SIGNALS = [
  ["semantic", "similar images"],
  ["duplicate", "copies of it"],
  ["faces", "the same faces"],
];

export function showImageSignals() {
  const picker = $("image-signal");
  const previous = picker.value;
  picker.replaceChildren();
  for (const [value, label] of IMAGE_SIGNALS) {
    if (!hasSignal(value)) continue;
    const option = document.createElement("option");
    option.value = value;
    option.textContent = label;
    picker.append(option);
  }
  if ([...picker.options].some((o) => o.value === previous)) picker.value = previous;
  $("image-signal-field").hidden = picker.options.length < 2;
  // words need a signal that reads them: a duplicate-only collection has none
  $("text-form").hidden = Boolean(state.info) && !hasSignal("semantic") && !hasSignal("text");
}

const imageSignal = () => ($("image-signal").options.length ? $("image-signal").value : "");

export const MAX_TOP_K = 1000;

// Filter, threshold, page size and page as they stand in the fields.
export function queryOptions(page = 1) {
  const k = Number($("top-k").value);
  const options = { top_k: Math.min(MAX_TOP_K, k * page) };
  const min = $("min-score").value;
  if (min) options.threshold = Number(min);
  const raw = $("query-filter").value.trim();
  if (raw) {
    let filter;
    try {
      filter = JSON.parse(raw);
    } catch (_) {
      throw new ApiError(0, "invalid_filter",
        'The filter is not valid JSON. Write it as an object, e.g. {"color": "red"}.');
    }
    options.filter = filter;
  }
  return options;
}

export function searchJson(fields) {
  return (page) => api("POST", collectionPath(state.collection) + "/search",
    { ...fields, ...queryOptions(page) });
}

export function searchUpload(file, fields = {}) {
  return (page) => {
    const form = new FormData();
    form.append("image", file, file.name || "pasted-image");
    form.append("query", JSON.stringify({ ...fields, ...queryOptions(page) }));
    return api("POST", collectionPath(state.collection) + "/search/upload", form);
  };
}

// The address of a search: its query (`params`) with the options in force.
export function searchRoute(query, page = 1) {
  return {
    view: "search",
    collection: state.collection,
    ...(query ? query.params : {}),
    filter: $("query-filter").value.trim(),
    min: $("min-score").value,
    k: $("top-k").value === "24" ? "" : $("top-k").value,
    page: page > 1 ? String(page) : "",
  };
}

// Queries by history entry, for Back/Forward to an uploaded image (not in the address).
const remembered = new Map();

export async function runQuery(query, { push = true, page = 1 } = {}) {
  if (!state.collection) {
    showError(new Error("Pick a collection first, or create one with “New…”."));
    return;
  }
  clearError();
  state.query = query;
  state.page = page;
  if (push) {
    const key = saveRoute(searchRoute(query, page), { extra: query.params ? null : { upload: true } });
    remembered.set(key, query);
  }
  state.shown = routeHref(searchRoute(query, page));
  // the fields show the query in force: the others are cleared
  if (query.kind !== "url") $("query-url").value = "";
  if (query.kind !== "text") $("query-text").value = "";
  const seq = ++state.searchSeq;
  $("query-summary").textContent = `Searching ${query.label}…`;
  $("results").setAttribute("aria-busy", "true");
  $("more-results").hidden = true;
  const started = performance.now();
  const body = await guarded(() => query.run(page), (err) => {
    if (seq !== state.searchSeq) return;
    $("query-summary").textContent = "";
    clearResults();
    setEmpty($("empty"), null);
    showError(err, "Search failed");
  });
  if (seq !== state.searchSeq) return;
  $("results").removeAttribute("aria-busy");
  if (!body) return;
  const results = body.results || [];
  const took = typeof body.took_ms === "number" ? body.took_ms : performance.now() - started;
  const min = $("min-score").value;
  $("query-summary").textContent =
    `${results.length} result${results.length === 1 ? "" : "s"} for ${query.label} ` +
    `in ${Math.round(took)} ms` + (min ? ` (scores from ${Number(min).toFixed(2)})` : "");
  renderResults(results);
  const asked = queryOptions(page).top_k;
  $("more-results").hidden = results.length < asked || asked >= MAX_TOP_K || query.kind === "person";
}

export function moreResults() {
  if (state.query) runQuery(state.query, { page: (state.page || 1) + 1 });
}

export function searchByFile(file) {
  if (!file) return;
  if (file.type && !file.type.startsWith("image/")) {
    showError(new Error(`${file.name || "That file"} is not an image (${file.type}).`));
    return;
  }
  const src = URL.createObjectURL(file);
  const signal = imageSignal();
  const query = { kind: "image", label: file.name ? `“${file.name}”` : "the pasted image",
    params: null, file, run: searchUpload(file, signal ? { signal } : {}), preview: src };
  showPreview(src, false);
  runQuery(query);
  scrollToResults();
}

// On a narrow screen the results are below the query card: bring them up.
export function scrollToResults() {
  if (window.matchMedia("(max-width: 720px)").matches) {
    $("query-summary").scrollIntoView({ block: "start", behavior: "smooth" });
  } else {
    window.scrollTo({ top: 0, behavior: "smooth" });
  }
}

const SIGNAL_WORDS = { duplicate: "copies of", faces: "faces like" };

export function searchByUrl(url, { push = true, signal = imageSignal(), page = 1 } = {}) {
  url = url.trim();
  if (!url) return;
  clearPreview();
  const fields = { image_url: url, ...(signal ? { signal } : {}) };
  runQuery({ kind: "url", label: SIGNAL_WORDS[signal] ? `${SIGNAL_WORDS[signal]} ${url}` : url,
    params: { url, signal }, run: searchJson(fields) }, { push, page });
  $("query-url").value = url;
}

export function searchByText(text, { push = true, page = 1 } = {}) {
  text = text.trim();
  if (!text) return;
  clearPreview();
  const picker = $("text-signal");
  const signal = picker.hidden ? "" : picker.value;
  const how = { semantic: " by meaning", text: " in the images’ text" }[signal] || "";
  runQuery({ kind: "text", label: `“${text}”${how}`, params: { text, signal },
    run: searchJson(signal ? { text, signal } : { text }) }, { push, page });
  $("query-text").value = text;
}

// Every photo of a person (faces signal): as many results as the person has photos.
export function searchByPerson(person, { push = true } = {}) {
  clearPreview();
  const known = (state.people || []).find((p) => String(p.id) === String(person.id)) || {};
  person = { ...known, ...person };
  const who = person.name || `Person ${person.id}`;
  runQuery({
    kind: "person",
    label: `photos of ${person.name ? `“${who}”` : who}`,
    params: { person: String(person.id) },
    run: () => {
      const options = queryOptions();
      options.top_k = Math.min(MAX_TOP_K, Math.max(options.top_k, person.records || 0));
      const id = /^\d+$/.test(String(person.id)) ? Number(person.id) : person.id;
      return api("POST", collectionPath(state.collection) + "/search", { ...options, person: id });
    },
  }, { push });
  showView("search");
  window.scrollTo({ top: 0 });
}

// More like a record (or, with `signal`, its copies or faces); its thumbnail is the preview.
export function searchById(result, { push = true, signal = null, page = 1, face = null } = {}) {
  clearPreview();
  if (signal === null) signal = hasSignal("semantic") ? "semantic" : imageSignal();
  if (signal && [...$("image-signal").options].some((o) => o.value === signal)) {
    $("image-signal").value = signal;
  }
  const url = result.thumbnail_url || (state.info && state.info.thumbnails
    ? thumbnailPath(state.collection, result.id) : null);
  const words = { duplicate: "copies of", faces: "faces like" }[signal] || "more like";
  const fields = { id: result.id, ...(signal ? { signal } : {}), ...(face !== null ? { face } : {}) };
  const which = face !== null ? ` (face ${face + 1})` : "";
  const query = { kind: "id", label: `${words} “${result.id}”${which}`, params: { id: result.id, signal },
    run: searchJson(fields), thumbnail: url };
  if (url) {
    loadThumbnail(url, false).then((src) => {
      if (!src) return;
      if (state.query === query) showPreview(src, true);
      else URL.revokeObjectURL(src);
    });
  }
  showView("search");
  runQuery(query, { push, page });
  scrollToResults();
}

// A part of the query image (fractions of it): the upload, or the record's thumbnail, sent
// again with the region. The preview stays and shows the box.
export async function searchRegion(region, { signal = imageSignal() } = {}) {
  const current = state.query;
  const img = $("query-preview");
  if (!current || img.hidden) return;
  const base = current.regionOf || current;
  // an upload is at hand; a record's picture is read again (a blob: address cannot be fetched
  // under the page's content security policy)
  const file = base.file || current.file || (base.thumbnail
    && await fetch(base.thumbnail, { headers: authHeaders() })
      .then((r) => (r.ok ? r.blob() : null)).catch(() => null));
  if (!file) return;
  const name = base.file ? (base.file.name ? `“${base.file.name}”` : "the pasted image")
    : `“${base.params && base.params.id}”`;
  const fields = { ...(signal ? { signal } : {}), region };
  runQuery({ kind: "image", label: `a part of ${name}`, params: null, file, regionOf: base,
    region, run: searchUpload(file, fields), preview: img.src });
  showRegion(region);
  scrollToResults();
}

// An object of a record (its box, fractions of the image): its thumbnail becomes the query
// image, searched by that part.
export async function searchRecordRegion(record, box, signal = "") {
  const url = record.thumbnail_url || thumbnailPath(state.collection, record.id);
  const response = await fetch(url, { headers: authHeaders() }).catch(() => null);
  if (!response || !response.ok) {
    showError(new Error(`The image of “${record.id}” could not be read to search a part of it.`));
    return;
  }
  const file = await response.blob();
  const src = URL.createObjectURL(file);
  showView("search");
  showPreview(src, true);
  const base = { kind: "id", params: { id: record.id }, file: null };
  const fields = { ...(signal ? { signal } : {}), region: box };
  runQuery({ kind: "image", label: `a part of “${record.id}”`, params: null, file, regionOf: base,
    region: box, run: searchUpload(file, fields), preview: src });
  await new Promise((done) => {
    const img = $("query-preview");
    if (img.complete && img.naturalWidth) done();
    else img.addEventListener("load", done, { once: true });
  });
  showRegion(box);
  scrollToResults();
}

export function showPreview(src, own) {
  clearPreview();
  if (own) state.previewUrl = src;
  $("query-preview").src = src;
  $("query-preview").hidden = false;
  $("dropzone-text").hidden = true;
  $("dropzone").classList.add("has-preview");
}

export function clearPreview() {
  clearRegion();
  if (state.previewUrl) URL.revokeObjectURL(state.previewUrl);
  state.previewUrl = null;
  $("query-preview").hidden = true;
  $("query-preview").removeAttribute("src");
  $("dropzone-text").hidden = false;
  $("dropzone").classList.remove("has-preview");
}

// ---- the address: views and searches as history entries ------------------------------

// Shows what `route` names: its collection, view, search and open record. From the address
// on load and on Back/Forward, so nothing is pushed here. On load (`initial`) an address without
// a search leaves the search form alone: what the user typed, or a search already started while
// the collections loaded, is kept.
export async function applyRoute(route, entry = history.state, initial = false) {
  if (route.collection && route.collection !== state.collection
      && state.collections.some((c) => c.name === route.collection)) {
    await chooseCollection(route.collection, { push: false });
  }
  if (route.view === "browse") setBrowseSort(route.sort);
  showView(route.view);
  if (route.view === "browse") showBrowse();
  if (route.view === "search") {
    // on load, only what the address gives: a filter or option set while the collections
    // loaded is kept
    if (!initial || route.filter) $("query-filter").value = route.filter || "";
    if (!initial || route.min) $("min-score").value = route.min || "";
    if (!initial || route.k) {
      $("top-k").value = route.k || "24";
      if (![...$("top-k").options].some((o) => o.selected && o.value === (route.k || "24"))) $("top-k").value = "24";
    }
    const page = Number(route.page) || 1;
    const href = routeHref(route.open ? { ...route, open: "" } : route);
    const known = entry && remembered.get(entry.key);
    if (href === state.shown && state.query) {
      // the same search (a viewer opened or closed over it): nothing to run
    } else if (known && !known.params) {
      state.query = null;
      if (known.preview) showPreview(known.preview, false);
      if (known.region) {
        const img = $("query-preview");
        img.addEventListener("load", () => showRegion(known.region), { once: true });
      }
      runQuery(known, { push: false, page });
    } else if (route.id) {
      searchById({ id: route.id }, { push: false, signal: route.signal || "", page });
    } else if (route.text) {
      if (route.signal !== undefined && [...$("text-signal").options].some((o) => o.value === route.signal)) {
        $("text-signal").value = route.signal;
      } else if ($("text-signal").options.length) {
        $("text-signal").selectedIndex = 0;
      }
      searchByText(route.text, { push: false, page });
    } else if (route.url) {
      searchByUrl(route.url, { push: false, signal: route.signal || "", page });
    } else if (route.person) {
      await ensurePeople();
      searchByPerson({ id: route.person }, { push: false });
    } else if (initial) {
      if (!state.query) showSearchEmpty();
    } else {
      state.query = null;
      state.shown = null;
      state.searchSeq += 1;
      clearResults();
      clearPreview();
      $("query-summary").textContent = "";
      $("more-results").hidden = true;
      $("query-text").value = "";
      $("query-url").value = "";
      showSearchEmpty();
    }
  }
  if (route.open) openViewer({ id: route.open }, { push: false });
  else closeViewer({ push: false });
}

async function ensurePeople() {
  if (state.people || !hasSignal("faces")) return;
  const people = await guarded(() => api("GET", collectionPath(state.collection) + "/people"));
  if (people) state.people = people;
}

// A view change the user asked for: a new history entry.
export function goToView(view) {
  const route = view === "search" && state.query
    ? searchRoute(state.query, state.page)
    : { view, collection: state.collection, ...(view === "browse" ? { sort: browseSort() } : {}) };
  saveRoute(route);
  showView(view);
}

// ---- views and input ----------------------------------------------------------------

export function showView(view = readRoute().view) {
  const known = VIEWS.includes(view) ? view : "search";
  const wasHidden = $(`view-${known}`).hidden;
  for (const section of document.querySelectorAll(".view")) {
    section.hidden = section.id !== `view-${known}`;
  }
  if (known === "people" && wasHidden) showPeople();
  if (known === "browse" && wasHidden) showBrowse();
  for (const link of document.querySelectorAll("nav.views a")) {
    link.classList.toggle("active", link.dataset.view === known);
    if (link.dataset.view === known) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

export function imageFileOf(items) {
  for (const item of items || []) {
    if (item.kind === "file" && item.type.startsWith("image/")) return item.getAsFile();
  }
  return null;
}

export function setupInput() {
  const zone = $("dropzone");
  setupRegion((region) => searchRegion(region));
  zone.addEventListener("click", () => $("query-file").click());
  zone.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      $("query-file").click();
    }
  });
  $("query-file").addEventListener("change", (e) => {
    searchByFile(e.target.files[0]);
    e.target.value = "";
  });
  $("url-form").addEventListener("submit", (e) => {
    e.preventDefault();
    searchByUrl($("query-url").value);
  });
  $("text-form").addEventListener("submit", (e) => {
    e.preventDefault();
    searchByText($("query-text").value);
  });
  $("filter-form").addEventListener("submit", (e) => {
    e.preventDefault();
    if (state.query) runQuery(state.query);
  });
  $("top-k").addEventListener("change", () => state.query && runQuery(state.query));
  $("min-score").addEventListener("change", () => state.query && runQuery(state.query));
  $("more-results").addEventListener("click", moreResults);
  $("image-signal").addEventListener("change", () => {
    const q = state.query;
    if (!q || q.kind === "text" || q.kind === "person") return;
    if (q.kind === "id") searchById({ id: q.params.id }, { signal: $("image-signal").value });
    else if (q.kind === "url") searchByUrl(q.params.url);
    else if (q.kind === "image" && q.region) searchRegion(q.region, { signal: $("image-signal").value });
    else if (q.kind === "image" && q.file) searchByFile(q.file);
  });
  for (const link of document.querySelectorAll("a[data-view]")) {
    link.addEventListener("click", (e) => {
      if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      goToView(link.dataset.view);
    });
  }
  $("text-signal").addEventListener("change", () => {
    if (state.query && state.query.kind === "text") searchByText($("query-text").value);
  });
  $("upload-button").addEventListener("click", () => $("upload-files").click());
  $("upload-files").addEventListener("change", (e) => uploadFiles(e.target.files));
  $("banner-close").addEventListener("click", clearError);
  $("duplicates-form").addEventListener("submit", (e) => {
    e.preventDefault();
    findDuplicates();
  });

  // Drops: on the upload button (or an empty collection's message) they add images; anywhere
  // else in the search view they search.
  let depth = 0;
  window.addEventListener("dragenter", (e) => {
    e.preventDefault();
    depth += 1;
    document.body.classList.add("dragging");
  });
  window.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) document.body.classList.remove("dragging");
  });
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => {
    e.preventDefault();
    depth = 0;
    document.body.classList.remove("dragging");
    if ($("view-search").hidden) return;
    const data = e.dataTransfer;
    const empty = state.info && state.info.count === 0;
    if (e.target.closest && e.target.closest(empty ? "#upload-area, #empty" : "#upload-area")) {
      uploadFiles(Array.from(data.files).filter((f) => f.type.startsWith("image/")));
      return;
    }
    const file = Array.from(data.files).find((f) => f.type.startsWith("image/"));
    if (file) searchByFile(file);
    else if (data.files.length) showError(new Error(`${data.files[0].name} is not an image.`));
    else {
      const url = (data.getData("text/uri-list") || data.getData("text/plain") || "").split("\n")[0];
      if (/^https?:\/\//i.test(url.trim())) searchByUrl(url);
    }
  });

  // Paste: an image anywhere searches by it; text pasted into a field stays text.
  document.addEventListener("paste", (e) => {
    if ($("view-search").hidden || document.querySelector("dialog[open]")) return;
    const file = imageFileOf(e.clipboardData && e.clipboardData.items);
    if (file) {
      e.preventDefault();
      searchByFile(file);
      return;
    }
    const text = (e.clipboardData && e.clipboardData.getData("text/plain")) || "";
    if (e.target === zone && /^https?:\/\//i.test(text.trim())) {
      e.preventDefault();
      searchByUrl(text);
    }
  });
  window.addEventListener("popstate", (e) => applyRoute(readRoute(), e.state));
}

// What the views ask for (events.js): they never import this module.
export function setupEvents() {
  on("search-id", (record, signal = null, extra = {}) => searchById(record, { signal, ...extra }));
  on("search-region", (record, box, signal) => searchRecordRegion(record, box, signal));
  on("search-person", (person) => searchByPerson(person));
  on("open", (record) => openViewer(record));
  on("key-changed", () => loadCollections());
  on("collection-created", (name) => loadCollections(name));
  on("records-deleted", async (name) => {
    if (state.collection !== name) return;
    await refreshInfo();
    clearBrowse();
  });
  on("browse-sort", (sort) => {
    saveRoute({ view: "browse", collection: state.collection, sort });
    showBrowse();
  });
  on("thumbnails-made", async (name) => {
    if (state.collection !== name) return;
    await refreshInfo();
    clearBrowse();
    if (!$("view-browse").hidden) showBrowse();
  });
  on("filter-changed", () => {
    if (!$("view-browse").hidden) showBrowse();
    else if (state.query) runQuery(state.query);
  });
  on("near", async (point) => {
    await filterNear(point);
    goToView("browse");
  });
  on("uploaded", async (name) => {
    if (state.collection !== name) return;
    await refreshInfo();
    if (!state.query) showSearchEmpty();
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setupEvents();
  setupKeyDialog();
  setupCollectionDialog();
  $("collection").addEventListener("change", (e) => chooseCollection(e.target.value));
  setupInput();
  setupPeople();
  setupViewer();
  setupBrowse();
  setupFilterControls();
  const route = readRoute();
  if (location.hash) saveRoute(route, { replace: true }); // an old #/view address
  setBrowseSort(route.sort);
  showView(route.view);
  loadCollections().then(() => {
    const now = readRoute();
    if (now.collection === state.collection || !now.collection) applyRoute(now, history.state, true);
  });
});
