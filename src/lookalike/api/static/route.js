// The page's address: which view, collection and search are shown, as a query string on the
// page's path ("/", or the sub-path a proxy serves it under).
// Every search and view is pushed to the browser history, so a link can be shared or
// bookmarked and Back/Forward walk through them. No imports: app.js reads and writes it.

export const VIEWS = ["search", "browse", "duplicates", "people"];

// The parameters, in the order they appear in the address.
const KEYS = ["view", "collection", "sort", "id", "text", "url", "person", "signal", "filter", "min",
  "k", "page", "open"];

// The route in the address bar; an old "#/people" address reads as view=people.
export function readRoute(href = location.href) {
  const url = new URL(href);
  const params = url.searchParams;
  const route = {};
  for (const key of KEYS) {
    const value = params.get(key);
    if (value !== null && value !== "") route[key] = value;
  }
  const legacy = (url.hash.match(/^#\/(\w+)/) || [])[1];
  if (!route.view && legacy) route.view = legacy;
  if (!VIEWS.includes(route.view)) route.view = "search";
  return route;
}

export function routeHref(route) {
  const params = new URLSearchParams();
  for (const key of KEYS) {
    const value = route[key];
    if (value === undefined || value === null || value === "") continue;
    if (key === "view" && value === "search" && Object.keys(route).length > 1) continue;
    params.set(key, String(value));
  }
  // The page's own path (the server may sit under a proxy's sub-path): only the query changes.
  const query = params.toString();
  return query ? `${location.pathname}?${query}` : location.pathname;
}

let counter = 0;

// Pushes (or with `replace`, rewrites) the history entry for `route`; `extra` rides in the
// entry's state (an uploaded query image cannot be written in an address).
export function saveRoute(route, { replace = false, extra = null } = {}) {
  const href = routeHref(route);
  const entry = { key: `${Date.now()}-${++counter}`, ...(extra ? { extra } : {}) };
  const same = location.pathname + location.search === href && !location.hash;
  if (replace || (same && !extra)) history.replaceState({ ...(history.state || {}), ...entry }, "", href);
  else history.pushState(entry, "", href);
  return entry.key;
}
