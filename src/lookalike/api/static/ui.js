// Shared page furniture: the error banner, empty states, the API key dialog.

import { ApiError, KEY_STORE } from "./http.js";
import { emit } from "./events.js";

export const $ = (id) => document.getElementById(id);

// ---- messages -----------------------------------------------------------------------

export function showError(err, context) {
  let text = err instanceof ApiError && err.status
    ? `${err.message} (${err.status} ${err.code})`
    : String(err.message || err);
  if (context) text = `${context}: ${text}`;
  $("banner-text").textContent = text;
  $("banner").hidden = false;
}

export function clearError() {
  $("banner").hidden = true;
  $("banner-text").textContent = "";
}

// Fills an empty-state box from a list of nodes and strings.
export function setEmpty(box, title, ...parts) {
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

export function para(...parts) {
  const p = document.createElement("p");
  for (const part of parts) p.append(part);
  return p;
}

export function code(text) {
  const c = document.createElement("code");
  c.textContent = text;
  return c;
}

export function button(label, onClick, cls) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  if (cls) b.className = cls;
  b.addEventListener("click", onClick);
  return b;
}
// ---- API key ------------------------------------------------------------------------

let keyPrompt = null;

export function askForKey(err) {
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

export function setupKeyDialog() {
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
      emit("key-changed");
    }
  });
}
// Runs `task`; on 401/403 asks for a key and runs it again; any other error goes to the banner.
export async function guarded(task, onError) {
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
