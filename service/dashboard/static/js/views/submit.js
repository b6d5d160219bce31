// The form that submits a new audit. The API validates the spec; its errors appear next to the fields.

import { ApiError, getJson, postJson } from "../api.js";
import { h, mount } from "../dom.js";
import { pageOf } from "../shapes.js";

const PRECISION_PRESETS = [
  { label: "bnb-int8 (LLM.int8, 8-bit)", config: { method: "bnb_int8" }, checked: true },
  { label: "rtn-w8-g128-asym", config: { method: "rtn", bits: 8, group_size: 128 } },
  { label: "rtn-w4-g128-asym", config: { method: "rtn", bits: 4, group_size: 128 }, checked: true },
  { label: "bnb-fp4-b64 (the paper's 4-bit)", config: { method: "bnb_fp4", block_size: 64 }, checked: true },
  { label: "bnb-nf4-b64", config: { method: "bnb_nf4", block_size: 64 } },
  { label: "gptq-w4-g128 (calibrated)", config: { method: "gptq", bits: 4, group_size: 128 } },
  { label: "awq-w4-g128 (calibrated)", config: { method: "awq", group_size: 128 } },
];
const METRICS = ["verbmem_f", "knowmem_f", "knowmem_r", "privleak", "collision"];

/** A labelled field with a slot for the API's message about it (linked by aria-describedby). */
function field(name, label, control, hint) {
  const errorId = `error-${name}`;
  control.setAttribute("aria-describedby", `${errorId}${hint ? ` hint-${name}` : ""}`);
  return h("div", { class: "field", dataset: { field: name } },
    h("label", { for: control.id }, label), control,
    hint ? h("p", { class: "hint", id: `hint-${name}` }, hint) : null,
    h("p", { class: "field-error", id: errorId, role: "alert", hidden: true }));
}

function fieldset(name, legend, controls, hint) {
  return h("fieldset", { class: "field", dataset: { field: name }, "aria-describedby": `error-${name}` },
    h("legend", {}, legend), controls, hint ? h("p", { class: "hint" }, hint) : null,
    h("p", { class: "field-error", id: `error-${name}`, role: "alert", hidden: true }));
}

function checkbox(name, value, label, checked) {
  const id = `${name}-${String(value).replace(/\W+/g, "-")}`;
  return h("label", { class: "check", for: id }, h("input", { type: "checkbox", id, name, value, checked }), ` ${label}`);
}

function corpusOptions(corpora) {
  return [h("option", { value: "" }, corpora.length ? "— choose an uploaded corpus —" : "— no corpus uploaded yet —"),
    ...corpora.map((c) => h("option", { value: c.id }, `${c.name ?? c.id} (sha256 ${c.sha256.slice(0, 12)}…)`))];
}

function buildForm(corpora) {
  const number = (id, value, attributes = {}) => h("input", { type: "number", id, name: id, value, step: "any", ...attributes });
  return h("form", { id: "submit-audit", novalidate: true },
    fieldset("corpus", "Corpus bundle (MUSE layout)", [
      h("label", { for: "corpus-id" }, "Uploaded corpus"), h("select", { id: "corpus-id", name: "corpus" }, corpusOptions(corpora)),
      h("label", { for: "corpus-file" }, "or upload a bundle (one JSON document)"),
      h("input", { type: "file", id: "corpus-file", accept: "application/json,.json" })]),
    field("target", "Target model (hub id or a path under an allowed root)",
      h("input", { type: "text", id: "target-model", name: "target", required: true, autocomplete: "off" })),
    field("unlearned", "Unlearned models, one per line: name, a space, then its source",
      h("textarea", { id: "unlearned-models", name: "unlearned", rows: 3, placeholder: "npo_klr org/npo-klr-model" })),
    fieldset("precisions", "Precisions (full precision is always evaluated)", [
      PRECISION_PRESETS.map((p, i) => checkbox("precision", i, p.label, p.checked)),
      h("label", { for: "extra-precisions" }, "More precisions as a JSON list"),
      h("textarea", { id: "extra-precisions", rows: 2, placeholder: '[{"method": "rtn", "bits": 3, "group_size": 64}]' })]),
    fieldset("metrics", "Metrics", METRICS.map((m) => checkbox("metric", m, m, true))),
    fieldset("policy", "Policy", [
      field("policy.max_retained", "Fail above this retained share", number("max-retained", 0.5)),
      field("policy.max_recovery", "Fail above this recovery", number("max-recovery", 0.25)),
      field("policy.min_utility", "Utility lost below this share of the target's", number("min-utility", 0.8))]),
    field("limits.max_items", "Items per evaluation set", number("max-items", 100, { step: 1 })),
    field("seed", "Seed", number("seed", 0, { step: 1 })),
    h("div", { id: "form-errors", class: "message error", role: "alert", hidden: true }),
    h("button", { type: "submit", class: "primary" }, "Submit audit"),
  );
}

/** Problems found before anything is sent: [{field, message}]. */
class FormProblem extends Error {
  constructor(field, message) {
    super(message);
    this.problems = [{ field, message }];
  }
}

