// The people view: the faces of a collection grouped into people (the faces signal), each
// shown by a face, named in place, and opened as a search for every photo of them.

import { api, collectionPath, thumbnailPath } from "./http.js";
import { $, clearError, code, guarded, para, setEmpty, showError } from "./ui.js";
import { state } from "./state.js";
import { personName, tile } from "./results.js";
import { emit } from "./events.js";
import { frame } from "./tiles.js";

export const hasSignal = (name) =>
  Boolean(state.info && Array.isArray(state.info.signals) && state.info.signals.includes(name));

// People ticked for merging, in the order they were ticked: the first keeps its id.
let selected = [];

const plural = (n, one, many) => `${n.toLocaleString()} ${n === 1 ? one : many}`;
const peoplePath = (name) => collectionPath(name) + "/people";

export function clearPeople() {
  state.people = null;
  selected = [];
  updateMerge();
  $("people").replaceChildren();
  $("people-summary").textContent = "";
  $("people-report").textContent = "";
  $("people-tools").hidden = true;
}

// Shows what the view can show for the collection in force: the people, or why there are none.
export async function showPeople() {
  const name = state.collection;
  clearPeople();
  const box = $("people-empty");
  if (!name) {
    setEmpty(box, "People", para("Create a collection and add images first."));
    return;
  }
  if (!state.info) return; // still loading; chooseCollection calls again
  if (!hasSignal("faces")) {
    setEmpty(box, `No faces in “${name}”`,
      para("Finding every photo of a person needs the ", code("faces"), " signal, which this " +
        "collection was made without. Index the images into a collection that has it:"),
      para(code(`lookalike index FOLDER --collection people --signals semantic,duplicate,faces`)),
      para("(it needs ", code('pip install "lookalike[faces]"'), " on the server). Its " +
        "faces are then grouped into people here."));
    return;
  }
  $("people-tools").hidden = false;
  setEmpty(box, null);
  await loadPeople();
}

export async function loadPeople() {
  const name = state.collection;
  $("people-summary").textContent = "Loading people…";
  const people = await guarded(() => api("GET", peoplePath(name)), (err) => {
    $("people-summary").textContent = "";
    showError(err, "People failed");
  });
  if (people === undefined || state.collection !== name) return;
  state.people = Array.isArray(people) ? people : people.people || [];
  renderPeople(state.people);
}

export function renderPeople(people) {
  const list = $("people");
  list.replaceChildren();
  selected = [];
  updateMerge();
  const faces = people.reduce((n, p) => n + (p.faces || 0), 0);
  $("people-summary").textContent = people.length
    ? `${plural(people.length, "person", "people")}, ${plural(faces, "face", "faces")}` : "";
  if (!people.length) {
    setEmpty($("people-empty"), "No people yet",
      para("The faces of this collection have not been grouped into people. “Group faces” " +
        "does it; after that, new images join their people as they are indexed."));
    return;
  }
  setEmpty($("people-empty"), null);
  for (const person of people) list.append(personCard(person));
}

function personCard(person) {
  const li = document.createElement("li");
  li.className = "person";
  li.dataset.id = String(person.id);
  const card = document.createElement("button");
  card.type = "button";
  card.className = "card face";
  card.title = `Every photo of ${personName(person.id, person.name)}`;
  const sample = (person.sample || [])[0];
  const thumbs = state.info && state.info.thumbnails && sample;
  const view = {};
  const thumb = tile(personName(person.id, person.name),
    thumbs ? thumbnailPath(state.collection, sample) : null, view);
  if (thumbs) cropToFace(thumb, view, sample, person.id);
  card.append(thumb);
  card.addEventListener("click", () => {
    location.hash = "#/search";
    emit("search-person", person);
  });

  const meta = document.createElement("div");
  meta.className = "meta";
  meta.append(nameLine(person));
  const counts = document.createElement("div");
  counts.className = "counts muted small";
  const numbers = document.createElement("span");
  numbers.className = "numbers";
  numbers.textContent = `${plural(person.records, "photo", "photos")}` +
    (person.faces !== person.records ? ` · ${plural(person.faces, "face", "faces")}` : "");
  counts.append(numbers);
  const pick = document.createElement("label");
  pick.className = "pick muted small";
  const box = document.createElement("input");
  box.type = "checkbox";
  box.addEventListener("change", () => {
    selected = selected.filter((id) => id !== person.id);
    if (box.checked) selected.push(person.id);
    updateMerge();
  });
  box.setAttribute("aria-label", `Select ${personName(person.id, person.name)} to merge`);
  pick.title = "Select to merge with other people";
  pick.append(box);
  counts.append(pick);
  meta.append(counts);
  li.append(card, meta);
  return li;
}

