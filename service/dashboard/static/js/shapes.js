// Reading the API's answers (service/audits/schemas.py, service/pagination.py) into what the pages draw.

/** Bits per weight of a precision config (service/specs/precision.py); null for full precision. */
export function bitWidth(precision) {
  if (!precision || precision.method === "full") return null;
  if (precision.method === "bnb_int8") return 8;
  if (precision.method === "bnb_fp4" || precision.method === "bnb_nf4") return 4;
  return typeof precision.bits === "number" ? precision.bits : null;
}

/** One page of a list route: {items, total, limit, offset}. */
export function pageOf(body) {
  return { items: body?.items ?? [], total: body?.total ?? null };
}

/** Precision labels in display order: full first, then from most to fewest bits (stable otherwise). */
export function orderedPrecisions(variants) {
  const byLabel = new Map();
  for (const variant of variants) if (!byLabel.has(variant.precision_label)) byLabel.set(variant.precision_label, variant);
  const rank = (label) => bitWidth(byLabel.get(label).precision) ?? 1000;
  return [...byLabel.keys()].sort((a, b) => rank(b) - rank(a));
}
