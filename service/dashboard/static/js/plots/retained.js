// Retained share of the target's forget knowledge against precision, one line per (model, metric).
// Lines differ by marker shape (metric) and dash pattern (model) as well as by colour, so the plot
// reads in grey scale too; every point carries its number in a tooltip and in data attributes.

import { h, s } from "../dom.js";
import { formatShare } from "../format.js";

const SIZE = { width: 680, height: 300, left: 56, right: 64, top: 24, bottom: 56 };
const DASHES = ["", "6 4", "2 3", "10 3 2 3", "1 5"];
const COLOURS = ["#1b5e9e", "#b3541e", "#2e7d32", "#6a3d9a", "#8c6d1f"];

function marker(shape, x, y, attributes, ...children) {
  const r = 5;
  if (shape === "square") return s("rect", { x: x - r, y: y - r, width: 2 * r, height: 2 * r, ...attributes }, children);
  if (shape === "triangle") {
    const points = `${x},${y - r - 1} ${x - r - 1},${y + r} ${x + r + 1},${y + r}`;
    return s("polygon", { points, ...attributes }, children);
  }
  if (shape === "diamond") {
    const points = `${x},${y - r - 1} ${x + r + 1},${y} ${x},${y + r + 1} ${x - r - 1},${y}`;
    return s("polygon", { points, ...attributes }, children);
  }
  return s("circle", { cx: x, cy: y, r, ...attributes }, children);
}

const SHAPES = ["circle", "square", "triangle", "diamond"];

function scales(precisions, maxShare) {
  const innerWidth = SIZE.width - SIZE.left - SIZE.right;
  const innerHeight = SIZE.height - SIZE.top - SIZE.bottom;
  const step = precisions.length > 1 ? innerWidth / (precisions.length - 1) : 0;
  const xOf = (index) => SIZE.left + (precisions.length > 1 ? index * step : innerWidth / 2);
  const yOf = (share) => SIZE.top + innerHeight * (1 - share / maxShare);
  return { xOf, yOf };
}

function axes(precisions, maxShare, { xOf, yOf }) {
  const step = maxShare <= 2 ? 0.25 : 0.5;
  const ticks = Array.from({ length: Math.floor(maxShare / step + 1e-9) + 1 }, (_, i) => i * step);
  return [
    ...ticks.map((t) => [
      s("line", { class: "grid", x1: SIZE.left, x2: SIZE.width - SIZE.right, y1: yOf(t), y2: yOf(t) }),
      s("text", { class: "tick", x: SIZE.left - 6, y: yOf(t) + 4, "text-anchor": "end" }, `${Math.round(t * 100)}%`),
    ]),
    ...precisions.map((label, i) =>
      s("text", { class: "tick", x: xOf(i), y: SIZE.height - SIZE.bottom + 18, "text-anchor": "middle" }, label),
    ),
    s("text", { class: "axis-title", x: SIZE.width / 2, y: SIZE.height - 8, "text-anchor": "middle" }, "precision"),
    s("text", { class: "axis-title", transform: `translate(14 ${SIZE.height / 2 - 20}) rotate(-90)`, "text-anchor": "middle" },
      "retained share"),
  ];
}

function threshold(maxRetained, { yOf }) {
  if (maxRetained === undefined || maxRetained === null) return null;
  const y = yOf(maxRetained);
  return [
    s("line", { class: "threshold", x1: SIZE.left, x2: SIZE.width - SIZE.right, y1: y, y2: y }),
    s("text", { class: "threshold-label", x: SIZE.left + 4, y: y - 4 },
      `policy max ${formatShare(maxRetained)}`),
  ];
}

/** Points of one series: gaps where the share is undefined (the target showed nothing). */
function seriesPath(points) {
  let path = "";
  let pen = "M";
  for (const point of points) {
    if (point.share === null || point.share === undefined) {
      pen = "M";
      continue;
    }
    path += `${pen}${point.x.toFixed(1)},${point.y.toFixed(1)} `;
    pen = "L";
  }
  return path.trim();
}

function legend(series) {
  return h("ul", { class: "legend" },
    series.map((line) =>
      h("li", {},
        s("svg", { width: 44, height: 14, "aria-hidden": "true" },
          s("line", { x1: 2, x2: 42, y1: 7, y2: 7, stroke: line.colour, "stroke-width": 2, "stroke-dasharray": line.dash }),
          marker(line.shape, 22, 7, { fill: line.colour })),
        ` ${line.model} · ${line.metricTitle}`),
    ),
  );
}

/**
 * retained: {model: {precision_label: {metric: share|null}}}; precisions: labels in display order;
 * metrics: [{name, title}] of the knowledge metrics; models: the unlearned models.
 */
export function retainedPlot({ retained, precisions, metrics, models, maxRetained }) {
  const shares = models.flatMap((m) => precisions.flatMap((p) => metrics.map((k) => retained?.[m]?.[p]?.[k.name])));
  const finite = shares.filter((v) => typeof v === "number");
  if (!finite.length) return h("p", { class: "empty" }, "No retained share is defined for these results.");
  const maxShare = Math.max(1, Math.ceil(Math.max(...finite) * 4) / 4);
  const scale = scales(precisions, maxShare);
  const series = models.flatMap((model, mi) =>
    metrics.map((metric, ki) => ({
      model, metricTitle: metric.title, metric: metric.name,
      colour: COLOURS[(mi * metrics.length + ki) % COLOURS.length], dash: DASHES[mi % DASHES.length],
      shape: SHAPES[ki % SHAPES.length],
      points: precisions.map((label, i) => {
        const share = retained?.[model]?.[label]?.[metric.name] ?? null;
        return { label, share, x: scale.xOf(i), y: share === null ? null : scale.yOf(share) };
      }),
    })),
  );
  const svg = s("svg", {
      class: "plot", viewBox: `0 0 ${SIZE.width} ${SIZE.height}`, role: "img",
      "aria-label": "Retained share of the target's forget knowledge at each precision",
    },
    axes(precisions, maxShare, scale),
    threshold(maxRetained, scale),
    series.map((line) => s("g", { class: "series", dataset: { model: line.model, metric: line.metric } },
      s("path", { d: seriesPath(line.points), fill: "none", stroke: line.colour, "stroke-width": 2,
        "stroke-dasharray": line.dash }),
      line.points.filter((p) => p.share !== null).map((p) =>
        marker(line.shape, p.x, p.y, {
          class: "point", fill: line.colour, stroke: "#fff", "stroke-width": 1,
          dataset: { model: line.model, metric: line.metric, precision: p.label, value: String(p.share) },
        }, s("title", {}, `${line.model} · ${line.metricTitle} at ${p.label}: ${formatShare(p.share)}`)),
      ),
    )),
  );
  return h("figure", { class: "plot-figure" }, svg, legend(series),
    h("figcaption", {}, "Share of the target's forget-set knowledge that each unlearned model still shows, "
      + "measured against the target at the same precision. Above the dashed line the policy fails."));
}
