// Draw a box on the query image to search only that part of it (a region query): one product
// in a room photo. The box is sent as fractions of the image, so it means the same part of the
// picture whatever size the server decodes it at.

import { $ } from "./ui.js";

const MIN_SIDE = 8; // pixels on screen: a smaller drag is a click

// The part of the preview element the picture fills (object-fit: contain letterboxes it).
function shown(img) {
  const rect = img.getBoundingClientRect();
  const scale = Math.min(rect.width / img.naturalWidth, rect.height / img.naturalHeight);
  const width = img.naturalWidth * scale;
  const height = img.naturalHeight * scale;
  return {
    left: rect.left + (rect.width - width) / 2,
    top: rect.top + (rect.height - height) / 2,
    width,
    height,
    rect,
  };
}

const clamp = (v) => Math.min(1, Math.max(0, v));

// `onRegion([left, top, right, bottom])` runs when a box is drawn, in fractions of the image.
export function setupRegion(onRegion) {
  const img = $("query-preview");
  const box = $("region-box");
  let start = null;
  let area = null;
  let dragged = false;

  const place = (a, b) => {
    const left = Math.min(a.x, b.x);
    const top = Math.min(a.y, b.y);
    box.style.left = `${left - area.rect.left}px`;
    box.style.top = `${top - area.rect.top}px`;
    box.style.width = `${Math.abs(a.x - b.x)}px`;
    box.style.height = `${Math.abs(a.y - b.y)}px`;
  };
  const inside = (e) => ({
    x: Math.min(area.left + area.width, Math.max(area.left, e.clientX)),
    y: Math.min(area.top + area.height, Math.max(area.top, e.clientY)),
  });

  img.addEventListener("pointerdown", (e) => {
    if (img.hidden || !img.naturalWidth || e.button !== 0) return;
    e.preventDefault();
    area = shown(img);
    start = inside(e);
    dragged = false;
    img.setPointerCapture(e.pointerId);
  });
  img.addEventListener("pointermove", (e) => {
    if (!start) return;
    const end = inside(e);
    if (!dragged && Math.abs(end.x - start.x) < MIN_SIDE && Math.abs(end.y - start.y) < MIN_SIDE) return;
    dragged = true;
    box.hidden = false;
    place(start, end);
  });
  img.addEventListener("pointerup", (e) => {
    if (!start) return;
    const end = inside(e);
    const from = start;
    start = null;
    if (!dragged) return; // a click: the drop zone opens the file picker as before
    const region = [
      clamp((Math.min(from.x, end.x) - area.left) / area.width),
      clamp((Math.min(from.y, end.y) - area.top) / area.height),
      clamp((Math.max(from.x, end.x) - area.left) / area.width),
      clamp((Math.max(from.y, end.y) - area.top) / area.height),
    ].map((v) => Math.round(v * 10000) / 10000);
    if (region[2] - region[0] <= 0 || region[3] - region[1] <= 0) {
      clearRegion();
      return;
    }
    onRegion(region);
  });
  // A drag ends in a click on the drop zone: it must not open the file picker.
  img.addEventListener("click", (e) => {
    if (dragged) {
      e.stopPropagation();
      dragged = false;
    }
  });
}

// Shows a region (fractions of the image) on the preview, as a search by it keeps it.
export function showRegion(region) {
  const img = $("query-preview");
  const box = $("region-box");
  if (!region || img.hidden || !img.naturalWidth) {
    box.hidden = true;
    return;
  }
  const area = shown(img);
  box.style.left = `${area.left - area.rect.left + region[0] * area.width}px`;
  box.style.top = `${area.top - area.rect.top + region[1] * area.height}px`;
  box.style.width = `${(region[2] - region[0]) * area.width}px`;
  box.style.height = `${(region[3] - region[1]) * area.height}px`;
  box.hidden = false;
}

export function clearRegion() {
  $("region-box").hidden = true;
}
