// The results grid: square tiles with score badges; thumbnails fetched with the key.

import { authHeaders } from "./http.js";
import { $, para, setEmpty } from "./ui.js";
import { state } from "./state.js";
import { emit } from "./events.js";
import { frame } from "./tiles.js";

// ---- results ------------------------------------------------------------------------

export function clearResults() {
  for (const url of state.objectUrls) URL.revokeObjectURL(url);
  state.objectUrls = [];
  $("results").replaceChildren();
  $("results").removeAttribute("aria-busy");
}

export function band(score) {
  if (score >= 0.9) return ["same", "the same photo"];
  if (score >= 0.75) return ["close", "very similar"];
  if (score >= 0.6) return ["related", "related"];
  return ["far", "weakly related"];
}

// The file name a record came from ("upload:cat.jpg", a path or a URL), for display; none
// for inline data ("base64").
export function sourceName(source) {
  if (!source || !/^upload:|[\\/]/.test(source)) return "";
  const plain = String(source).replace(/^upload:/, "").replace(/[?#].*$/, "");
  return plain.split(/[\\/]/).filter(Boolean).pop() || plain;
}

export function formatValue(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

// A square tile: the thumbnail when there is one, else a neutral placeholder with the id.
// `view` may crop it to a face or outline boxes on it (tiles.js), or veil it (`hidden`).
export function tile(id, url, view = {}) {
  const box = document.createElement("div");
  box.className = "thumb";
  const placeholder = document.createElement("span");
  placeholder.className = "placeholder";
  placeholder.textContent = id;
  box.append(placeholder);
  if (view.hidden) veil(box);
  if (url) {
    loadThumbnail(url).then((src) => {
      if (!src) return;
      const img = document.createElement("img");
      img.alt = id;
      img.addEventListener("load", () => frame(box, img, view), { once: true });
      img.src = src;
      placeholder.replaceWith(img);
    });
  }
  return box;
}

// Unsafe images (moderation) stay blurred under a label until clicked.
export function veil(thumb) {
  thumb.classList.add("veiled");
  const label = document.createElement("span");
  label.className = "veil";
  label.textContent = "hidden: flagged unsafe";
  const hint = document.createElement("small");
  hint.textContent = "click to show";
  label.append(hint);
  thumb.append(label);
}

export function unveil(thumb) {
  thumb.classList.remove("veiled");
  thumb.querySelector(".veil")?.remove();
}

export const personName = (id, name) => name || `Person ${id}`;

// What to outline on a result: the matched face, the matched lines of text, the copied region.
export function matchBoxes(match) {
  if (!match) return [];
  const boxes = [];
  if (Array.isArray(match.box)) {
    const who = match.person == null ? "" : ` of ${personName(match.person, match.name)}`;
    boxes.push({ box: match.box, cls: "face", title: `matched face${who}` });
  }
  for (const line of Array.isArray(match.lines) ? match.lines : []) {
    boxes.push({ box: line.box, cls: "line", title: line.text });
  }
  if (Array.isArray(match.candidate_box)) {
    boxes.push({ box: match.candidate_box, cls: "region", title: "the copied region" });
  }
  return boxes;
}

// A line of text read in the image, the query's words in it marked.
export function markedLine(text, words) {
  const wanted = (words || []).map((w) => String(w).toLocaleLowerCase());
  const hit = (token) => {
    const t = token.toLocaleLowerCase();
    return wanted.some((w) => t === w || (w.length >= 4 && t.length >= 4 && (t.startsWith(w) || w.startsWith(t))));
  };
  const div = document.createElement("div");
  div.className = "line";
  for (const part of String(text).split(/([\p{L}\p{N}]+)/u)) {
    if (!part) continue;
    if (/[\p{L}\p{N}]/u.test(part) && hit(part)) {
      const mark = document.createElement("mark");
      mark.textContent = part;
      div.append(mark);
    } else {
      div.append(part);
    }
  }
  return div;
}

export function renderResults(results) {
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
      "\nClick for details and more like this";

    const url = result.thumbnail_url || null;
    const hidden = result.safe === false;
    const thumb = tile(result.id, url, { boxes: matchBoxes(result.match), hidden });
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
    const match = result.match || {};
    if (match.person != null) {
      const who = document.createElement("div");
      who.className = "who";
      who.textContent = personName(match.person, match.name);
      meta.append(who);
    }
    if (Array.isArray(match.lines) && match.lines.length) {
      const lines = document.createElement("div");
      lines.className = "lines";
      for (const line of match.lines.slice(0, 3)) lines.append(markedLine(line.text, line.words));
      meta.append(lines);
    }
    card.append(meta);
    if (hidden) card.title = "Flagged unsafe by the moderation signal: click to show\n" + card.title;
    card.addEventListener("click", () => {
      if (thumb.classList.contains("veiled")) {
        unveil(thumb);
        card.title = card.title.split("\n").slice(1).join("\n");
        return;
      }
      emit("open", result);
    });
    li.append(card);
    list.append(li);
  }
}

// Thumbnails need the API key when the server has keys, so they come through fetch as blobs.
// With `shared`, the URL is revoked when the results are cleared; else the caller owns it.
export async function loadThumbnail(url, shared = true) {
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
