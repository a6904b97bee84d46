// The New collection dialog: a name, the signals (what the collection can find), the semantic
// model and thumbnails, from what the server offers (GET /catalog).

import { api } from "./http.js";
import { $, guarded } from "./ui.js";
import { emit } from "./events.js";

// What each signal lets the collection do, in the user's words.
const SIGNAL_WORDS = {
  semantic: "similar images and search by words",
  duplicate: "copies: resized, cropped, recompressed",
  faces: "faces and people (needs the faces extra)",
  text: "words written in the images (needs the ocr extra)",
  moderation: "flags unsafe images (needs the moderation extra)",
  exif: "capture time, camera and place",
};

let catalog = null;

async function loadCatalog() {
  if (catalog) return catalog;
  catalog = await guarded(() => api("GET", "catalog"), () => {});
  return catalog;
}

function fillChoices(cat) {
  const box = $("collection-signals");
  for (const old of box.querySelectorAll("label")) old.remove();
  const signals = cat ? cat.signals : ["semantic", "duplicate"];
  const chosen = new Set(cat ? cat.default_signals : signals);
  for (const name of signals) {
    const label = document.createElement("label");
    label.className = "check";
    const input = document.createElement("input");
    input.type = "checkbox";
    input.name = "signal";
    input.value = name;
    input.checked = chosen.has(name);
    input.addEventListener("change", modelForSignals);
    const words = document.createElement("span");
    words.className = "muted";
    words.textContent = SIGNAL_WORDS[name] || "";
    label.append(input, ` ${name} `, words);
    box.append(label);
  }
  const model = $("collection-model");
  model.replaceChildren();
  for (const m of (cat && cat.models) || []) {
    const option = document.createElement("option");
    option.value = m.name;
    option.textContent = m.name + (m.name === cat.default_model ? " (server default)" : "");
    option.title = m.description;
    model.append(option);
  }
  if (cat && ![...model.options].some((o) => o.value === cat.default_model)) {
    const option = document.createElement("option");
    option.value = cat.default_model;
    option.textContent = `${cat.default_model} (server default)`;
    model.prepend(option);
  }
  if (cat) model.value = cat.default_model;
  modelForSignals();
}

const chosenSignals = () =>
  [...$("collection-signals").querySelectorAll("input:checked")].map((i) => i.value);

// The model only matters to the semantic signal.
function modelForSignals() {
  $("collection-model").disabled = !chosenSignals().includes("semantic");
}

export async function openCollectionDialog() {
  $("collection-name").value = "";
  $("collection-error").hidden = true;
  $("collection-dialog").showModal();
  fillChoices(await loadCatalog());
}

export function setupCollectionDialog() {
  const dialog = $("collection-dialog");
  $("new-collection").addEventListener("click", openCollectionDialog);
  $("collection-cancel").addEventListener("click", () => dialog.close());
  $("collection-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = $("collection-name").value.trim();
    const signals = chosenSignals();
    const body = { name, thumbnails: $("collection-thumbnails").checked };
    if ($("collection-signals").querySelector("input")) body.signals = signals;
    if (signals.includes("semantic") && $("collection-model").value) body.model = $("collection-model").value;
    const created = await guarded(() => api("POST", "collections", body), (err) => {
      $("collection-error").textContent = err.message;
      $("collection-error").hidden = false;
    });
    if (created === undefined) return;
    dialog.close();
    await emit("collection-created", name);
  });
}
