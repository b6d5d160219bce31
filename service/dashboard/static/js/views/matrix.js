// The results matrix: one row per (model, precision), one column per metric, with each metric's
// unit, direction and definition at hand, the retained share and recovery, and the verdict.

import { h } from "../dom.js";
import { formatPoints, formatShare, formatValue } from "../format.js";
import { cellVerdictBadge, verdictBadge } from "../widgets.js";

function metricHeader(info) {
  return h("th", { scope: "col", dataset: { metric: info.name } },
    h("span", { class: "metric-title" }, info.title),
    h("span", { class: "metric-meta" }, `${info.unit}; ${info.direction}`),
    h("a", { href: `#definition-${info.name}`, class: "definition-link", "aria-label": `definition of ${info.title}` },
      "definition"),
  );
}

function interval(detail) {
  if (!detail || detail.ci_low === null || detail.ci_low === undefined) return null;
  return h("span", { class: "ci" }, `95% CI ${formatValue(detail.ci_low, detail.unit)} – ${formatValue(detail.ci_high, detail.unit)}`);
}

/** "80.0 % (95% CI 70.0 – 90.0 %)": a share or recovery with its paired interval, when it has one. */
function withInterval(estimate, format, confidence) {
  if (!estimate || estimate.ci_low === null || estimate.ci_low === undefined) return format(estimate?.value);
  const level = Math.round((confidence ?? 0.95) * 100);
  return `${format(estimate.value)} (${level}% CI ${format(estimate.ci_low)} – ${format(estimate.ci_high)})`;
}

function cellOf(summary, variant, metric) {
  return (summary.cells ?? []).find((c) => c.model === variant.model
    && c.precision_label === variant.precision_label && c.metric === metric);
}

/** knowmem_r: the share of the target's utility, judged against min_utility. */
function utilityLines(summary, variant, metric) {
  const cell = cellOf(summary, variant, metric);
  if (!cell) return null;
  if (cell.verdict === "undefined") return [h("span", { class: "share undefined" }, "utility share undefined"),
    cellVerdictBadge(cell.verdict)];
  return [h("span", { class: "share" }, `utility share ${withInterval(cell.retained, formatShare, summary.policy?.confidence)}`),
    cellVerdictBadge(cell.verdict)];
}

function shareLines(summary, variant, metric) {
  const cell = cellOf(summary, variant, metric);
  const undefinedReason = summary.undefined?.[variant.model]?.[variant.precision_label]?.[metric];
  if (undefinedReason) {
    return [h("span", { class: "share undefined", title: undefinedReason }, `retained undefined: ${undefinedReason}`),
      cell ? cellVerdictBadge(cell.verdict) : null];
  }
  const retained = summary.retained?.[variant.model]?.[variant.precision_label]?.[metric];
  const recovery = summary.recovery?.[variant.model]?.[variant.precision_label]?.[metric];
  if (retained === undefined || retained === null) return null;
  const confidence = summary.policy?.confidence;
  return [
    h("span", { class: "share", dataset: { retained: String(retained) } },
      `retained ${withInterval(cell?.retained ?? { value: retained }, formatShare, confidence)}`),
    recovery === undefined || recovery === null || variant.precision_label === "full" ? null
      : h("span", { class: "share", dataset: { recovery: String(recovery) } },
        `recovery ${withInterval(cell?.recovery ?? { value: recovery }, formatPoints, confidence)}`),
    cell ? cellVerdictBadge(cell.verdict) : null,
  ];
}

function metricCell(summary, variant, info) {
  const attributes = { dataset: { model: variant.model, precision: variant.precision_label, metric: info.name } };
  if (info.name === "collision") {
    const rate = variant.collision?.overall;
    if (rate === undefined || rate === null) return h("td", { ...attributes, class: "num muted" }, "—");
    attributes.dataset.value = String(rate);
    return h("td", { ...attributes, class: "num" }, h("span", { class: "value" }, formatValue(rate)),
      variant.collision.approximate ? h("span", { class: "ci" }, "≈ approximate (calibrated codes)") : null);
  }
  const detail = variant.metric_details?.[info.name];
  const value = variant.metrics?.[info.name];
  if (detail?.skipped_reason) return h("td", { ...attributes, class: "muted" }, `skipped: ${detail.skipped_reason}`);
  if (value === undefined || value === null) return h("td", { ...attributes, class: "num muted" }, "—");
  attributes.dataset.value = String(value);
  return h("td", { ...attributes, class: "num" },
    h("span", { class: "value" }, formatValue(value, info.unit)), interval(detail),
    variant.model === "target" ? null
      : info.knowledge ? shareLines(summary, variant, info.name) : utilityLines(summary, variant, info.name));
}

/** variants: VariantResult[] in display order; metricInfos: [{name, title, unit, direction, knowledge}]. */
export function resultsMatrix(variants, summary, metricInfos) {
  return h("div", { class: "scroll-x", tabindex: "0" },
    h("table", { class: "matrix" },
      h("caption", {}, "Every metric of every model at every precision"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Model"), h("th", { scope: "col" }, "Precision"),
        metricInfos.map(metricHeader), h("th", { scope: "col" }, "Verdict"))),
      h("tbody", {}, variants.map((variant) =>
        h("tr", { dataset: { model: variant.model, precision: variant.precision_label } },
          h("th", { scope: "row" }, variant.model),
          h("td", {}, variant.precision_label),
          metricInfos.map((info) => metricCell(summary, variant, info)),
          h("td", {}, variant.model === "target" ? h("span", { class: "muted" }, "reference")
            : verdictBadge(summary.verdicts?.[variant.model]?.[variant.precision_label])),
        ))),
    ),
  );
}

/** The definitions list under the matrix: what each number means and which way is good. */
export function metricDefinitions(metricInfos) {
  return h("dl", { class: "definitions" }, metricInfos.map((info) => [
    h("dt", { id: `definition-${info.name}` }, `${info.title} (${info.name})`),
    h("dd", {}, info.definition, h("br"), h("span", { class: "metric-meta" }, `Unit: ${info.unit}. Direction: ${info.direction}.`)),
  ]));
}
