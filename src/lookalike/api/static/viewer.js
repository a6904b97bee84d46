// The viewer: one record large, with everything the collection knows of it (scores, metadata,
// EXIF, faces and their people, text read in it, moderation labels) and what to do next. It is
// the tap-friendly place for the details a tile only hints at.

import { api, collectionPath, thumbnailPath } from "./http.js";
import { $, button, guarded } from "./ui.js";
import { state } from "./state.js";
import { band, formatValue, loadThumbnail, personName, sourceName } from "./results.js";
import { outline } from "./tiles.js";
import { emit } from "./events.js";
import { readRoute, saveRoute } from "./route.js";

const WHOLE = { x: 0, y: 0, w: 1, h: 1 };
let pushed = false; // the viewer's history entry is ours: closing goes Back
let seq = 0;

const hasSignal = (name) =>
  Boolean(state.info && Array.isArray(state.info.signals) && state.info.signals.includes(name));

// Opens `record` ({id} and, from a search, its result: score, scores, match).
export async function openViewer(record, { push = true } = {}) {
  if (!state.collection || !record || !record.id) return;
  const dialog = $("viewer");
  if (push) {
    saveRoute({ ...readRoute(), open: record.id });
    pushed = true;
  }
  const mine = ++seq;
  state.viewing = record.id;
  $("viewer-title").textContent = sourceName(record.source) || record.id;
  $("viewer-actions").replaceChildren();
  $("viewer-details").replaceChildren();
  $("viewer-image").replaceChildren();
  if (!dialog.open) dialog.showModal();
  const name = state.collection;
  const full = await guarded(() =>
    api("GET", `${collectionPath(name)}/records/${encodeURIComponent(record.id)}`));
  if (mine !== seq || !dialog.open) return;
  if (!full) {
    closeViewer();
    return;
  }
  if (hasSignal("faces") && !state.people && (full.faces || []).some((f) => f.person != null)) {
    const people = await guarded(() => api("GET", collectionPath(name) + "/people"));
    if (people) state.people = people;
    if (mine !== seq) return;
  }
  render({ ...full, ...pick(record, ["score", "scores", "match"]) });
}

const pick = (o, keys) => Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));

export function closeViewer({ push = true } = {}) {
  const dialog = $("viewer");
  seq += 1;
  state.viewing = null;
  if (dialog.open) dialog.close();
  if (!push) {
    pushed = false;
    return;
  }
  if (readRoute().open) {
    if (pushed) history.back();
    else {
      const route = readRoute();
      delete route.open;
      saveRoute(route, { replace: true });
    }
  }
  pushed = false;
}

function peopleName(id) {
  const person = (state.people || []).find((p) => p.id === id);
  return personName(id, person && person.name);
}

function section(title, ...nodes) {
  const box = document.createElement("section");
  const h = document.createElement("h3");
  h.textContent = title;
  box.append(h, ...nodes);
  $("viewer-details").append(box);
  return box;
}

function fields(entries) {
  const dl = document.createElement("dl");
  dl.className = "fields-list";
  for (const [k, v] of entries) {
    if (v === null || v === undefined || v === "") continue;
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = formatValue(v);
    dl.append(dt, dd);
  }
  return dl;
}

// A box on the viewer's image that searches by what it outlines, by mouse or keyboard.
function pickable(mark, label, search) {
  if (!mark) return;
  mark.classList.add("pick");
  mark.setAttribute("role", "button");
  mark.tabIndex = 0;
  mark.setAttribute("aria-label", label);
  mark.title = label;
  const go = () => {
    closeViewer({ push: false });
    search();
  };
  mark.addEventListener("click", go);
  mark.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      go();
    }
  });
}

