// Bucket-collision rate per layer: rows are weight matrices, columns are (unlearned model, quantizer).
// Each cell prints its rate, so the map reads without colour; the shade only helps the eye.

import { h, s } from "../dom.js";

const CELL = { width: 128, height: 22 };
const LABEL_WIDTH = 260;
const HEADER_HEIGHT = 56;

/** Light (rate 0) to dark (rate 1) blue; text switches to white on dark cells. */
function shade(rate) {
  const lightness = 96 - 66 * Math.min(1, Math.max(0, rate));
  return { fill: `hsl(212 60% ${lightness}%)`, text: lightness < 55 ? "#fff" : "#111" };
}

function shortened(name, limit = 38) {
  return name.length <= limit ? name : `…${name.slice(name.length - limit + 1)}`;
}

function cell(column, layer, rate, x, y) {
  const colours = shade(rate);
  const text = `${column.model} at ${column.precision}, ${layer}: ${(rate * 100).toFixed(1)} % of codes equal`;
  return s("g", { class: "cell", dataset: { model: column.model, precision: column.precision, layer, value: String(rate) } },
    s("rect", { x, y, width: CELL.width - 2, height: CELL.height - 2, fill: colours.fill }, s("title", {}, text)),
    s("text", { x: x + CELL.width / 2 - 1, y: y + CELL.height / 2 + 3, "text-anchor": "middle", style: `fill: ${colours.text}` },
      rate.toFixed(3)),
  );
}

function columnHeader(column, x) {
  const approximate = column.approximate ? " ≈" : "";
  return s("text", { class: "column-label", x: x + CELL.width / 2, y: HEADER_HEIGHT - 24, "text-anchor": "middle" },
    s("tspan", { x: x + CELL.width / 2 }, column.model),
    s("tspan", { x: x + CELL.width / 2, dy: 14 }, column.precision + approximate),
  );
}

/** columns: [{model, precision, approximate, overall, perLayer: {layer: rate}}] */
export function collisionHeatmap(columns) {
  if (!columns.length) return h("p", { class: "empty" }, "No bucket-collision results in this audit.");
  const layers = [...new Set(columns.flatMap((c) => Object.keys(c.perLayer)))];
  const width = LABEL_WIDTH + columns.length * CELL.width;
  const height = HEADER_HEIGHT + (layers.length + 1) * CELL.height + 4;
  const rowY = (i) => HEADER_HEIGHT + i * CELL.height;
  const svg = s("svg", {
      class: "heatmap", viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
      "aria-label": "Bucket-collision rate per layer for each unlearned model and quantizer",
    },
    columns.map((column, ci) => columnHeader(column, LABEL_WIDTH + ci * CELL.width)),
    layers.map((layer, li) => [
      s("text", { class: "row-label", x: LABEL_WIDTH - 8, y: rowY(li) + CELL.height / 2 + 3, "text-anchor": "end" },
        shortened(layer), s("title", {}, layer)),
      columns.map((column, ci) => {
        const rate = column.perLayer[layer];
        return typeof rate === "number" ? cell(column, layer, rate, LABEL_WIDTH + ci * CELL.width, rowY(li)) : null;
      }),
    ]),
    s("text", { class: "row-label total", x: LABEL_WIDTH - 8, y: rowY(layers.length) + CELL.height / 2 + 3,
      "text-anchor": "end" }, "all layers"),
    columns.map((column, ci) =>
      cell(column, "all layers", column.overall, LABEL_WIDTH + ci * CELL.width, rowY(layers.length)),
    ),
  );
  return h("figure", { class: "heatmap-figure" },
    h("div", { class: "scroll-x", tabindex: "0" }, svg),
    h("figcaption", {}, "Share of weights whose quantized code is the same for the unlearned and the target model "
      + "(weight-level, needs no data). Near 1 at 4 bits means the quantized unlearned model is the quantized target. "
      + "≈ marks calibration-based quantizers, whose codes are approximate."));
}
