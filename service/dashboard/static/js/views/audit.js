// One audit: status and live progress per run, cancel, report links, the results matrix with the
// metric definitions, the retained-share plot, the collision heat map and the per-item evidence.

import { downloadReport, getJson } from "../api.js";
import { h, mount } from "../dom.js";
import { formatTime } from "../format.js";
import { collisionHeatmap } from "../plots/heatmap.js";
import { retainedPlot } from "../plots/retained.js";
import { bitWidth, orderedPrecisions } from "../shapes.js";
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
        h("td", { "data-label": "Kind" }, run.kind),
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
      h("dt", {}, "Verdict"), h("dd", {}, verdictBadge(audit.verdict)),
      h("dt", {}, "Progress"), h("dd", {}, progressBar(audit.share_done, "audit progress")),
      h("dt", {}, "Created"), h("dd", {}, formatTime(audit.created_at)),
      h("dt", {}, "Finished"), h("dd", {}, formatTime(audit.finished_at))),
    audit.error ? h("p", { class: "message error" }, `✗ ${audit.error}`) : null,
    h("div", { class: "actions" }, isActive(audit.status) ? cancelButton(audit.id, refresh) : null, reportLinks(audit.id)),
    runsTable(audit.runs),
  );
}

/**
 * Each metric's meaning from the API's metric_info; a metric is a knowledge metric (retained share and
 * recovery apply, DESIGN 8.5) when the API reports a retained share for it.
 */
function metricInfosOf(results) {
  const withShares = new Set(Object.values(results.retained ?? {})
    .flatMap((byPrecision) => Object.values(byPrecision).flatMap((byMetric) => Object.keys(byMetric))));
  return results.metrics.map((name) => ({ name, title: name, unit: "", direction: "", definition: "",
    ...results.metric_info?.[name], knowledge: withShares.has(name) }));
}

/** What the matrix needs of the summary: shares and verdicts (the summary is null until the final task). */
function summaryOf(results) {
  const summary = results.summary ?? {};
  return { retained: results.retained, recovery: results.recovery, undefined: summary.undefined ?? {},
    verdicts: summary.verdicts ?? {}, policy: summary.policy ?? {} };
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
  const models = results.models.filter((m) => m !== "target");
  const knowledge = metricInfos.filter((info) => info.knowledge);
  const heading = h("h2", {}, "Per-item evidence");
  if (!models.length || !knowledge.length || precisions.length < 2) {
    return h("section", {}, heading, h("p", { class: "empty" },
      "Needs an unlearned model, a knowledge metric and a quantized precision."));
  }
  const container = h("div", { id: "evidence" });
  const show = (quantized) => renderEvidence(container, { auditId, models, metricInfos: knowledge, quantized });
  const choice = quantizedChoice(precisions, results.matrix, show);
  show(choice.initial);
  return h("section", {}, heading, h("p", { class: "muted" }, "Forget items whose score rose with quantization: the "
    + "ground truth and the model's output at full and at the quantized precision, side by side."), choice.control, container);
}

function collisionColumns(results) {
  return results.collisions.map((c) => ({ model: c.model, precision: c.precision_label, approximate: c.approximate,
    overall: c.overall, perLayer: c.per_layer }));
}

function resultsSections(auditId, results) {
  const metricInfos = metricInfosOf(results);
  const summary = summaryOf(results);
  const precisions = orderedPrecisions(results.matrix);
  const rank = (v) => precisions.indexOf(v.precision_label);
  const modelRank = (v) => results.models.indexOf(v.model);
  const variants = [...results.matrix].sort((a, b) => modelRank(a) - modelRank(b) || rank(a) - rank(b));
  return [
    h("section", {}, h("h2", {}, "Results"), resultsMatrix(variants, summary, metricInfos),
      h("h3", {}, "What the metrics mean"), metricDefinitions(metricInfos)),
    h("section", {}, h("h2", {}, "Retained share by precision"),
      retainedPlot({ retained: results.retained, precisions, models: results.models.filter((m) => m !== "target"),
        metrics: metricInfos.filter((info) => info.knowledge), maxRetained: summary.policy.max_retained })),
    h("section", {}, h("h2", {}, "Bucket collision per layer"), collisionHeatmap(collisionColumns(results))),
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
      if (!results?.matrix?.length) return;
      resultsShown = true;
      mount(resultsArea, resultsSections(auditId, results));
    } catch (error) {
      mount(resultsArea, errorMessage(error));
    }
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      const audit = await getJson(`/v1/audits/${encodeURIComponent(auditId)}?include=runs&limit=200`);
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
