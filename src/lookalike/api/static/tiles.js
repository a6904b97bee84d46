// Boxes on square thumbnails: a matched face, line of text or copied region outlined, or a
// face cropped. Boxes come from the API as [left, top, right, bottom] shares of the image.

export const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
const isBox = (box) => Array.isArray(box) && box.length === 4;
const pct = (v) => `${(v * 100).toFixed(3)}%`;

// The part of an image (width/height = ratio) that a square tile with object-fit: cover shows.
export function coverWindow(ratio) {
  return ratio >= 1
    ? { x: (1 - 1 / ratio) / 2, y: 0, w: 1 / ratio, h: 1 }
    : { x: 0, y: (1 - ratio) / 2, w: 1, h: ratio };
}

// The same square shifted along the image's long side to centre `box` where it can: a face at
// the edge of a wide group photo stays in view.
export function focusWindow(ratio, box) {
  const win = coverWindow(ratio);
  if (ratio >= 1) win.x = clamp((box[0] + box[2]) / 2 - win.w / 2, 0, 1 - win.w);
  else win.y = clamp((box[1] + box[3]) / 2 - win.h / 2, 0, 1 - win.h);
  return win;
}

// A square around a face, with a margin for hair and chin, kept inside the image.
export function faceWindow(box, ratio, margin = 1.8) {
  const [l, t, r, b] = box;
  const side = Math.min(Math.max((r - l) * ratio, b - t) * margin, ratio, 1); // in image heights
  const left = clamp(((l + r) / 2) * ratio - side / 2, 0, ratio - side);
  const top = clamp((t + b) / 2 - side / 2, 0, 1 - side);
  return { x: left / ratio, y: top, w: side / ratio, h: side };
}

// Scales and shifts the image so that the tile shows exactly `win`.
export function showWindow(img, win) {
  img.classList.add("windowed");
  img.style.width = pct(1 / win.w);
  img.style.height = pct(1 / win.h);
  img.style.left = pct(-win.x / win.w);
  img.style.top = pct(-win.y / win.h);
}

// An outline of `box` over the tile, clipped to what the tile shows; none when it is outside.
export function outline(thumb, box, win, cls, title) {
  if (!isBox(box)) return null;
  const x0 = clamp((box[0] - win.x) / win.w, 0, 1);
  const y0 = clamp((box[1] - win.y) / win.h, 0, 1);
  const x1 = clamp((box[2] - win.x) / win.w, 0, 1);
  const y1 = clamp((box[3] - win.y) / win.h, 0, 1);
  if (x1 <= x0 || y1 <= y0) return null;
  const mark = document.createElement("span");
  mark.className = `box ${cls}`;
  mark.style.left = pct(x0);
  mark.style.top = pct(y0);
  mark.style.width = pct(x1 - x0);
  mark.style.height = pct(y1 - y0);
  if (title) mark.title = title;
  thumb.append(mark);
  return mark;
}

// Once the thumbnail is in: crop it to `crop` (a face), or show the square around the first of
// `boxes` ([{box, cls, title}]), and outline the boxes where they fall in it.
export function frame(thumb, img, { crop = null, boxes = [] } = {}) {
  const ratio = img.naturalWidth / img.naturalHeight;
  if (!(ratio > 0)) return;
  const first = boxes.find((b) => isBox(b.box));
  let win = coverWindow(ratio);
  if (isBox(crop)) win = faceWindow(crop, ratio);
  else if (first) win = focusWindow(ratio, first.box);
  if (isBox(crop) || first) showWindow(img, win);
  for (const b of boxes) outline(thumb, b.box, win, b.cls, b.title);
}
