// One audit: its name and labels, job status and model verdict, live progress per run (polled conditionally:
// an unchanged audit costs a 304), cancel, report links, the results matrix with the metric definitions, the
// retained-share plot, the collision heat map and the per-item evidence.

import { downloadReport, getIfChanged, getJson } from "../api.js";
import { h, mount } from "../dom.js";
import { collisionHeatmap } from "../plots/heatmap.js";
import { retainedPlot } from "../plots/retained.js";
import { bitWidth, orderedPrecisions } from "../shapes.js";
import { cancelButton, errorMessage, isActive, labelChips, progressBar, statusBadge, timeAt, verdictBadge }
  from "../widgets.js";
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

/** Each distinct run error once, with the runs it stopped: the same failure on seven runs is one message. */
function failures(runs) {
  const byError = new Map();
  for (const run of runs.filter((r) => r.error)) {
    if (!byError.has(run.error)) byError.set(run.error, []);
    byError.get(run.error).push(`${run.kind} ${run.model} @ ${run.precision_label}`);
  }
  return [...byError.entries()];
}

function failureMessages(audit) {
  const grouped = failures(audit.runs);
  if (!grouped.length) return audit.error ? h("p", { class: "message error" }, `✗ ${audit.error}`) : null;
  return h("div", { class: "failures" }, grouped.map(([error, where]) => h("p", { class: "message error" },
    `✗ ${error}`, h("span", { class: "muted" }, ` (${where.length === 1 ? "run" : `${where.length} runs`}: `
      + `${where.join(", ")})`))));
}

function runsTable(runs) {
  if (!runs.length) return null;
  return h("details", { class: "runs", open: runs.some((r) => isActive(r.status)) },
    h("summary", {}, `Runs (${runs.filter((r) => r.status === "succeeded").length} of ${runs.length} done)`),
    h("table", { class: "responsive" },
      h("thead", {}, h("tr", {}, ["Kind", "Model", "Precision", "Run status", "Stage", "Progress", "Error"]
        .map((title) => h("th", { scope: "col" }, title)))),
      h("tbody", {}, runs.map((run) => h("tr", {},
        h("td", { "data-label": "Kind" }, run.kind),
        h("td", { "data-label": "Model" }, run.model),
        h("td", { "data-label": "Precision" }, run.precision_label),
        h("td", { "data-label": "Run status" }, statusBadge(run.status, "run")),
        h("td", { "data-label": "Stage" }, run.stage ?? "—"),
        h("td", { "data-label": "Progress" }, progressBar(run.share_done, `progress of ${run.model} at ${run.precision_label}`)),
        h("td", { "data-label": "Error" }, run.error ? "failed: see the error above" : ""),
      )))));
}

function statusSection(audit, refresh) {
  return h("section", { class: "audit-status", "aria-live": "polite" },
    h("dl", { class: "facts" },
      h("dt", {}, "Job status"), h("dd", {}, statusBadge(audit.status)),
      h("dt", {}, "Model verdict"), h("dd", {}, verdictBadge(audit.verdict, audit.status)),
      h("dt", {}, "Progress"), h("dd", {}, progressBar(audit.share_done, "audit progress")),
      h("dt", {}, "Created"), h("dd", {}, timeAt(audit.created_at)),
      h("dt", {}, "Finished"), h("dd", {}, timeAt(audit.finished_at))),
    failureMessages(audit),
    h("div", { class: "actions" }, isActive(audit.status) ? cancelButton(audit.id, refresh) : null, reportLinks(audit.id)),
    runsTable(audit.runs),
  );
}

/**
 * Each metric's meaning from the API's metric_info; a metric is a knowledge metric (retained share and
 * recovery apply) when the API reports a retained share for it.
 */
function metricInfosOf(results) {
  const withShares = new Set(Object.values(results.retained ?? {})
    .flatMap((byPrecision) => Object.values(byPrecision).flatMap((byMetric) => Object.keys(byMetric))));
  return results.metrics.map((name) => ({ name, title: name, unit: "", direction: "", definition: "",
    ...results.metric_info?.[name], knowledge: withShares.has(name) }));
}

/** What the matrix needs of the summary: shares, cells and verdicts (the summary is null until the final task). */
function summaryOf(results) {
  const summary = results.summary ?? {};
  return { retained: results.retained, recovery: results.recovery, undefined: summary.undefined ?? {},
    verdicts: summary.verdicts ?? {}, policy: summary.policy ?? {}, cells: summary.cells ?? [] };
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

function heading(audit) {
  return [h("h1", {}, audit.name ?? `Audit ${audit.id}`),
    audit.name ? h("p", { class: "muted audit-id" }, `Audit ${audit.id}`) : null, labelChips(audit.labels)];
}

export function auditView(main, auditId) {
  let timer = null;
  let resultsShown = false;
  let etag = null;
  let audit = null;
  const headingArea = h("div", { id: "audit-heading" }, h("h1", {}, `Audit ${auditId}`));
  const statusArea = h("div");
  const resultsArea = h("div", { id: "results" });
  mount(main, h("p", {}, h("a", { href: "#/audits" }, "← All audits")), headingArea, statusArea, resultsArea);

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
      const answer = await getIfChanged(`/v1/audits/${encodeURIComponent(auditId)}`, etag);
      if (answer.changed) {
        ({ etag, body: audit } = answer);
        mount(headingArea, heading(audit));
        mount(statusArea, statusSection(audit, refresh));
      }
      if (isActive(audit.status)) timer = setTimeout(refresh, POLL_MS);
      else if (!resultsShown) await showResults();
    } catch (error) {
      mount(statusArea, errorMessage(error));
    }
  }
  refresh();
  return () => clearTimeout(timer);
}
