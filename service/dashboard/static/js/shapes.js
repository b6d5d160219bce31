// Reading the API's answers (DESIGN 5, service/specs/report.py) into what the pages draw.

/** Bits per weight of a precision config; null for full precision. */
export function bitWidth(precision) {
  if (!precision || precision.method === "full") return null;
  if (precision.method === "bnb_int8") return 8;
  if (precision.method === "bnb_fp4" || precision.method === "bnb_nf4") return 4;
  return typeof precision.bits === "number" ? precision.bits : null;
}

/** A list page: the audits and how to get the next page, whatever the pagination style. */
export function pageOf(body) {
  const items = Array.isArray(body) ? body : body?.items ?? body?.audits ?? body?.corpora ?? [];
  return { items, total: body?.total ?? null, nextCursor: body?.next_cursor ?? body?.next ?? null };
}

/** The share of an audit's work done, in [0, 1], or null when the API gives none. */
export function shareDone(audit) {
  const progress = audit.progress;
  if (typeof progress === "number") return progress;
  if (progress && typeof progress === "object") {
    const share = progress.share_done ?? progress.overall ?? progress.done_share;
    if (typeof share === "number") return share;
  }
  if (typeof audit.share_done === "number") return audit.share_done;
  return null;
}

export function modelsOf(audit) {
  if (Array.isArray(audit.models)) return audit.models;
  const spec = audit.spec ?? {};
  return ["target", ...(spec.unlearned ?? []).map((m) => m.name), ...(spec.unlearning ?? []).map((u) => u.name)];
}

export function precisionsOf(audit) {
  if (Array.isArray(audit.precisions)) return audit.precisions.map((p) => (typeof p === "string" ? p : p.label ?? p.method));
  return (audit.spec?.precisions ?? []).map((p) => p.label ?? p.method);
}

export function verdictOf(audit) {
  return audit.verdict ?? audit.summary?.verdict ?? null;
}

/** Precision labels in display order: full first, then from most to fewest bits (stable otherwise). */
export function orderedPrecisions(variants) {
  const byLabel = new Map();
  for (const variant of variants) if (!byLabel.has(variant.precision_label)) byLabel.set(variant.precision_label, variant);
  const rank = (label) => bitWidth(byLabel.get(label).precision) ?? 1000;
  return [...byLabel.keys()].sort((a, b) => rank(b) - rank(a));
}

/** The runs of an audit with their status and progress, from GET /v1/audits/{id}. */
export function runsOf(audit) {
  return audit.runs ?? audit.progress?.runs ?? [];
}
