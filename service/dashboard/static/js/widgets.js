// Small pieces shared by the pages: status and verdict badges, progress bars, messages, cancel.

import { postJson } from "./api.js";
import { h } from "./dom.js";
import { STATUS_SYMBOL, VERDICT_TEXT } from "./format.js";

export function statusBadge(status) {
  return h("span", { class: `badge status status-${status}` }, `${STATUS_SYMBOL[status] ?? "•"} ${status}`);
}

export function verdictBadge(verdict) {
  if (!verdict) return h("span", { class: "badge verdict verdict-none" }, "no verdict yet");
  const text = VERDICT_TEXT[verdict] ?? { symbol: "?", word: verdict };
  return h("span", { class: `badge verdict verdict-${verdict}`, dataset: { verdict } }, `${text.symbol} ${text.word}`);
}

/** One (model, precision, metric) cell's verdict, marked apart from the variant's own data-verdict. */
export function cellVerdictBadge(verdict) {
  const text = VERDICT_TEXT[verdict] ?? { symbol: "?", word: verdict };
  return h("span", { class: `badge verdict verdict-${verdict}`, dataset: { cellVerdict: verdict } },
    `${text.symbol} ${text.word}`);
}

/** A progress bar that states its percentage in text (screen readers and colour-blind eyes). */
export function progressBar(share, label = "progress") {
  if (share === null || share === undefined) return h("span", { class: "muted" }, "—");
  const percent = Math.round(Math.min(1, Math.max(0, share)) * 100);
  return h("div", { class: "progress", role: "progressbar", "aria-label": label, "aria-valuemin": 0,
      "aria-valuemax": 100, "aria-valuenow": percent },
    h("div", { class: "progress-fill", style: `width: ${percent}%` }),
    h("span", { class: "progress-text" }, `${percent} %`),
  );
}

export function errorMessage(error) {
  return h("p", { class: "message error", role: "alert" }, `✗ ${error.message}`);
}

export function isActive(status) {
  return status === "queued" || status === "running";
}

/** A cancel button for a queued or running audit; calls `after` once the API has answered. */
export function cancelButton(auditId, after) {
  const button = h("button", { type: "button", class: "danger", dataset: { action: "cancel" } }, "Cancel");
  button.addEventListener("click", async () => {
    if (!window.confirm(`Cancel audit ${auditId}? Results already stored are kept.`)) return;
    button.disabled = true;
    try {
      await postJson(`/v1/audits/${encodeURIComponent(auditId)}/cancel`, {});
    } catch (error) {
      button.replaceWith(errorMessage(error));
      return;
    }
    after();
  });
  return button;
}
