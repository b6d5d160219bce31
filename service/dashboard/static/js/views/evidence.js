// Per-item evidence: forget items whose score rose with quantization, with the ground truth and the
// model's output at full precision and at the chosen quantized precision side by side.

import { getJson } from "../api.js";
import { h, mount } from "../dom.js";
import { formatPoints, formatValue } from "../format.js";
import { pageOf } from "../shapes.js";
import { errorMessage } from "../widgets.js";

const PAGE_SIZE = 500;
const MAX_PAGES = 40; // 20 000 records: beyond that, read the CSV report
const SHOWN = 25;

/** Every item record of one (model, metric), page by page. */
async function itemRecords(auditId, model, metric) {
  const records = [];
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const params = new URLSearchParams({ model, metric, limit: PAGE_SIZE, offset: page * PAGE_SIZE });
    const { items, total } = pageOf(await getJson(`/v1/audits/${encodeURIComponent(auditId)}/items?${params}`));
    records.push(...items);
    if (items.length < PAGE_SIZE || (total !== null && records.length >= total)) break;
  }
  return records;
}

/** Items whose score at `quantized` is above their score at full precision, largest rise first. */
export function risenItems(records, quantized) {
  const byIndex = new Map();
  for (const record of records) {
    const index = record.index ?? record.item_index;
    if (!byIndex.has(index)) byIndex.set(index, {});
    byIndex.get(index)[record.precision_label] = record;
  }
  const risen = [];
  for (const [index, pair] of byIndex) {
    const full = pair.full;
    const quant = pair[quantized];
    if (full && quant && quant.score > full.score) risen.push({ index, full, quant, rise: quant.score - full.score });
  }
  return risen.sort((a, b) => b.rise - a.rise || a.index - b.index);
}

function textBlock(title, text, attributes = {}) {
  return h("div", { class: "evidence-text", ...attributes }, h("h4", {}, title),
    h("p", {}, text ?? h("span", { class: "muted" }, "not stored")));
}

function evidenceCard(model, metricInfo, quantized, entry) {
  const { full, quant } = entry;
  return h("article", { class: "evidence", dataset: { model, metric: metricInfo.name, index: String(entry.index),
      fullScore: String(full.score), quantScore: String(quant.score) } },
    h("header", {},
      h("h3", {}, `${model} · ${metricInfo.title} · item ${entry.index}`),
      h("p", { class: "scores" }, `score at full ${formatValue(full.score)} → at ${quantized} ${formatValue(quant.score)} `,
        h("strong", {}, `(${formatPoints(entry.rise)}, rose)`))),
    full.prompt ? h("details", { class: "prompt" }, h("summary", {}, "Prompt"), h("pre", {}, full.prompt)) : null,
    h("div", { class: "side-by-side" },
      textBlock("Ground truth", full.truth ?? quant.truth, { dataset: { role: "truth" } }),
      textBlock("Output at full precision", full.output, { dataset: { role: "full" } }),
      textBlock(`Output at ${quantized}`, quant.output, { dataset: { role: "quantized" } })),
  );
}

function evidenceGroup(model, metricInfo, quantized, risen, total) {
  const heading = h("h3", { class: "group-title" },
    `${model} · ${metricInfo.title}: ${risen.length} of ${total} items rose at ${quantized}`);
  const shown = risen.slice(0, SHOWN).map((entry) => evidenceCard(model, metricInfo, quantized, entry));
  const more = risen.length > SHOWN ? h("p", { class: "muted" },
    `${risen.length - SHOWN} more: see the CSV report for every item.`) : null;
  return h("section", { class: "evidence-group", dataset: { model, metric: metricInfo.name, risen: String(risen.length) } },
    heading, shown, more);
}

/** Loads and renders the evidence of the unlearned models for one quantized precision. */
export async function renderEvidence(container, { auditId, models, metricInfos, quantized }) {
  mount(container, h("p", { class: "muted" }, "Loading per-item evidence…"));
  try {
    const groups = [];
    for (const model of models) {
      for (const info of metricInfos) {
        const records = await itemRecords(auditId, model, info.name);
        const total = new Set(records.map((r) => r.index ?? r.item_index)).size;
        groups.push(evidenceGroup(model, info, quantized, risenItems(records, quantized), total));
      }
    }
    mount(container, groups.length ? groups : h("p", { class: "empty" }, "No per-item scores stored."));
  } catch (error) {
    mount(container, errorMessage(error));
  }
}