function render(r) {
  const thumbs = state.info && state.info.thumbnails;
  const frameBox = $("viewer-image");
  const holder = document.createElement("div");
  holder.className = "viewer-frame";
  frameBox.append(holder);
  if (thumbs) {
    loadThumbnail(thumbnailPath(state.collection, r.id)).then((src) => {
      if (!src) return;
      const img = document.createElement("img");
      img.alt = sourceName(r.source) || r.id;
      img.src = src;
      holder.prepend(img);
      img.addEventListener("load", () => {
        (r.faces || []).forEach((f, i) => pickable(outline(holder, f.box, WHOLE, "face",
          f.person != null ? peopleName(f.person) : "a face"), "Search by this face",
        () => emit("search-id", r, "faces", { face: i })));
        (r.objects || []).forEach((o) => pickable(outline(holder, o.box, WHOLE, "object", o.label),
          `Search by this ${o.label || "object"}`,
          () => emit("search-region", r, o.box, hasSignal("objects") ? "objects" : "")));
        if (r.match && Array.isArray(r.match.candidate_box)) {
          outline(holder, r.match.candidate_box, WHOLE, "region", "the copied region");
        }
        for (const line of (r.match && r.match.lines) || []) outline(holder, line.box, WHOLE, "line", line.text);
      }, { once: true });
    });
  } else {
    const none = document.createElement("p");
    none.className = "placeholder";
    none.textContent = `${r.id} (the collection keeps no thumbnails)`;
    holder.append(none);
  }

  const actions = $("viewer-actions");
  const act = (label, fn) => actions.append(button(label, () => {
    closeViewer({ push: false });
    fn();
  }));
  act("More like this", () => emit("search-id", r, hasSignal("semantic") ? "semantic" : ""));
  if (hasSignal("duplicate")) act("Find copies", () => emit("search-id", r, "duplicate"));
  const people = [...new Set((r.faces || []).map((f) => f.person).filter((p) => p != null))];
  for (const id of people) {
    act(`Photos of ${peopleName(id)}`, () => emit("search-person", { id, name: null }));
  }
  const place = r.exif && r.exif.location;
  if (place) act("Photos taken near here", () => emit("near", place));
  const original = /^https?:\/\//i.test(r.source || "") ? r.source : null;
  if (original || thumbs) {
    const link = document.createElement("a");
    link.className = "button quiet";
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.textContent = original ? "Open original" : "Open image";
    if (original) link.href = original;
    else {
      link.href = "#";
      link.addEventListener("click", async (e) => {
        e.preventDefault();
        const src = await loadThumbnail(thumbnailPath(state.collection, r.id), false);
        if (src) window.open(src, "_blank", "noopener");
      });
    }
    actions.append(link);
  }

  if (typeof r.score === "number") {
    const [cls, words] = band(r.score);
    const badge = document.createElement("span");
    badge.className = `badge inline ${cls}`;
    badge.textContent = r.score.toFixed(3);
    const p = document.createElement("p");
    p.append(badge, ` ${words}`);
    const scores = Object.entries(r.scores || {}).map(([k, v]) => [k, Number(v).toFixed(3)]);
    const match = r.match || {};
    if (typeof match.inliers === "number") scores.push(["matching points", match.inliers]);
    section("Score", p, fields(scores));
  }
  section("Record", fields([
    ["id", r.id],
    ["source", r.source],
    ["size", r.width && r.height ? `${r.width}×${r.height}${r.format ? " " + r.format : ""}` : null],
    ["group", r.group],
    ["indexed", r.indexed_at],
    ["copy of", r.duplicate_of],
  ]));
  const meta = Object.entries(r.metadata || {});
  if (meta.length) section("Metadata", fields(meta));
  const exif = r.exif || {};
  if (Object.keys(exif).length) {
    const place = exif.location ? `${exif.location.lat}, ${exif.location.lon}` : null;
    section("Camera (EXIF)", fields([
      ["taken", exif.taken_at],
      ["camera", [exif.make, exif.model].filter(Boolean).join(" ")],
      ["lens", exif.lens],
      ["place", place],
      ["altitude", exif.altitude != null ? `${exif.altitude} m` : null],
    ]));
  }
  if ((r.faces || []).length) {
    const list = document.createElement("ul");
    list.className = "plain";
    for (const f of r.faces) {
      const li = document.createElement("li");
      li.textContent = f.person != null ? peopleName(f.person) : "not grouped yet";
      list.append(li);
    }
    section(`Faces (${r.faces.length})`, list);
  }
  if (r.ocr_text) {
    const lines = document.createElement("div");
    lines.className = "ocr";
    for (const line of String(r.ocr_text).split("\n")) {
      const div = document.createElement("div");
      div.textContent = line;
      lines.append(div);
    }
    section("Text in the image", lines);
  }
  if (r.safe !== undefined || r.moderation) {
    const labels = ((r.moderation && r.moderation.labels) || [])
      .map((l) => `${l.label || l.class || "label"} ${Number(l.score || 0).toFixed(2)}`);
    section("Moderation", fields([
      ["verdict", r.safe === false ? "unsafe" : "safe"],
      ["nsfw score", typeof r.nsfw === "number" ? r.nsfw.toFixed(3) : null],
      ["labels", labels.join(", ") || "none"],
    ]));
  }
}

export function setupViewer() {
  const dialog = $("viewer");
  $("viewer-close").addEventListener("click", () => closeViewer());
  dialog.addEventListener("cancel", (e) => {
    e.preventDefault();
    closeViewer();
  });
  dialog.addEventListener("click", (e) => {
    if (e.target === dialog) closeViewer(); // the backdrop
  });
}
