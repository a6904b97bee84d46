// The lookalike web page: plain JavaScript over the REST routes of docs/server.md.
// No framework and no build step; the server ships this file as it is.
"use strict";

(() => {
  const KEY_STORE = "lookalike.apiKey";
  const COLLECTION_STORE = "lookalike.collection";
  const UPLOAD_BATCH_BYTES = 16 * 1024 * 1024; // well under the server's default body cap
  const UPLOAD_BATCH_FILES = 32;
  const JOB_POLL_MS = 700;

  const $ = (id) => document.getElementById(id);

  const state = {
    collections: [],
    collection: null, // name
    info: null, // GET /collections/{name}
    query: null, // {kind, label, run: () => Promise}
    searchSeq: 0,
    objectUrls: [],
    previewUrl: null,
  };

  // ---- HTTP ---------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, message, detail) {
      super(message);
      this.status = status;
      this.code = code;
      this.detail = detail;
    }
  }

  function authHeaders() {
    const headers = {};
    const key = localStorage.getItem(KEY_STORE);
    if (key) headers["X-API-Key"] = key;
    return headers;
  }

  async function errorFrom(response) {
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      // not JSON: a proxy's page, say
    }
    const e = body && body.error;
    if (e && e.message) return new ApiError(response.status, e.code || "error", e.message, e.detail);
    return new ApiError(response.status, "http_" + response.status,
      `${response.status} ${response.statusText || "error"}`);
  }

  const unreachable = () =>
    new ApiError(0, "unreachable", "Cannot reach the lookalike server. Is it still running?");

  async function api(method, path, body) {
    const init = { method, headers: authHeaders() };
    if (body instanceof FormData) {
      init.body = body;
    } else if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (_) {
      throw unreachable();
    }
    if (!response.ok) throw await errorFrom(response);
    if (response.status === 204) return null;
    return response.json();
  }

  const collectionPath = (name) => "/collections/" + encodeURIComponent(name);
  const thumbnailPath = (name, id) =>
    collectionPath(name) + "/thumbnails/" + encodeURIComponent(id);

  // Runs `task`; on 401/403 asks for a key and runs it again; any other error goes to the banner.
  async function guarded(task, onError) {
    for (;;) {
      try {
        return await task();
      } catch (err) {
        if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
          if (await askForKey(err)) continue;
        }
        if (onError) onError(err);
        else showError(err);
        return undefined;
      }
    }
  }

  // ---- messages -----------------------------------------------------------------------

  function showError(err, context) {
    let text = err instanceof ApiError && err.status
      ? `${err.message} (${err.status} ${err.code})`
      : String(err.message || err);
    if (context) text = `${context}: ${text}`;
    $("banner-text").textContent = text;
    $("banner").hidden = false;
  }

  function clearError() {
    $("banner").hidden = true;
    $("banner-text").textContent = "";
  }

  // Fills an empty-state box from a list of nodes and strings.
  function setEmpty(box, title, ...parts) {
    box.replaceChildren();
    if (title === null) {
      box.hidden = true;
      return;
    }
    const h = document.createElement("h2");
    h.textContent = title;
    box.append(h);
    for (const part of parts) box.append(part);
    box.hidden = false;
  }

  function para(...parts) {
    const p = document.createElement("p");
    for (const part of parts) p.append(part);
    return p;
  }

  function code(text) {
    const c = document.createElement("code");
    c.textContent = text;
    return c;
  }

  function button(label, onClick, cls) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    if (cls) b.className = cls;
    b.addEventListener("click", onClick);
    return b;
  }

  // ---- API key ------------------------------------------------------------------------

  let keyPrompt = null;

  function askForKey(err) {
    if (keyPrompt) return keyPrompt;
    const dialog = $("key-dialog");
    $("key-reason").textContent = err.status === 403
      ? "The server refused the key in use. Enter another one."
      : err.status === 401 ? "This server needs an API key." : "The key this page sends.";
    $("key-input").value = "";
    keyPrompt = new Promise((resolve) => {
      const done = (ok) => {
        dialog.removeEventListener("close", onClose);
        keyPrompt = null;
        resolve(ok);
      };
      const onClose = () => {
        const key = $("key-input").value.trim();
        if (dialog.returnValue === "use" && key) {
          localStorage.setItem(KEY_STORE, key);
          $("key-button").hidden = false;
          done(true);
        } else {
          done(false);
        }
      };
      dialog.addEventListener("close", onClose);
      $("key-button").hidden = false;
      dialog.returnValue = "";
      dialog.showModal();
    });
    return keyPrompt;
  }

  function setupKeyDialog() {
    const dialog = $("key-dialog");
    $("key-form").addEventListener("submit", (e) => {
      e.preventDefault();
      dialog.close("use");
    });
    $("key-cancel").addEventListener("click", () => dialog.close("cancel"));
    $("key-forget").addEventListener("click", () => {
      localStorage.removeItem(KEY_STORE);
      $("key-button").hidden = true;
      dialog.close("cancel");
    });
    $("key-button").hidden = !localStorage.getItem(KEY_STORE);
    $("key-button").addEventListener("click", async () => {
      if (await askForKey({ status: 0 })) {
        clearError();
        loadCollections();
      }
    });
  }

  // ---- collections --------------------------------------------------------------------

  async function loadCollections(select) {
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

  async function chooseCollection(name) {
    state.collection = name;
    state.info = null;
    state.query = null;
    clearResults();
    clearPreview();
    $("upload-report").hidden = true;
    $("clusters").replaceChildren();
    $("duplicates-summary").textContent = "";
    showDuplicatesIntro();
    $("upload-area").hidden = !name;
    if (!name) {
      $("collection-count").textContent = "";
      showSearchEmpty();
      return;
    }
    $("collection").value = name;
    localStorage.setItem(COLLECTION_STORE, name);
    await refreshInfo();
    showSearchEmpty();
  }

  async function refreshInfo() {
    const name = state.collection;
    const info = await guarded(() => api("GET", collectionPath(name)));
    if (state.collection !== name) return;
    state.info = info || null;
    const count = info ? info.count : null;
    $("collection-count").textContent = typeof count === "number"
      ? `${count.toLocaleString()} image${count === 1 ? "" : "s"}` : "";
    const threshold = info && info.copy_threshold;
    $("dup-threshold").placeholder = typeof threshold === "number" ? threshold.toFixed(2) : "default";
  }

  function setupCollectionDialog() {
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

  function openCollectionDialog() {
    $("collection-name").value = "";
    $("collection-error").hidden = true;
    $("collection-dialog").showModal();
  }

  // ---- search -------------------------------------------------------------------------

  function showSearchEmpty() {
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

  function queryOptions() {
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

  function searchJson(fields) {
    return () => api("POST", collectionPath(state.collection) + "/search",
      { ...fields, ...queryOptions() });
  }

  function searchUpload(file) {
    return () => {
      const form = new FormData();
      form.append("image", file, file.name || "pasted-image");
      form.append("query", JSON.stringify(queryOptions()));
      return api("POST", collectionPath(state.collection) + "/search/upload", form);
    };
  }

  async function runQuery(query) {
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

  function searchByFile(file) {
    if (!file) return;
    if (file.type && !file.type.startsWith("image/")) {
      showError(new Error(`${file.name || "That file"} is not an image (${file.type}).`));
      return;
    }
    showPreview(URL.createObjectURL(file), true);
    runQuery({ kind: "image", label: file.name ? `“${file.name}”` : "the pasted image",
      run: searchUpload(file) });
  }

  function searchByUrl(url) {
    url = url.trim();
    if (!url) return;
    clearPreview();
    runQuery({ kind: "url", label: url, run: searchJson({ image_url: url }) });
    $("query-url").value = url;
  }

  function searchByText(text) {
    text = text.trim();
    if (!text) return;
    clearPreview();
    runQuery({ kind: "text", label: `“${text}”`, run: searchJson({ text }) });
  }

  function searchById(result) {
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

  function showPreview(src, own) {
    clearPreview();
    if (own) state.previewUrl = src;
    $("query-preview").src = src;
    $("query-preview").hidden = false;
    $("dropzone-text").hidden = true;
  }

  function clearPreview() {
    if (state.previewUrl) URL.revokeObjectURL(state.previewUrl);
    state.previewUrl = null;
    $("query-preview").hidden = true;
    $("query-preview").removeAttribute("src");
    $("dropzone-text").hidden = false;
  }

  // ---- results ------------------------------------------------------------------------

  function clearResults() {
    for (const url of state.objectUrls) URL.revokeObjectURL(url);
    state.objectUrls = [];
    $("results").replaceChildren();
    $("results").removeAttribute("aria-busy");
  }

  function band(score) {
    if (score >= 0.9) return ["same", "the same photo"];
    if (score >= 0.75) return ["close", "very similar"];
    if (score >= 0.6) return ["related", "related"];
    return ["far", "weakly related"];
  }

  // The file name a record came from ("upload:cat.jpg", a path or a URL), for display; none
  // for inline data ("base64").
  function sourceName(source) {
    if (!source || !/^upload:|[\\/]/.test(source)) return "";
    const plain = String(source).replace(/^upload:/, "").replace(/[?#].*$/, "");
    return plain.split(/[\\/]/).filter(Boolean).pop() || plain;
  }

  function formatValue(value) {
    if (value === null || value === undefined) return "";
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  // A square tile: the thumbnail when there is one, else a neutral placeholder with the id.
  function tile(id, url) {
    const box = document.createElement("div");
    box.className = "thumb";
    const placeholder = document.createElement("span");
    placeholder.className = "placeholder";
    placeholder.textContent = id;
    box.append(placeholder);
    if (url) {
      loadThumbnail(url).then((src) => {
        if (!src) return;
        const img = document.createElement("img");
        img.alt = id;
        img.src = src;
        placeholder.replaceWith(img);
      });
    }
    return box;
  }

  function renderResults(results) {
    clearResults();
    const list = $("results");
    if (results.length === 0) {
      const filtered = $("query-filter").value.trim() !== "";
      setEmpty($("empty"), "Nothing matched",
        para(filtered
          ? "No image passes the filter with this query. Loosen or clear the filter, or try another query."
          : "No image in this collection is close enough to the query. Try another image or other words."));
      return;
    }
    setEmpty($("empty"), null);
    for (const result of results) {
      const li = document.createElement("li");
      const card = document.createElement("button");
      card.type = "button";
      card.className = "card";
      card.dataset.id = result.id;
      const score = Number(result.score) || 0;
      const [cls, words] = band(score);
      const scores = Object.entries(result.scores || {})
        .map(([k, v]) => `${k} ${Number(v).toFixed(2)}`).join(", ");
      card.title = `${result.id}\nscore ${score.toFixed(3)}: ${words}` +
        (scores ? ` (${scores})` : "") + (result.source ? `\nsource: ${result.source}` : "") +
        "\nClick for more like this";

      const url = result.thumbnail_url || null;
      const thumb = tile(result.id, url);
      const badge = document.createElement("span");
      badge.className = `badge ${cls}`;
      badge.textContent = score.toFixed(2);
      thumb.append(badge);
      card.append(thumb);

      const meta = document.createElement("div");
      meta.className = "meta";
      const idLine = document.createElement("div");
      idLine.className = "id";
      idLine.textContent = result.id;
      meta.append(idLine);
      const name = sourceName(result.source);
      if (name && name !== result.id) {
        const from = document.createElement("div");
        from.className = "source";
        from.textContent = name;
        meta.append(from);
      }
      const entries = Object.entries(result.metadata || {});
      if (result.group) entries.unshift(["group", result.group]);
      if (entries.length) {
        const dl = document.createElement("dl");
        for (const [k, v] of entries.slice(0, 3)) {
          const dt = document.createElement("dt");
          dt.textContent = k;
          const dd = document.createElement("dd");
          dd.textContent = formatValue(v);
          dl.append(dt, dd);
        }
        meta.append(dl);
        if (entries.length > 3) {
          card.title += "\n" + entries.map(([k, v]) => `${k}: ${formatValue(v)}`).join("\n");
        }
      }
      card.append(meta);
      card.addEventListener("click", () => searchById(result));
      li.append(card);
      list.append(li);
    }
  }

  // Thumbnails need the API key when the server has keys, so they come through fetch as blobs.
  // With `shared`, the URL is revoked when the results are cleared; else the caller owns it.
  async function loadThumbnail(url, shared = true) {
    try {
      const response = await fetch(url, { headers: authHeaders() });
      if (!response.ok) return null;
      const src = URL.createObjectURL(await response.blob());
      if (shared) state.objectUrls.push(src);
      return src;
    } catch (_) {
      return null;
    }
  }

  // ---- upload -------------------------------------------------------------------------

  function batchesOf(files) {
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
  function postFiles(path, files, onProgress, onSent) {
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

  function setProgress(fraction, label) {
    $("upload-progress").hidden = false;
    $("upload-bar").style.width = `${Math.round(Math.min(1, Math.max(0, fraction)) * 100)}%`;
    $("upload-label").textContent = label;
  }

  // Adds an ingest answer to the tally: per-item outcomes when the route lists them, else the
  // report's counts and failures. Outcomes carry their position in the batch: failures are
  // named by the file the user picked.
  function tally(body, counts, failures, files) {
    if (!body) return;
    if (body.report && typeof body.report === "object") body = body.report;
    const items = ["outcomes", "items", "results"].map((k) => body[k]).find(Array.isArray);
    if (items) {
      for (const o of items) {
        const status = o.status || "done";
        counts[status] = (counts[status] || 0) + 1;
        if (status === "failed" || o.error) {
          const file = files[o.index];
          failures.push({ id: file ? file.name : o.id || `item ${o.index + 1}`, error: o.error });
        }
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
  function jobIdOf(body) {
    return (body && body.id) || null;
  }

  async function waitForJob(id, onProgress) {
    for (;;) {
      const job = await api("GET", "/jobs/" + encodeURIComponent(id));
      onProgress(job);
      if (!["queued", "running"].includes(job.status)) return job;
      await new Promise((r) => setTimeout(r, JOB_POLL_MS));
    }
  }

  async function uploadFiles(fileList) {
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
        tally(body, counts, failures, batch);
      }
    } finally {
      $("upload-button").disabled = false;
      $("upload-progress").hidden = true;
      $("upload-files").value = "";
    }
    reportUpload(counts, failures);
    if (state.collection === name) {
      await refreshInfo();
      if (!state.query) showSearchEmpty();
    }
  }

  function reportUpload(counts, failures) {
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
    box.classList.toggle("has-failures", failures.length > 0);
    box.append(button("Close", () => { box.hidden = true; }, "quiet"));
    box.hidden = false;
  }

  // ---- duplicates ---------------------------------------------------------------------

  function showDuplicatesIntro() {
    const box = $("duplicates-empty");
    if (!state.collection) {
      setEmpty(box, "No collection", para("Create a collection and add images first."));
      return;
    }
    setEmpty(box, `Duplicates in “${state.collection}”`,
      para("Groups the near-duplicates and copies (resized, cropped, recompressed, captioned) " +
        "of the collection, and says which image of each group to keep. Click an image to " +
        "search for more like it."));
  }

  async function findDuplicates() {
    if (!state.collection) {
      showError(new Error("Pick a collection first."));
      return;
    }
    clearError();
    const body = { keep: $("dup-keep").value };
    const threshold = $("dup-threshold").value.trim();
    if (threshold) body.threshold = Number(threshold);
    const name = state.collection;
    $("duplicates-summary").textContent = "Looking for duplicates…";
    $("clusters").replaceChildren();
    setEmpty($("duplicates-empty"), null);
    const answer = await guarded(() => api("POST", collectionPath(name) + "/duplicates", body),
      (err) => {
        $("duplicates-summary").textContent = "";
        showError(err, "Duplicates failed");
      });
    if (!answer || state.collection !== name) return;
    renderClusters(answer.clusters || []);
  }

  function renderClusters(clusters) {
    const copies = clusters.reduce((n, c) => n + c.members.filter((m) => m.role !== "keep").length, 0);
    $("duplicates-summary").textContent =
      `${clusters.length} cluster${clusters.length === 1 ? "" : "s"}, ${copies} cop${copies === 1 ? "y" : "ies"}`;
    if (!clusters.length) {
      setEmpty($("duplicates-empty"), "No duplicates",
        para("No two images in this collection reach the copy threshold."));
      return;
    }
    const thumbs = state.info && state.info.thumbnails;
    for (const cluster of clusters) {
      const row = document.createElement("div");
      row.className = "cluster";
      const members = [...cluster.members].sort((a, b) => (a.role === "keep" ? -1 : b.role === "keep" ? 1 : 0));
      for (const m of members) {
        const card = document.createElement("button");
        card.type = "button";
        card.className = "card" + (m.role === "keep" ? " keep" : "");
        card.title = `${m.id}${m.source ? "\nsource: " + m.source : ""}\nClick to search more like this`;
        const thumb = tile(m.id, m.thumbnail_url || (thumbs ? thumbnailPath(state.collection, m.id) : null));
        const badge = document.createElement("span");
        badge.className = "badge " + (m.role === "keep" ? "keep" : band(m.score)[0]);
        badge.textContent = m.role === "keep" ? "keep" : `copy ${Number(m.score).toFixed(2)}`;
        thumb.append(badge);
        const meta = document.createElement("div");
        meta.className = "meta";
        const idLine = document.createElement("div");
        idLine.className = "id";
        idLine.textContent = m.id;
        meta.append(idLine);
        if (m.width && m.height) {
          const size = document.createElement("div");
          size.className = "muted small";
          size.textContent = `${m.width}×${m.height}`;
          meta.append(size);
        }
        card.append(thumb, meta);
        card.addEventListener("click", () => {
          location.hash = "#/search";
          searchById(m);
        });
        row.append(card);
      }
      $("clusters").append(row);
    }
  }

  // ---- views and input ----------------------------------------------------------------

  function showView() {
    const view = (location.hash.match(/^#\/(\w+)/) || [])[1] || "search";
    const known = ["search", "duplicates", "people"].includes(view) ? view : "search";
    for (const section of document.querySelectorAll(".view")) {
      section.hidden = section.id !== `view-${known}`;
    }
    for (const link of document.querySelectorAll("nav.views a")) {
      link.classList.toggle("active", link.dataset.view === known);
      if (link.dataset.view === known) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  function imageFileOf(items) {
    for (const item of items || []) {
      if (item.kind === "file" && item.type.startsWith("image/")) return item.getAsFile();
    }
    return null;
  }

  function setupInput() {
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
    showView();
    loadCollections();
  });
})();