function unlearnedModels(text) {
  return text.split("\n").map((line) => line.trim()).filter(Boolean).map((line, index) => {
    const [name, model, ...rest] = line.split(/\s+/);
    if (!model || rest.length) throw new FormProblem("unlearned", `line ${index + 1}: write a name, a space, then the model source`);
    return { name, model };
  });
}

function precisions(form) {
  const chosen = [...form.querySelectorAll("input[name=precision]:checked")].map((box) => PRECISION_PRESETS[box.value].config);
  const extra = form.querySelector("#extra-precisions").value.trim();
  if (!extra) return [{ method: "full" }, ...chosen];
  let parsed;
  try {
    parsed = JSON.parse(extra);
  } catch (error) {
    throw new FormProblem("precisions", `more precisions: not JSON (${error.message})`);
  }
  if (!Array.isArray(parsed)) throw new FormProblem("precisions", "more precisions: expected a JSON list of objects");
  return [{ method: "full" }, ...chosen, ...parsed];
}

/** The corpus id: the chosen one, or the id of the uploaded file once the API has stored it. */
async function corpusId(form) {
  const file = form.querySelector("#corpus-file").files[0];
  if (!file) {
    const chosen = form.querySelector("#corpus-id").value;
    if (!chosen) throw new FormProblem("corpus", "choose an uploaded corpus or upload a bundle");
    return chosen;
  }
  let document;
  try {
    document = JSON.parse(await file.text());
  } catch (error) {
    throw new FormProblem("corpus", `${file.name} is not JSON: ${error.message}`);
  }
  try {
    return (await postJson(`/v1/corpora?name=${encodeURIComponent(file.name)}`, document)).id;
  } catch (error) {
    if (error instanceof ApiError) error.problems = error.problems.map((p) => ({ field: "corpus", message: p.message }));
    throw error;
  }
}

async function specOf(form) {
  const value = (id) => form.querySelector(`#${id}`).value;
  const numberOf = (id) => (value(id) === "" ? undefined : Number(value(id)));
  return {
    target: { model: value("target-model").trim() },
    unlearned: unlearnedModels(value("unlearned-models")),
    corpus: await corpusId(form),
    precisions: precisions(form),
    metrics: [...form.querySelectorAll("input[name=metric]:checked")].map((box) => box.value),
    policy: { max_retained: numberOf("max-retained"), max_recovery: numberOf("max-recovery"), min_utility: numberOf("min-utility") },
    limits: { max_items: numberOf("max-items") },
    seed: numberOf("seed"),
  };
}

/** The field slot for an API location such as "precisions.1.bits": the longest matching prefix. */
function slotFor(form, fieldPath) {
  const parts = fieldPath.split(".");
  for (let n = parts.length; n > 0; n -= 1) {
    const slot = form.querySelector(`[data-field="${CSS.escape(parts.slice(0, n).join("."))}"]`);
    if (slot) return slot;
  }
  return null;
}

function clearProblems(form) {
  for (const slot of form.querySelectorAll(".field-error")) { slot.hidden = true; slot.textContent = ""; }
  for (const slot of form.querySelectorAll("[aria-invalid]")) slot.removeAttribute("aria-invalid");
  form.querySelector("#form-errors").hidden = true;
}

function showProblems(form, problems) {
  const unplaced = [];
  for (const problem of problems) {
    const slot = problem.field ? slotFor(form, problem.field) : null;
    if (!slot) { unplaced.push(problem); continue; }
    const message = slot.querySelector(":scope > .field-error");
    const where = problem.field === slot.dataset.field ? "" : `${problem.field}: `;
    message.textContent = `${message.textContent ? `${message.textContent} ` : ""}✗ ${where}${problem.message}`;
    message.hidden = false;
    slot.setAttribute("aria-invalid", "true");
  }
  const general = form.querySelector("#form-errors");
  if (unplaced.length) mount(general, unplaced.map((p) => h("p", {}, `✗ ${p.field ? `${p.field}: ` : ""}${p.message}`)));
  general.hidden = !unplaced.length;
  (form.querySelector("[aria-invalid] input, [aria-invalid] select, [aria-invalid] textarea") ?? general).focus?.();
}

function newIdempotencyKey() {
  return globalThis.crypto?.randomUUID?.() ?? `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

export function submitView(main) {
  mount(main, h("h1", {}, "New audit"), h("p", { class: "muted" }, "Loading corpora…"));
  let idempotencyKey = newIdempotencyKey(); // a double click or a retry returns the same audit
  getJson("/v1/corpora?limit=200").then((body) => pageOf(body).items, () => []).then((corpora) => {
    const form = buildForm(corpora);
    form.addEventListener("input", () => { idempotencyKey = newIdempotencyKey(); });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearProblems(form);
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const created = await postJson("/v1/audits", await specOf(form), { "Idempotency-Key": idempotencyKey });
        location.hash = `#/audits/${encodeURIComponent(created.id)}`;
      } catch (error) {
        showProblems(form, error.problems ?? [{ field: "", message: error.message }]);
      } finally {
        button.disabled = false;
      }
    });
    mount(main, h("h1", {}, "New audit"), form);
  });
}
