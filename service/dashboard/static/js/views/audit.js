// One audit: status and live progress per run, cancel, report links, the results matrix with the
// metric definitions, the retained-share plot, the collision heat map and the per-item evidence.

import { downloadReport, getJson } from "../api.js";
import { h, mount } from "../dom.js";
import { formatTime } from "../format.js";
import { collisionHeatmap } from "../plots/heatmap.js";
import { retainedPlot } from "../plots/retained.js";
import { bitWidth, orderedPrecisions, runsOf, shareDone, verdictOf } from "../shapes.js";
import { cancelButton, errorMessage, isActive, progressBar, statusBadge, verdictBadge } from "../widgets.js";
import { renderEvidence } from "./evidence.js";
import { metricDefinitions, resultsMatrix } from "./matrix.js";

const POLL_MS = 2000;

function reportLinks(auditId) {
  return h("div", { class: "report-links" }, h("span", {}, "Report: "),
    ["html", "csv", "json"].map((format) => {
      const button = h("button", { type: "button", class: "link", dataset: { report: format } }, format.toUpperCase());
      button.addEventListener("click", () => downloadReport(auditId, format).catch((error) => button.after(errorMessage(error))));
      return button;
    }));
}

function runsTable(runs) {
  if (!runs.length) return null;
  return h("details", { class: "runs", open: runs.some((r) => isActive(r.status)) },
    h("summary", {}, `Runs (${runs.filter((r) => r.status === "succeeded").length} of ${runs.length} done)`),
    h("table", { class: "responsive" },
      h("thead", {}, h("tr", {}, ["Kind", "Model", "Precision", "Status", "Stage", "Progress", "Error"]
        .map((title) => h("th", { scope: "col" }, title)))),
      h("tbody", {}, runs.map((run) => h("tr", {},
        h("td", { "data-label": "Kind" }, run.kind ?? "evaluate"),
        h("td", { "data-label": "Model" }, run.model),
        h("td", { "data-label": "Precision" }, run.precision_label),
        h("td", { "data-label": "Status" }, statusBadge(run.status)),
        h("td", { "data-label": "Stage" }, run.stage ?? "—"),
        h("td", { "data-label": "Progress" }, progressBar(run.share_done, `progress of ${run.model} at ${run.precision_label}`)),
        h("td", { "data-label": "Error" }, run.error ?? ""),
      )))));
}

function statusSection(audit, refresh) {
  return h("section", { class: "audit-status", "aria-live": "polite" },
    h("dl", { class: "facts" },
      h("dt", {}, "Status"), h("dd", {}, statusBadge(audit.status)),
      h("dt", {}, "Verdict"), h("dd", {}, verdictBadge(verdictOf(audit))),
      h("dt", {}, "Progress"), h("dd", {}, progressBar(shareDone(audit), "audit progress")),
      h("dt", {}, "Created"), h("dd", {}, formatTime(audit.created_at)),
      h("dt", {}, "Finished"), h("dd", {}, formatTime(audit.finished_at))),
    audit.error ? h("p", { class: "message error" }, `✗ ${audit.error}`) : null,
    h("div", { class: "actions" }, isActive(audit.status) ? cancelButton(audit.id, refresh) : null, reportLinks(audit.id)),
    runsTable(runsOf(audit)),
  );
}

/** Metric meaning for each metric in the results: from the API, else from the numbers' own fields. */
function metricInfosOf(results) {
  const infos = results.metric_info ?? results.metric_definitions ?? {};
  const names = [...new Set(results.variants.flatMap((v) => Object.keys(v.metrics ?? {})))];
  if (results.variants.some((v) => v.collision)) names.push("collision");
  return names.map((name) => {
    const detail = results.variants.map((v) => v.metric_details?.[name]).find(Boolean) ?? {};
    return { name, title: name, unit: detail.unit ?? "", direction: detail.direction ?? "", definition: "", ...infos[name] };
  });
}

