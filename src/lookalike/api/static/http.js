// Calls to the REST API (docs/server.md), with the API key the page keeps.

export const KEY_STORE = "lookalike.apiKey";

// ---- HTTP ---------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(status, code, message, detail) {
    super(message);
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

export function authHeaders() {
  const headers = {};
  const key = localStorage.getItem(KEY_STORE);
  if (key) headers["X-API-Key"] = key;
  return headers;
}

export async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch (_) {
    // not JSON: a proxy's page, say
  }
  const e = body && body.error;
  if (e && e.message) return new ApiError(response.status, e.code || "error", e.message, e.detail);
  return new ApiError(response.status, "http_" + response.status,
    `${response.status} ${response.statusText || "error"}`);
}

export const unreachable = () =>
  new ApiError(0, "unreachable", "Cannot reach the lookalike server. Is it still running?");

export async function api(method, path, body) {
  const init = { method, headers: authHeaders() };
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (_) {
    throw unreachable();
  }
  if (!response.ok) throw await errorFrom(response);
  if (response.status === 204) return null;
  return response.json();
}

export const JOB_POLL_MS = 700;

// Polls a background job (GET /jobs/{id}) until it ends; onProgress sees each answer.
export async function waitForJob(id, onProgress) {
  for (;;) {
    const job = await api("GET", "jobs/" + encodeURIComponent(id));
    onProgress(job);
    if (!["queued", "running"].includes(job.status)) return job;
    await new Promise((r) => setTimeout(r, JOB_POLL_MS));
  }
}

export const collectionPath = (name) => "collections/" + encodeURIComponent(name);
export const thumbnailPath = (name, id) =>
  collectionPath(name) + "/thumbnails/" + encodeURIComponent(id);
