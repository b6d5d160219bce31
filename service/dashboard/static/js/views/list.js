// The audits list: status, live progress, verdict, models and precisions; filter by status.

import { getJson } from "../api.js";
import { h, mount } from "../dom.js";
import { formatTime } from "../format.js";
import { pageOf } from "../shapes.js";
import { cancelButton, errorMessage, isActive, progressBar, statusBadge, verdictBadge } from "../widgets.js";

const STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"];
const PAGE_SIZE = 20;
const POLL_ACTIVE_MS = 2000; // while an audit is queued or running
const POLL_IDLE_MS = 10000; // to notice audits submitted elsewhere

function filterControl(status, onChange) {
  const select = h("select", { id: "status-filter", name: "status" },
    h("option", { value: "" }, "all"),
    STATUSES.map((s) => h("option", { value: s, selected: s === status }, s)));
  select.addEventListener("change", () => onChange(select.value));
  return h("div", { class: "toolbar" }, h("label", { for: "status-filter" }, "Status "), select);
}

function auditRow(audit, refresh) {
  return h("tr", { dataset: { auditId: audit.id, status: audit.status } },
    h("td", { "data-label": "Audit" }, h("a", { href: `#/audits/${encodeURIComponent(audit.id)}` }, audit.id)),
    h("td", { "data-label": "Status" }, statusBadge(audit.status)),
    h("td", { "data-label": "Progress" }, progressBar(audit.share_done, `progress of audit ${audit.id}`)),
    h("td", { "data-label": "Verdict" }, verdictBadge(audit.verdict)),
    h("td", { "data-label": "Created" }, formatTime(audit.created_at)),
    h("td", { "data-label": "Models" }, audit.models.join(", ")),
    h("td", { "data-label": "Precisions" }, audit.precisions.join(", ")),
    h("td", { "data-label": "" }, isActive(audit.status) ? cancelButton(audit.id, refresh) : null),
  );
}

function auditTable(audits, refresh) {
  if (!audits.length) return h("p", { class: "empty" }, "No audits match. Submit one with “New audit”.");
  return h("table", { class: "audits responsive" },
    h("thead", {}, h("tr", {}, ["Audit", "Status", "Progress", "Verdict", "Created", "Models", "Precisions", ""]
      .map((title) => h("th", { scope: "col" }, title)))),
    h("tbody", {}, audits.map((audit) => auditRow(audit, refresh))),
  );
}

function pager(offset, page, go) {
  const previous = h("button", { type: "button", disabled: offset === 0 }, "← Newer");
  const next = h("button", { type: "button", disabled: page.total !== null ? offset + PAGE_SIZE >= page.total
    : page.items.length < PAGE_SIZE }, "Older →");
  previous.addEventListener("click", () => go(Math.max(0, offset - PAGE_SIZE)));
  next.addEventListener("click", () => go(offset + PAGE_SIZE));
  const shown = page.total !== null ? `${offset + 1}–${offset + page.items.length} of ${page.total}` : "";
  return h("nav", { class: "pager", "aria-label": "pages" }, previous, h("span", {}, shown), next);
}

/** Renders into `main`; returns a function that stops the polling. */
export function listView(main, query) {
  let status = query.get("status") ?? "";
  let offset = 0;
  let timer = null;
  const results = h("div", { id: "audit-list", "aria-live": "polite" });

  async function refresh() {
    clearTimeout(timer);
    const params = new URLSearchParams({ limit: PAGE_SIZE, offset });
    if (status) params.set("status", status);
    try {
      const page = pageOf(await getJson(`/v1/audits?${params}`));
      mount(results, auditTable(page.items, refresh), pager(offset, page, (o) => { offset = o; refresh(); }));
      timer = setTimeout(refresh, page.items.some((a) => isActive(a.status)) ? POLL_ACTIVE_MS : POLL_IDLE_MS);
    } catch (error) {
      mount(results, errorMessage(error));
    }
  }

  const changeStatus = (value) => {
    status = value;
    offset = 0;
    history.replaceState(null, "", value ? `#/audits?status=${value}` : "#/audits");
    refresh();
  };
  mount(main, h("h1", {}, "Audits"), filterControl(status, changeStatus), results);
  refresh();
  return () => clearTimeout(timer);
}