function quantizedChoice(precisions, variants, onChange) {
  const quantized = precisions.filter((label) => label !== "full");
  const fourBit = quantized.find((label) => bitWidth(variants.find((v) => v.precision_label === label).precision) === 4);
  const select = h("select", { id: "evidence-precision" },
    quantized.map((label) => h("option", { value: label, selected: label === fourBit }, label)));
  select.addEventListener("change", () => onChange(select.value));
  return { control: h("div", { class: "toolbar" }, h("label", { for: "evidence-precision" }, "Compare full precision with "), select),
    initial: fourBit ?? quantized[0] };
}

function evidenceSection(auditId, results, metricInfos, precisions) {
  const models = [...new Set(results.variants.map((v) => v.model))].filter((m) => m !== "target");
  const knowledge = metricInfos.filter((info) => info.knowledge);
  const container = h("div", { id: "evidence" });
  const section = h("section", {}, h("h2", {}, "Per-item evidence"));
  if (!models.length || !knowledge.length || precisions.length < 2) {
    return h("section", {}, h("h2", {}, "Per-item evidence"), h("p", { class: "empty" }, "Needs an unlearned model, a knowledge "
      + "metric and a quantized precision."));
  }
  const show = (quantized) => renderEvidence(container, { auditId, models, metricInfos: knowledge, quantized });
  const choice = quantizedChoice(precisions, results.variants, show);
  section.append(h("p", { class: "muted" }, "Forget items whose score rose with quantization: the ground truth and "
    + "the model's output at full and at the quantized precision, side by side."), choice.control, container);
  show(choice.initial);
  return section;
}

function resultsSections(auditId, results) {
  const metricInfos = metricInfosOf(results);
  const precisions = orderedPrecisions(results.variants);
  const rank = (v) => precisions.indexOf(v.precision_label);
  const variants = [...results.variants].sort((a, b) => (a.model === b.model ? rank(a) - rank(b) : 0));
  const unlearned = [...new Set(variants.map((v) => v.model))].filter((m) => m !== "target");
  const collisionColumns = variants.filter((v) => v.collision).map((v) => ({ model: v.model, precision: v.precision_label,
    approximate: v.collision.approximate, overall: v.collision.overall, perLayer: v.collision.per_layer ?? {} }));
  return [
    h("section", {}, h("h2", {}, "Results"), resultsMatrix(variants, results.summary ?? {}, metricInfos),
      h("h3", {}, "What the metrics mean"), metricDefinitions(metricInfos)),
    h("section", {}, h("h2", {}, "Retained share by precision"),
      retainedPlot({ retained: results.summary?.retained, precisions, models: unlearned,
        metrics: metricInfos.filter((info) => info.knowledge), maxRetained: results.summary?.policy?.max_retained })),
    h("section", {}, h("h2", {}, "Bucket collision per layer"), collisionHeatmap(collisionColumns)),
    evidenceSection(auditId, results, metricInfos, precisions),
  ];
}

export function auditView(main, auditId) {
  let timer = null;
  let resultsShown = false;
  const statusArea = h("div");
  const resultsArea = h("div", { id: "results" });
  mount(main, h("p", {}, h("a", { href: "#/audits" }, "← All audits")), h("h1", {}, `Audit ${auditId}`), statusArea, resultsArea);

  async function showResults() {
    try {
      const results = await getJson(`/v1/audits/${encodeURIComponent(auditId)}/results`);
      if (!results?.variants?.length) return;
      resultsShown = true;
      mount(resultsArea, resultsSections(auditId, results));
    } catch (error) {
      mount(resultsArea, errorMessage(error));
    }
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      const audit = await getJson(`/v1/audits/${encodeURIComponent(auditId)}`);
      mount(statusArea, statusSection(audit, refresh));
      if (isActive(audit.status)) timer = setTimeout(refresh, POLL_MS);
      else if (!resultsShown) await showResults();
    } catch (error) {
      mount(statusArea, errorMessage(error));
    }
  }
  refresh();
  return () => clearTimeout(timer);
}
