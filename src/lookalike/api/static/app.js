// The lookalike web page: plain JavaScript modules over the REST routes of docs/server.md.
// No framework and no build step; the server ships these files as they are.

import { ApiError, api, collectionPath, thumbnailPath } from "./http.js";
import { $, button, clearError, code, guarded, para, setEmpty, setupKeyDialog, showError } from "./ui.js";
import { state } from "./state.js";
import { clearResults, loadThumbnail, renderResults } from "./results.js";
import { uploadFiles } from "./upload.js";
import { findDuplicates, showDuplicatesIntro } from "./duplicates.js";
import { clearPeople, hasSignal, setupPeople, showPeople } from "./people.js";

export const COLLECTION_STORE = "lookalike.collection";

// ---- collections --------------------------------------------------------------------

export async function loadCollections(select) {
  const body = await guarded(() => api("GET", "/collections"));
  if (!body) return;
  state.collections = (body.collections || []).map((c) => (typeof c === "string" ? { name: c } : c));
  const picker = $("collection");
  picker.replaceChildren();
  for (const c of state.collections) {
    const option = document.createElement("option");
    option.value = option.textContent = c.name;
    picker.append(option);
  }
  picker.disabled = state.collections.length === 0;
  const names = state.collections.map((c) => c.name);
  const wanted = [select, state.collection, localStorage.getItem(COLLECTION_STORE), names[0]]
    .find((n) => n && names.includes(n));
  await chooseCollection(wanted || null);
}

export async function chooseCollection(name) {
  state.collection = name;
  state.info = null;
  state.query = null;
  clearResults();
  clearPreview();
  $("upload-report").hidden = true;
  $("clusters").replaceChildren();
  $("duplicates-summary").textContent = "";
  showDuplicatesIntro();
  clearPeople();
  $("upload-area").hidden = !name;
  if (!name) {
    $("collection-count").textContent = "";
    showTextSignals();
    showSearchEmpty();
    if (!$("view-people").hidden) showPeople();
    return;
  }
  $("collection").value = name;
  localStorage.setItem(COLLECTION_STORE, name);
  await refreshInfo();
  showSearchEmpty();
  if (!$("view-people").hidden && state.collection === name) showPeople();
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

export function setupCollectionDialog() {
  const dialog = $("collection-dialog");
  $("new-collection").addEventListener("click", openCollectionDialog);
  $("collection-cancel").addEventListener("click", () => dialog.close());
  $("collection-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = $("collection-name").value.trim();
    const body = { name, thumbnails: $("collection-thumbnails").checked };
    const created = await guarded(() => api("POST", "/collections", body), (err) => {
      $("collection-error").textContent = err.message;
      $("collection-error").hidden = false;
    });
    if (created === undefined) return;
    dialog.close();
    await loadCollections(name);
  });
  $("collection").addEventListener("change", (e) => chooseCollection(e.target.value));
}

export function openCollectionDialog() {
  $("collection-name").value = "";
  $("collection-error").hidden = true;
  $("collection-dialog").showModal();
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
    setEmpty(box, `Search “${state.collection}”`,
      para("Drop an image on the box above, paste one (Ctrl+V), choose a file, give an image " +
        "URL, or describe what you look for in words. Click any result to see more like it."));
  }
}

export function queryOptions() {
  const options = { top_k: Number($("top-k").value) };
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
  return () => api("POST", collectionPath(state.collection) + "/search",
    { ...fields, ...queryOptions() });
}

export function searchUpload(file) {
  return () => {
    const form = new FormData();
    form.append("image", file, file.name || "pasted-image");
    form.append("query", JSON.stringify(queryOptions()));
    return api("POST", collectionPath(state.collection) + "/search/upload", form);
  };
}

