// The dashboard's only way to the server: the public JSON API (DESIGN 5) with the bearer API key.

import { apiKey } from "./session.js";

/** An API answer that is not a success, with the problems named per field where the API names them. */
export class ApiError extends Error {
  constructor(status, message, problems) {
    super(message);
    this.status = status;
    this.problems = problems; // [{field: "precisions.1.bits", message: "..."}]
  }
}

/** Problems of an RFC 9457 answer: one per field of a 422 ({errors: [{location, field, message}]}), else its detail. */
export function problemsOf(body, fallback) {
  if (Array.isArray(body?.errors)) {
    return body.errors.map((entry) => ({ field: entry.field ?? "", message: entry.message ?? JSON.stringify(entry) }));
  }
  return [{ field: "", message: typeof body?.detail === "string" ? body.detail : fallback }];
}

async function bodyOf(response) {
  const text = await response.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return { detail: text };
  }
}

async function send(path, { method = "GET", json, accept = "application/json", headers = {} } = {}) {
  const key = apiKey();
  const request = { method, headers: { Accept: accept, ...headers } };
  if (key) request.headers.Authorization = `Bearer ${key}`;
  if (json !== undefined) {
    request.headers["Content-Type"] = "application/json";
    request.body = JSON.stringify(json);
  }
  const response = await fetch(path, request);
  if (response.status === 401) window.dispatchEvent(new CustomEvent("auth-required"));
  if (!response.ok) {
    const problems = problemsOf(await bodyOf(response), `${response.status} ${response.statusText}`);
    throw new ApiError(response.status, problems.map((p) => (p.field ? `${p.field}: ` : "") + p.message).join("; "), problems);
  }
  return response;
}

export async function getJson(path) {
  return bodyOf(await send(path));
}

export async function postJson(path, json, headers = {}) {
  return bodyOf(await send(path, { method: "POST", json, headers }));
}

/** Fetch a report with the key (a plain link cannot carry it) and hand it to the browser as a file. */
export async function downloadReport(auditId, format) {
  const accept = { html: "text/html", csv: "text/csv", json: "application/json" }[format];
  const response = await send(`/v1/audits/${encodeURIComponent(auditId)}/report?format=${format}`, { accept });
  const url = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement("a"), { href: url });
  if (format === "html") Object.assign(link, { target: "_blank", rel: "noopener" });
  else link.download = `audit-${auditId}.${format}`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
