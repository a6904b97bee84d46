// The duplicates view: clusters of copies, the image to keep first.

import { api, collectionPath, thumbnailPath } from "./http.js";
import { $, clearError, guarded, para, setEmpty, showError } from "./ui.js";
import { state } from "./state.js";
import { band, tile } from "./results.js";
import { emit } from "./events.js";

// ---- duplicates ---------------------------------------------------------------------

export function showDuplicatesIntro() {
  const box = $("duplicates-empty");
  if (!state.collection) {
    setEmpty(box, "No collection", para("Create a collection and add images first."));
    return;
  }
  setEmpty(box, `Duplicates in “${state.collection}”`,
    para("Groups the near-duplicates and copies (resized, cropped, recompressed, captioned) " +
      "of the collection, and says which image of each group to keep. Click an image to " +
      "see it large."));
}

export async function findDuplicates() {
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

export function renderClusters(clusters) {
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
      card.title = `${m.id}${m.source ? "\nsource: " + m.source : ""}\nClick for details`;
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
      card.addEventListener("click", () => emit("open", m));
      row.append(card);
    }
    $("clusters").append(row);
  }
}
