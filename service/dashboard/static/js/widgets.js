// Small pieces shared by the pages: job status and model verdict badges (labelled in words, so that the two
// never read alike), times with their zone, labels, progress bars, messages, cancel.

import { postJson } from "./api.js";
import { h } from "./dom.js";
import { formatTime, STATUS_SYMBOL, VERDICT_TEXT } from "./format.js";

/** The state of a job ("job") or of one of its runs ("run"): whether the work ran, not what it found. */
export function statusBadge(status, noun = "job") {
  return h("span", { class: `badge status status-${status}`, title: `${noun} status` },
    h("span", { class: "badge-label" }, `${noun}: `), `${STATUS_SYMBOL[status] ?? "•"} ${status}`);
}

/** What the audit found about the models; none while the job runs, or when it ended without one. */
export function verdictBadge(verdict, status) {
  const label = h("span", { class: "badge-label" }, "verdict: ");
  if (!verdict) {
    return h("span", { class: "badge verdict verdict-none", title: "model verdict" }, label,
      isActive(status) ? "not yet" : "none");
  }
  const text = VERDICT_TEXT[verdict] ?? { symbol: "?", word: verdict };
  return h("span", { class: `badge verdict verdict-${verdict}`, dataset: { verdict }, title: "model verdict" }, label,
    `${text.symbol} ${text.word}`);
}

/** A time with its zone; the exact instant (ISO 8601, UTC) on hover and for machines. */
export function timeAt(isoText) {
  return isoText ? h("time", { datetime: isoText, title: isoText }, formatTime(isoText)) : "—";
}

/** Labels as `key: value` chips; `onPick(key, value)` makes each a button (e.g. to filter on it). */
export function labelChips(labels, onPick) {
  const entries = Object.entries(labels ?? {});
  if (!entries.length) return null;
  return h("span", { class: "labels" }, entries.map(([key, value]) => {
    const text = `${key}: ${value}`;
    if (!onPick) return h("span", { class: "label-chip", dataset: { label: `${key}:${value}` } }, text);
    return h("button", { type: "button", class: "label-chip", dataset: { label: `${key}:${value}` },
      title: `show only audits labelled ${text}`, onclick: () => onPick(key, value) }, text);
  }));
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
