// The duplicates view: clusters of copies, the image to keep first.

import { api, collectionPath, thumbnailPath } from "./http.js";
import { $, button, clearError, guarded, para, setEmpty, showError } from "./ui.js";
import { state } from "./state.js";
import { band, matchBoxes, tile } from "./results.js";
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
      "see it large; choose another image to keep, or delete a group's copies."));
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
  clusters.forEach((cluster, n) => $("clusters").append(clusterRow(cluster, n)));
}

// One cluster: its images (the kept one first), a way to keep another one instead, and
// deleting the copies after a confirmation.
export function clusterRow(cluster, n) {
  const thumbs = state.info && state.info.thumbnails;
  const row = document.createElement("section");
  row.className = "cluster";
  row.setAttribute("aria-label", `Group ${n + 1}`);
  let keep = (cluster.members.find((m) => m.role === "keep") || cluster.members[0]).id;
  const grid = document.createElement("div");
  grid.className = "cluster-grid";
  const tools = document.createElement("div");
  tools.className = "cluster-tools";
  const status = document.createElement("span");
  status.className = "muted small";
  status.setAttribute("aria-live", "polite");
  const members = [...cluster.members].sort((a, b) => (a.role === "keep" ? -1 : b.role === "keep" ? 1 : 0));
  const original = (cluster.members.find((m) => m.role === "keep") || members[0]).id;
  // "Not a copy": remembered by the collection (the pair with the image the grouping kept),
  // so later groupings leave it out.
  const dismiss = async (m) => {
    const name = state.collection;
    const other = m.id === original ? keep : original;
    const answer = await guarded(() => api("POST", collectionPath(name) + "/duplicates/dismissed",
      { ids: [other, m.id] }), (err) => showError(err, "Could not remember it"));
    if (!answer) return;
    members.splice(members.indexOf(m), 1);
    if (keep === m.id) keep = original;
    status.textContent = `“${m.id}” is not a copy of “${other}”: remembered.`;
    if (members.length < 2) {
      row.classList.add("done");
      remove.remove();
    }
    draw();
  };
  const draw = () => {
    grid.replaceChildren();
    for (const m of members) grid.append(memberCard(m, m.id === keep, thumbs, () => {
      keep = m.id;
      draw();
    }, members.length > 1 && m.id !== original ? () => dismiss(m) : null));
  };
  const remove = button("Delete copies…", async () => {
    const copies = members.map((m) => m.id).filter((id) => id !== keep);
    const ok = window.confirm(`Delete ${copies.length} cop${copies.length === 1 ? "y" : "ies"} ` +
      `of “${keep}” from “${state.collection}”?\n\n${copies.join("\n")}\n\nThe files themselves are not touched.`);
    if (!ok) return;
    remove.disabled = true;
    const name = state.collection;
    const answer = await guarded(() => api("POST", collectionPath(name) + "/records/delete", { ids: copies }),
      (err) => showError(err, "Delete failed"));
    if (!answer) {
      remove.disabled = false;
      return;
    }
    const gone = Object.values(answer.deleted || {}).filter(Boolean).length;
    row.classList.add("done");
    grid.replaceChildren();
    const kept = members.find((m) => m.id === keep);
    grid.append(memberCard({ ...kept, role: "keep" }, true, thumbs, null));
    status.textContent = `${gone} cop${gone === 1 ? "y" : "ies"} deleted; “${keep}” kept.`;
    remove.remove();
    await emit("records-deleted", name);
  }, "danger");
  draw();
  explain(original, members, draw);
  tools.append(remove, status);
  row.append(grid, tools);
  return row;
}

// Why the copies were grouped with the kept image: a copy search from it, limited to them,
// answers each copy's matching points and the region of it that matches.
async function explain(keep, members, redraw) {
  const copies = members.map((m) => m.id).filter((id) => id !== keep);
  if (!copies.length) return;
  const name = state.collection;
  let body;
  try {
    body = await api("POST", collectionPath(name) + "/search", {
      id: keep, signal: "duplicate", top_k: Math.min(1000, copies.length),
      filter: { id: { $in: copies } },
    });
  } catch (_) {
    return; // the grouping stands without its explanation
  }
  if (state.collection !== name) return;
  for (const r of body.results || []) {
    const m = members.find((x) => x.id === r.id);
    if (m && r.match) m.match = r.match;
  }
  redraw();
}

function memberCard(m, kept, thumbs, onKeep, onDismiss = null) {
  const wrap = document.createElement("div");
  wrap.className = "member";
  const card = document.createElement("button");
  card.type = "button";
  card.className = "card" + (kept ? " keep" : "");
  card.dataset.id = m.id;
  const thumb = tile(m.id, m.thumbnail_url || (thumbs ? thumbnailPath(state.collection, m.id) : null),
    { boxes: kept ? [] : matchBoxes(m.match) });
  const badge = document.createElement("span");
  badge.className = "badge " + (kept ? "keep" : band(m.score)[0]);
  badge.textContent = kept ? "keep" : `copy ${Number(m.score).toFixed(2)}`;
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
  if (!kept && m.match && typeof m.match.inliers === "number") {
    const why = document.createElement("div");
    why.className = "muted small why";
    why.textContent = `${m.match.inliers} matching points` +
      (Array.isArray(m.match.candidate_box) ? ", region outlined" : "");
    meta.append(why);
  }
  card.append(thumb, meta);
  card.addEventListener("click", () => emit("open", m));
  wrap.append(card);
  const tools = document.createElement("div");
  tools.className = "member-tools";
  if (onKeep && !kept) tools.append(button("Keep this one", onKeep, "quiet keep-this"));
  if (onDismiss) tools.append(button("Not a copy", onDismiss, "quiet keep-this"));
  if (tools.children.length) wrap.append(tools);
  return wrap;
}
