// Filters without JSON: controls built from what the collection's records hold
// (GET /collections/{name}/fields): capture dates, camera, person, place and radius, the
// moderation verdict and the metadata fields with their values. They write the filter JSON
// into the Filter box, which stays editable; "filter-changed" tells the views to run again.

import { api, collectionPath } from "./http.js";
import { $, button, guarded } from "./ui.js";
import { state } from "./state.js";
import { emit } from "./events.js";

// Record fields a metadata key must not be mistaken for (docs/filters.md): those get the
// "metadata." prefix.
const RECORD_FIELDS = new Set(["id", "group", "source", "content_hash", "width", "height",
  "indexed_at", "model", "metadata", "people", "faces_pending", "faces", "safe", "nsfw",
  "moderation", "exif", "duplicate_of", "ocr_text", "path", "format", "objects"]);
export const MAX_METADATA_FIELDS = 12;

let summary = null; // the collection's fields, once loaded
let loadedFor = null;
const controls = []; // [{apply(filter)}] in display order

const hasSignal = (name) =>
  Boolean(state.info && Array.isArray(state.info.signals) && state.info.signals.includes(name));

export function clearFilterControls() {
  summary = null;
  loadedFor = null;
  controls.length = 0;
  $("filter-builder").replaceChildren();
  $("filter-controls").open = false;
}

// Loads the collection's fields and builds the controls (on first opening of the panel).
export async function showFilterControls() {
  const name = state.collection;
  if (!name || loadedFor === name) return;
  loadedFor = name;
  const box = $("filter-builder");
  box.replaceChildren(note("Reading the collection's fields…"));
  const fields = await guarded(() => api("GET", collectionPath(name) + "/fields"));
  let people = [];
  if (hasSignal("faces")) {
    people = (await guarded(() => api("GET", collectionPath(name) + "/people"))) || [];
  }
  if (state.collection !== name) return;
  summary = fields || null;
  build(summary, people);
}

function note(text) {
  const p = document.createElement("p");
  p.className = "muted small";
  p.textContent = text;
  return p;
}

function row(labelText, ...inputs) {
  const div = document.createElement("div");
  div.className = "filter-row";
  const label = document.createElement("span");
  label.className = "filter-label";
  label.textContent = labelText;
  div.append(label, ...inputs);
  $("filter-builder").append(div);
  return div;
}

function input(type, id, label, attrs = {}) {
  const el = document.createElement("input");
  el.type = type;
  el.id = id;
  el.setAttribute("aria-label", label);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.addEventListener("change", changed);
  return el;
}

function select(id, label, options) {
  const el = document.createElement("select");
  el.id = id;
  el.setAttribute("aria-label", label);
  const any = document.createElement("option");
  any.value = "";
  any.textContent = "any";
  el.append(any);
  options.forEach(([text], i) => {
    const option = document.createElement("option");
    option.value = String(i);
    option.textContent = text;
    el.append(option);
  });
  el.addEventListener("change", changed);
  return el;
}

const metaKey = (key) => (RECORD_FIELDS.has(key.split(".")[0]) ? `metadata.${key}` : key);
const numberOrNull = (el) => (el.value.trim() === "" ? null : Number(el.value));

