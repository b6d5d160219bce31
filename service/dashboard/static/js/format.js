// How numbers, times and verdicts are written on every page (one place, so pages agree).

/** A metric value: fractions with 3 decimals, percentages with 1; null as an em dash. */
export function formatValue(value, unit = "") {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return unit.startsWith("percent") ? `${value.toFixed(1)} %` : value.toFixed(3);
}

/** A share in [0, 1] as a percentage. */
export function formatShare(share) {
  if (share === null || share === undefined || Number.isNaN(share)) return "—";
  return `${(share * 100).toFixed(1)} %`;
}

/** A signed share difference (recovery) as percentage points. */
export function formatPoints(delta) {
  if (delta === null || delta === undefined || Number.isNaN(delta)) return "—";
  const sign = delta > 0 ? "+" : delta < 0 ? "−" : "±";
  return `${sign}${Math.abs(delta * 100).toFixed(1)} pp`;
}

const TIME_FORMAT = { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
  second: "2-digit", timeZoneName: "short" };

/** A time in the reader's zone, with the zone named (e.g. "Dec 2, 2026, 07:20:56 UTC"). */
export function formatTime(isoText) {
  if (!isoText) return "—";
  const date = new Date(isoText);
  return Number.isNaN(date.getTime()) ? isoText : date.toLocaleString(undefined, TIME_FORMAT);
}

/** Verdicts carry a symbol and a word so that they read without colour. */
export const VERDICT_TEXT = {
  pass: { symbol: "✓", word: "pass" },
  fail: { symbol: "✗", word: "fail" },
  utility_lost: { symbol: "⚠", word: "utility lost" },
  inconclusive: { symbol: "?", word: "inconclusive" },
  undefined: { symbol: "∅", word: "undefined" },
};

/** Job states have their own symbols, none shared with a verdict: "succeeded" says the job ran, not that the
 * model passed. */
export const STATUS_SYMBOL = {
  queued: "◷",
  running: "▶",
  succeeded: "●",
  failed: "⨯",
  cancelled: "■",
};