export async function runQuery(query) {
  if (!state.collection) {
    showError(new Error("Pick a collection first, or create one with “New…”."));
    return;
  }
  clearError();
  state.query = query;
  // the fields show the query in force: the others are cleared
  if (query.kind !== "url") $("query-url").value = "";
  if (query.kind !== "text") $("query-text").value = "";
  const seq = ++state.searchSeq;
  $("query-summary").textContent = `Searching ${query.label}…`;
  $("results").setAttribute("aria-busy", "true");
  const started = performance.now();
  const body = await guarded(query.run, (err) => {
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
  $("query-summary").textContent =
    `${results.length} result${results.length === 1 ? "" : "s"} for ${query.label} ` +
    `in ${Math.round(took)} ms`;
  renderResults(results);
}

export function searchByFile(file) {
  if (!file) return;
  if (file.type && !file.type.startsWith("image/")) {
    showError(new Error(`${file.name || "That file"} is not an image (${file.type}).`));
    return;
  }
  showPreview(URL.createObjectURL(file), true);
  runQuery({ kind: "image", label: file.name ? `“${file.name}”` : "the pasted image",
    run: searchUpload(file) });
}

export function searchByUrl(url) {
  url = url.trim();
  if (!url) return;
  clearPreview();
  runQuery({ kind: "url", label: url, run: searchJson({ image_url: url }) });
  $("query-url").value = url;
}

export function searchByText(text) {
  text = text.trim();
  if (!text) return;
  clearPreview();
  const picker = $("text-signal");
  const signal = picker.hidden ? "" : picker.value;
  const how = { semantic: " by meaning", text: " in the images’ text" }[signal] || "";
  runQuery({ kind: "text", label: `“${text}”${how}`,
    run: searchJson(signal ? { text, signal } : { text }) });
}

// Every photo of a person (faces signal): as many results as the person has photos.
export function searchByPerson(person) {
  clearPreview();
  const who = person.name || `Person ${person.id}`;
  runQuery({
    kind: "person",
    label: `photos of ${person.name ? `“${who}”` : who}`,
    run: () => {
      const options = queryOptions();
      options.top_k = Math.min(1000, Math.max(options.top_k, person.records || 0));
      return api("POST", collectionPath(state.collection) + "/search",
        { ...options, person: person.id });
    },
  });
  window.scrollTo({ top: 0 });
}

export function searchById(result) {
  clearPreview();
  const url = result.thumbnail_url || (state.info && state.info.thumbnails
    ? thumbnailPath(state.collection, result.id) : null);
  const query = { kind: "id", label: `more like “${result.id}”`, run: searchJson({ id: result.id }) };
  if (url) {
    loadThumbnail(url, false).then((src) => {
      if (!src) return;
      if (state.query === query) showPreview(src, true);
      else URL.revokeObjectURL(src);
    });
  }
  runQuery(query);
  window.scrollTo({ top: 0, behavior: "smooth" });
}

export function showPreview(src, own) {
  clearPreview();
  if (own) state.previewUrl = src;
  $("query-preview").src = src;
  $("query-preview").hidden = false;
  $("dropzone-text").hidden = true;
}

export function clearPreview() {
  if (state.previewUrl) URL.revokeObjectURL(state.previewUrl);
  state.previewUrl = null;
  $("query-preview").hidden = true;
  $("query-preview").removeAttribute("src");
  $("dropzone-text").hidden = false;
}
// ---- views and input ----------------------------------------------------------------

export function showView() {
  const view = (location.hash.match(/^#\/(\w+)/) || [])[1] || "search";
  const known = ["search", "duplicates", "people"].includes(view) ? view : "search";
  const wasHidden = $(`view-${known}`).hidden;
  for (const section of document.querySelectorAll(".view")) {
    section.hidden = section.id !== `view-${known}`;
  }
  if (known === "people" && wasHidden) showPeople();
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
  window.addEventListener("hashchange", showView);
}

document.addEventListener("DOMContentLoaded", () => {
  setupKeyDialog();
  setupCollectionDialog();
  setupInput();
  setupPeople();
  showView();
  loadCollections();
});