function build(s, people) {
  const box = $("filter-builder");
  box.replaceChildren();
  controls.length = 0;
  if (!s || !s.records) {
    box.append(note("No images yet: nothing to filter on."));
    return;
  }
  if (s.taken) {
    const from = input("date", "f-from", "Taken from", { min: s.taken.first.slice(0, 10), max: s.taken.last.slice(0, 10) });
    const to = input("date", "f-to", "Taken until", { min: s.taken.first.slice(0, 10), max: s.taken.last.slice(0, 10) });
    row("Taken", from, " to ", to);
    controls.push((f) => {
      const range = {};
      if (from.value) range.$gte = from.value;
      if (to.value) range.$lte = `${to.value}T23:59:59`;
      if (Object.keys(range).length) f["exif.taken_at"] = range;
    });
  }
  if (s.cameras && s.cameras.length) {
    const options = s.cameras.map((c) => [`${[c.make, c.model].filter(Boolean).join(" ")} (${c.count})`, c]);
    const pick = select("f-camera", "Camera", options);
    row("Camera", pick);
    controls.push((f) => {
      if (pick.value === "") return;
      const c = options[Number(pick.value)][1];
      if (c.make) f["exif.make"] = c.make;
      if (c.model) f["exif.model"] = c.model;
    });
  }
  if (people && people.length) {
    const options = people.map((p) => [`${p.name || `Person ${p.id}`} (${p.records})`, p.id]);
    const pick = select("f-person", "Person", options);
    row("Person", pick);
    controls.push((f) => {
      if (pick.value !== "") f.people = options[Number(pick.value)][1];
    });
  }
  if (s.located) {
    const km = input("number", "f-radius", "Within kilometres", { min: "0.1", step: "any", placeholder: "km" });
    const lat = input("number", "f-lat", "Latitude", { step: "any", min: "-90", max: "90", placeholder: "latitude" });
    const lon = input("number", "f-lon", "Longitude", { step: "any", min: "-180", max: "180", placeholder: "longitude" });
    row("Place", "within ", km, " km of ", lat, lon);
    controls.push((f) => {
      const [r, y, x] = [numberOrNull(km), numberOrNull(lat), numberOrNull(lon)];
      if (r === null || y === null || x === null) return;
      f["exif.location"] = { $near: { $geometry: { type: "Point", coordinates: [x, y] }, $maxDistance: Math.round(r * 1000) } };
    });
  }
  if (s.safe) {
    const safe = input("checkbox", "f-safe", "Only images judged safe");
    const label = document.createElement("label");
    label.className = "check";
    label.append(safe, ` only images judged safe (${s.safe.unsafe} flagged)`);
    row("Safe", label);
    controls.push((f) => {
      if (safe.checked) f.safe = true;
    });
  }
  const keys = Object.keys(s.metadata || {}).slice(0, MAX_METADATA_FIELDS);
  keys.forEach((key, n) => {
    const field = s.metadata[key];
    const id = `f-meta-${n}`;
    if (field.kind === "number") {
      const lo = input("number", `${id}-min`, `${key} from`, { step: "any", placeholder: String(field.min) });
      const hi = input("number", `${id}-max`, `${key} to`, { step: "any", placeholder: String(field.max) });
      row(key, lo, " to ", hi);
      controls.push((f) => {
        const range = {};
        if (numberOrNull(lo) !== null) range.$gte = numberOrNull(lo);
        if (numberOrNull(hi) !== null) range.$lte = numberOrNull(hi);
        if (Object.keys(range).length) f[metaKey(key)] = range;
      });
    } else {
      const options = field.values.map((v) => [`${v.value} (${v.count})`, v.value]);
      const pick = select(id, key, options);
      row(key, pick);
      if (field.distinct > field.values.length) row("", note(`${field.distinct - field.values.length} more values: write them in the JSON`));
      controls.push((f) => {
        if (pick.value !== "") f[metaKey(key)] = options[Number(pick.value)][1];
      });
    }
  });
  if (!controls.length) box.append(note("These records hold no fields to filter on."));
  const actions = document.createElement("div");
  actions.className = "filter-row";
  actions.append(button("Clear filters", () => {
    for (const el of box.querySelectorAll("input, select")) {
      if (el.type === "checkbox") el.checked = false;
      else el.value = "";
    }
    changed();
  }, "quiet"));
  box.append(actions);
}

// The filter the controls say; {} when none is set.
export function builtFilter() {
  const f = {};
  for (const apply of controls) apply(f);
  return f;
}

function changed() {
  const f = builtFilter();
  $("query-filter").value = Object.keys(f).length ? JSON.stringify(f) : "";
  emit("filter-changed");
}

// Photos near a place (the viewer's action): the place controls set, a 1 km radius.
export async function filterNear(point) {
  $("filter-controls").open = true;
  await showFilterControls();
  const [km, lat, lon] = ["f-radius", "f-lat", "f-lon"].map($);
  if (!km) return;
  if (!km.value) km.value = "1";
  lat.value = String(point.lat);
  lon.value = String(point.lon);
  changed();
}

export function setupFilterControls() {
  $("filter-controls").addEventListener("toggle", () => {
    if ($("filter-controls").open) showFilterControls();
  });
}
