// The audits list: name and labels, job status, live progress, model verdict, models and precisions; filter by
// status, name and labels (the filters live in the URL, so a filtered list can be shared).

import { getJson } from "../api.js";
import { h, mount } from "../dom.js";
import { pageOf } from "../shapes.js";
import { cancelButton, errorMessage, isActive, labelChips, progressBar, statusBadge, timeAt, verdictBadge }
  from "../widgets.js";

const STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"];
const PAGE_SIZE = 20;
const POLL_ACTIVE_MS = 2000; // while an audit is queued or running
const POLL_IDLE_MS = 10000; // to notice audits submitted elsewhere

/**
 * Filters: {status, name, label}; `label` holds `key:value` words separated by spaces (all must match).
 * Returns the toolbar and `addLabel`, which puts a label into the field and applies it.
 */
function filterControls(filters, onChange) {
  const select = h("select", { id: "status-filter", name: "status" },
    h("option", { value: "" }, "all"),
    STATUSES.map((s) => h("option", { value: s, selected: s === filters.status }, s)));
  const name = h("input", { id: "name-filter", name: "name", type: "search", value: filters.name,
    placeholder: "part of a name" });
  const label = h("input", { id: "label-filter", name: "label", type: "search", value: filters.label,
    placeholder: "team:risk env:prod" });
  const changed = () => onChange({ status: select.value, name: name.value.trim(), label: label.value.trim() });
  select.addEventListener("change", changed);
  name.addEventListener("change", changed);
  label.addEventListener("change", changed);
  const addLabel = (word) => {
    const words = new Set(label.value.split(/\s+/).filter(Boolean));
    label.value = [...words.add(word)].join(" ");
    changed();
  };
  const toolbar = h("div", { class: "toolbar" }, h("label", { for: "status-filter" }, "Job status "), select,
    h("label", { for: "name-filter" }, " Name "), name, h("label", { for: "label-filter" }, " Labels "), label);
  return { toolbar, addLabel };
}

function auditRow(audit, refresh, pickLabel) {
  return h("tr", { dataset: { auditId: audit.id, status: audit.status } },
    h("td", { "data-label": "Audit" },
      h("a", { href: `#/audits/${encodeURIComponent(audit.id)}`, class: "audit-name" }, audit.name ?? audit.id),
      audit.name ? h("div", { class: "muted audit-id" }, audit.id) : null,
      labelChips(audit.labels, pickLabel)),
    h("td", { "data-label": "Job status" }, statusBadge(audit.status)),
    h("td", { "data-label": "Progress" }, progressBar(audit.share_done, `progress of audit ${audit.id}`)),
    h("td", { "data-label": "Model verdict" }, verdictBadge(audit.verdict, audit.status)),
    h("td", { "data-label": "Created" }, timeAt(audit.created_at)),
    h("td", { "data-label": "Models" }, audit.models.join(", ")),
    h("td", { "data-label": "Precisions" }, audit.precisions.join(", ")),
    h("td", { "data-label": "" }, isActive(audit.status) ? cancelButton(audit.id, refresh) : null),
  );
}

function auditTable(audits, refresh, pickLabel) {
  if (!audits.length) return h("p", { class: "empty" }, "No audits match. Submit one with “New audit”.");
  return h("table", { class: "audits responsive" },
    h("thead", {}, h("tr", {}, ["Audit", "Job status", "Progress", "Model verdict", "Created", "Models", "Precisions",
      ""].map((title) => h("th", { scope: "col" }, title)))),
    h("tbody", {}, audits.map((audit) => auditRow(audit, refresh, pickLabel))),
  );
}

/** The API's query for the filters (labels repeated: every one must match). */
function filterParams(filters) {
  const params = new URLSearchParams();
  if (filters.status) params.set("status", filters.status);
  if (filters.name) params.set("name", filters.name);
  for (const label of filters.label.split(/\s+/).filter(Boolean)) params.append("label", label);
  return params;
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
  let filters = { status: query.get("status") ?? "", name: query.get("name") ?? "",
    label: query.getAll("label").join(" ") };
  let offset = 0;
  let timer = null;
  const results = h("div", { id: "audit-list", "aria-live": "polite" });

  async function refresh() {
    clearTimeout(timer);
    const params = filterParams(filters);
    params.set("limit", PAGE_SIZE);
    params.set("offset", offset);
    try {
      const page = pageOf(await getJson(`/v1/audits?${params}`));
      mount(results, auditTable(page.items, refresh, pickLabel),
        pager(offset, page, (o) => { offset = o; refresh(); }));
      timer = setTimeout(refresh, page.items.some((a) => isActive(a.status)) ? POLL_ACTIVE_MS : POLL_IDLE_MS);
    } catch (error) {
      mount(results, errorMessage(error));
    }
  }

  function changeFilters(next) {
    filters = next;
    offset = 0;
    const shown = filterParams(filters).toString();
    history.replaceState(null, "", shown ? `#/audits?${shown}` : "#/audits");
    refresh();
  }

  const controls = filterControls(filters, changeFilters);
  const pickLabel = (key, value) => controls.addLabel(`${key}:${value}`);
  mount(main, h("h1", {}, "Audits"), controls.toolbar, results);
  refresh();
  return () => clearTimeout(timer);
}