function updateMerge() {
  const button = $("people-merge");
  button.disabled = selected.length < 2;
  button.textContent = selected.length >= 2 ? `Merge ${selected.length} people` : "Merge selected";
}

export async function mergeSelected() {
  const name = state.collection;
  if (selected.length < 2) return;
  clearError();
  const people = [...selected];
  const merged = await guarded(() => api("POST", peoplePath(name) + "/merge", { people }),
    (err) => showError(err, "Merge failed"));
  if (merged === undefined || state.collection !== name) return;
  await loadPeople();
  $("people-report").textContent =
    `${people.length} people merged into ${personName(merged.id, merged.name)}.`;
}

// The sample record's face of this person decides the crop; the record says where it is.
// `view` is the one the tile frames its image with, whichever of the two arrives first.
async function cropToFace(thumb, view, recordId, personId) {
  let record;
  try {
    record = await api("GET", collectionPath(state.collection) + "/records/" + encodeURIComponent(recordId));
  } catch (_) {
    return; // the whole photo then
  }
  const face = (record.faces || []).find((f) => f.person === personId);
  if (!face) return;
  view.crop = face.box;
  const img = thumb.querySelector("img");
  if (img && img.complete && img.naturalWidth) frame(thumb, img, view);
}

function nameLine(person) {
  const row = document.createElement("div");
  row.className = "name-row";
  const label = document.createElement("span");
  label.className = "name" + (person.name ? "" : " unnamed");
  label.textContent = personName(person.id, person.name);
  const edit = document.createElement("button");
  edit.type = "button";
  edit.className = "quiet rename";
  edit.textContent = "Rename";
  edit.setAttribute("aria-label", `Rename ${personName(person.id, person.name)}`);
  edit.addEventListener("click", () => startRename(row, person));
  label.addEventListener("dblclick", () => startRename(row, person));
  row.append(label, edit);
  return row;
}

function startRename(row, person) {
  const form = document.createElement("form");
  form.className = "rename-form";
  const input = document.createElement("input");
  input.type = "text";
  input.value = person.name || "";
  input.placeholder = `Person ${person.id}`;
  input.setAttribute("aria-label", `Name of person ${person.id}`);
  input.autocomplete = "off";
  form.append(input);
  let done = false;
  const finish = async (save) => {
    if (done) return;
    done = true;
    const name = input.value.trim();
    if (!save || name === (person.name || "")) {
      form.replaceWith(nameLine(person));
      return;
    }
    clearError();
    const answer = await guarded(
      () => api("PATCH", peoplePath(state.collection) + "/" + person.id, { name: name || null }),
      (err) => showError(err, "Rename failed"));
    if (answer === undefined) {
      done = false; // stay in the field, so the name can be fixed
      input.focus();
      return;
    }
    await loadPeople();
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    finish(true);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      e.preventDefault();
      finish(false);
    }
  });
  input.addEventListener("blur", () => finish(true));
  row.replaceWith(form);
  input.focus();
  input.select();
}

export async function groupFaces() {
  const name = state.collection;
  if (!name) {
    showError(new Error("Pick a collection first."));
    return;
  }
  clearError();
  const full = $("people-full").checked;
  $("people-cluster").disabled = true;
  $("people-summary").textContent = full ? "Regrouping every face…" : "Grouping faces…";
  const report = await guarded(() => api("POST", peoplePath(name) + "/cluster", { full }),
    (err) => showError(err, "Grouping failed"));
  $("people-cluster").disabled = false;
  if (state.collection !== name) return;
  if (report === undefined) {
    $("people-summary").textContent = "";
    return;
  }
  await loadPeople();
  const joined = report.joined ? `, ${report.joined} joined known people` : "";
  $("people-report").textContent =
    `${plural(report.faces, "face", "faces")} grouped${joined}, ` +
    `${plural(report.new_people, "new person", "new people")} ` +
    `in ${Number(report.seconds).toFixed(1)} s.`;
}

export function setupPeople() {
  $("people-cluster").addEventListener("click", groupFaces);
  $("people-merge").addEventListener("click", mergeSelected);
}
