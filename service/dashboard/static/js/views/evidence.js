// Per-item evidence: forget items whose score rose with quantization, with the ground truth and the
// model's output at full precision and at the chosen quantized precision side by side.

import { getJson } from "../api.js";
import { h, mount } from "../dom.js";
import { formatPoints, formatValue } from "../format.js";
import { pageOf } from "../shapes.js";
import { errorMessage } from "../widgets.js";

const PAGE_SIZE = 200; // the API's largest page
const MAX_PAGES = 50; // 10 000 records: beyond that, read the CSV report
const SHOWN = 25;

/** Every item record matching `filters`, page by page, and the API's total. */
async function itemRecords(auditId, filters) {
  const records = [];
  let total = 0;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const params = new URLSearchParams({ ...filters, limit: PAGE_SIZE, offset: page * PAGE_SIZE });
    const body = pageOf(await getJson(`/v1/audits/${encodeURIComponent(auditId)}/items?${params}`));
    records.push(...body.items);
    total = body.total ?? records.length;
    if (body.items.length < PAGE_SIZE || records.length >= total) break;
  }
  return { records, total };
}

async function itemCount(auditId, filters) {
  const params = new URLSearchParams({ ...filters, limit: 1 });
  return pageOf(await getJson(`/v1/audits/${encodeURIComponent(auditId)}/items?${params}`)).total;
}

/**
 * The items of one (model, metric) whose score at `quantized` rose above full precision, largest rise
 * first, each with its full-precision record (for the output text), and how many items were scored.
 */
async function risenItems(auditId, model, metric, quantized) {
  const risen = await itemRecords(auditId, { model, metric, precision: quantized, rose: true });
  const scored = await itemCount(auditId, { model, metric, precision: quantized });
  const full = risen.records.length ? await itemRecords(auditId, { model, metric, precision: "full" }) : { records: [] };
  const fullByIndex = new Map(full.records.map((record) => [record.index, record]));
  const entries = risen.records.map((quant) => ({ index: quant.index, quant, full: fullByIndex.get(quant.index),
    rise: quant.delta ?? quant.score - quant.full_score }));
  entries.sort((a, b) => b.rise - a.rise || a.index - b.index);
  return { entries, scored };
}

function textBlock(title, text, attributes = {}) {
  return h("div", { class: "evidence-text", ...attributes }, h("h4", {}, title),
    h("p", {}, text ?? h("span", { class: "muted" }, "not stored")));
}

function evidenceCard(model, metricInfo, quantized, entry) {
  const { full, quant } = entry;
  return h("article", { class: "evidence", dataset: { model, metric: metricInfo.name, index: String(entry.index),
      fullScore: String(quant.full_score), quantScore: String(quant.score) } },
    h("header", {},
      h("h3", {}, `${model} · ${metricInfo.title} · item ${entry.index}`),
      h("p", { class: "scores" },
        `score at full ${formatValue(quant.full_score)} → at ${quantized} ${formatValue(quant.score)} `,
        h("strong", {}, `(${formatPoints(entry.rise)}, rose)`))),
    quant.prompt ? h("details", { class: "prompt" }, h("summary", {}, "Prompt"), h("pre", {}, quant.prompt)) : null,
    h("div", { class: "side-by-side" },
      textBlock("Ground truth", quant.truth ?? full?.truth, { dataset: { role: "truth" } }),
      textBlock("Output at full precision", full?.output, { dataset: { role: "full" } }),
      textBlock(`Output at ${quantized}`, quant.output, { dataset: { role: "quantized" } })),
  );
}

function evidenceGroup(model, metricInfo, quantized, risen, scored) {
  const outOf = scored === null ? "" : ` of ${scored}`;
  const heading = h("h3", { class: "group-title" },
    `${model} · ${metricInfo.title}: ${risen.length}${outOf} items rose at ${quantized}`);
  const shown = risen.slice(0, SHOWN).map((entry) => evidenceCard(model, metricInfo, quantized, entry));
  const more = risen.length > SHOWN ? h("p", { class: "muted" },
    `${risen.length - SHOWN} more: see the CSV report for every item.`) : null;
  return h("section", { class: "evidence-group", dataset: { model, metric: metricInfo.name, risen: String(risen.length) } },
    heading, shown, more);
}

/**
 * Loads and renders the evidence of the unlearned models for one quantized precision. When the choice
 * changes while an earlier one is still loading, only the latest choice is drawn.
 */
export async function renderEvidence(container, { auditId, models, metricInfos, quantized }) {
  const request = String(Number(container.dataset.request ?? 0) + 1);
  container.dataset.request = request;
  const isLatest = () => container.dataset.request === request;
  mount(container, h("p", { class: "muted" }, "Loading per-item evidence…"));
  try {
    const groups = [];
    for (const model of models) {
      for (const info of metricInfos) {
        const { entries, scored } = await risenItems(auditId, model, info.name, quantized);
        groups.push(evidenceGroup(model, info, quantized, entries, scored));
      }
    }
    if (isLatest()) mount(container, groups);
  } catch (error) {
    if (isLatest()) mount(container, errorMessage(error));
  }
}
