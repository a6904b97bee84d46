// Page-wide events: the views announce what the user asked for ("search-id", a record) and
// app.js, which owns searching and the collection in force, answers. Modules import this one
// instead of app.js, so the imports go one way: app.js -> views -> events, ui, http, state.

const handlers = new Map();

export function on(name, handler) {
  if (!handlers.has(name)) handlers.set(name, []);
  handlers.get(name).push(handler);
}

// Calls every handler of `name` in order; resolves when they have all finished.
export async function emit(name, ...args) {
  for (const handler of handlers.get(name) || []) await handler(...args);
}
