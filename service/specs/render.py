"""Report rendering, torch-free: CSV (one row per variant and metric) and a self-contained HTML page."""

import csv
import html
import io
from datetime import datetime

from service.specs.audit import Policy
from service.specs.metrics import KNOWLEDGE_METRICS, METRICS
from service.specs.naming import TARGET_NAME
from service.specs.report import Cell, IntervalEstimate, Report, VariantResult

CSV_COLUMNS = (
    "model", "precision", "metric", "value", "ci_low", "ci_high", "unit", "n_items", "n_truncated",
    "retained", "recovery", "verdict", "collision", "collision_moved", "skipped_reason",
    "retained_ci_low", "retained_ci_high", "recovery_ci_low", "recovery_ci_high", "cell_verdict", "error",
)  # fmt: skip

# Verdicts read without colour: a symbol and words everywhere they are shown.
VERDICT_TEXT = {
    "pass": "✓ pass",
    "fail": "✗ fail",
    "inconclusive": "? inconclusive",
    "utility_lost": "⚠ utility lost",
    "undefined": "∅ undefined",
}

PLOT_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
PLOT_DASHES = ("", "6 3", "2 3", "8 3 2 3")
PLOT_MARKERS = ("circle", "square", "triangle", "diamond")


def report_to_csv(report: Report) -> str:
    """Rows per variant and metric (a failed variant: one row with its `error`); an incomplete audit's CSV starts
    with `# INCOMPLETE ...` comment lines."""
    buffer = io.StringIO()
    buffer.write("".join(f"# {line}\n" for line in incomplete_lines(report)))
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    summary = report.summary
    for variant in report.variants:
        label = variant.precision_label
        if variant.error is not None:
            writer.writerow({"model": variant.model, "precision": label, "error": variant.error})
        for metric, value in variant.metrics.items():
            detail = variant.metric_details.get(metric)
            writer.writerow(
                {
                    "model": variant.model,
                    "precision": label,
                    "metric": metric,
                    "value": _csv_number(value),
                    "ci_low": _csv_number(detail.ci_low if detail else None),
                    "ci_high": _csv_number(detail.ci_high if detail else None),
                    "unit": detail.unit if detail else METRICS[metric].unit,
                    "n_items": detail.n_items if detail else "",
                    "n_truncated": detail.n_truncated if detail else "",
                    "retained": _csv_number(summary.retained.get(variant.model, {}).get(label, {}).get(metric)),
                    "recovery": _csv_number(summary.recovery.get(variant.model, {}).get(label, {}).get(metric)),
                    "verdict": summary.verdicts.get(variant.model, {}).get(label, ""),
                    "collision": _csv_number(variant.collision.overall if variant.collision else None),
                    "collision_moved": _csv_number(variant.collision.moved if variant.collision else None),
                    "skipped_reason": (detail.skipped_reason or "") if detail else "",
                    **_cell_columns(summary.cell(variant.model, label, metric)),
                }
            )
    return buffer.getvalue()


def _cell_columns(cell: Cell | None) -> dict[str, str]:
    """The cell's own verdict and, unless undefined (a share of noise), its shares with their paired intervals
    (knowmem_r: the utility share). Only the unlearned models' judged metrics have cells."""
    if cell is None:
        return {}
    if cell.verdict == "undefined":
        return {"cell_verdict": cell.verdict}
    return {
        "retained": _csv_number(cell.retained.value),
        "recovery": _csv_number(cell.recovery.value),
        "retained_ci_low": _csv_number(cell.retained.ci_low),
        "retained_ci_high": _csv_number(cell.retained.ci_high),
        "recovery_ci_low": _csv_number(cell.recovery.ci_low),
        "recovery_ci_high": _csv_number(cell.recovery.ci_high),
        "cell_verdict": cell.verdict,
    }


def _csv_number(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def report_to_html(report: Report) -> str:
    """One page with no external asset: verdicts, results matrix, retained-share plot, collision, evidence.

    It opens with the header a compliance reader needs (audit, times, policy, models); an incomplete audit's page
    opens with the INCOMPLETE stamp above it and states no verdict."""
    sections = [
        _incomplete_stamp(report) if not report.complete else "",
        _header_section(report),
        _verdict_section(report) if report.complete else "",
        _matrix_section(report),
        _plot_section(report),
        _collision_section(report),
        _evidence_section(report),
        _provenance_section(report),
    ]
    title = "Unlearning quantization audit"
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{title}</title><style>{_CSS}</style></head><body>"
        f"<h1>{title}</h1>" + "".join(sections) + "</body></html>"
    )


_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5rem;max-width:75rem;color:#1a1a1a}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:.9rem}
th,td{border:1px solid #bbb;padding:.25rem .5rem;text-align:right}th{background:#f0f0f0}
td.l,th.l{text-align:left}.pass{color:#17622a}.fail{color:#a3161a;font-weight:bold}
.utility_lost{color:#8a5a00;font-weight:bold}.failed{color:#a3161a}.note{color:#555;font-size:.85rem}
.inconclusive{color:#5a3d8a;font-style:italic}.undefined{color:#555;font-style:italic}
pre{white-space:pre-wrap;max-width:30rem;margin:0;font-size:.8rem}
.stamp{border:3px solid #a3161a;padding:.5rem 1rem;margin:1rem 0}.stamp h2{color:#a3161a;margin:.25rem 0}
"""


def incomplete_lines(report: Report) -> list[str]:
    """The INCOMPLETE stamp as lines of text (none for a complete report): status, runs, audit id and times."""
    audit = report.audit
    if audit is None or audit.complete:
        return []
    runs = audit.runs
    return [
        f"INCOMPLETE: audit {audit.status}, no verdict is stated",
        f"runs: {runs.done} done, {runs.cancelled} cancelled, {runs.failed} failed, of {runs.total}",
        f"audit {audit.id}; submitted {_time(audit.submitted_at)}; started {_time(audit.started_at)}; "
        f"finished {_time(audit.finished_at)}",
    ]


def _time(moment: datetime | None) -> str:
    return "-" if moment is None else moment.isoformat(timespec="seconds")


def _incomplete_stamp(report: Report) -> str:
    lines = incomplete_lines(report)
    return (
        f"<div class='stamp' role='alert'><h2>{html.escape(lines[0])}</h2>"
        + "".join(f"<p>{html.escape(line)}</p>" for line in lines[1:])
        + "</div>"
    )


def _header_section(report: Report) -> str:
    """Which audit, when, judged by which policy, on exactly which models."""
    return (
        f"<h2>Audit</h2><table class='header'>{_audit_rows(report)}</table>"
        f"<h2>Policy</h2>{_policy_table(report)}<h2>Models</h2>{_models_table(report)}"
    )


def _audit_rows(report: Report) -> str:
    audit, provenance = report.audit, report.provenance
    rows: list[tuple[str, str]] = []
    if audit is not None:
        rows += [("audit id", audit.id), ("name", audit.name or "-"), ("status", audit.status)]
        rows += [("submitted", _time(audit.submitted_at)), ("started", _time(audit.started_at))]
        rows += [("finished", _time(audit.finished_at))]
    else:  # written by the CLI: no audit record, the run's own times
        rows += [("started", provenance.started_at or "-"), ("finished", provenance.finished_at or "-")]
    rows += [("corpus", str(report.spec.get("corpus", "-"))), ("seed", str(report.spec.get("seed", "-")))]
    return "".join(f"<tr><th class='l'>{name}</th><td class='l'>{html.escape(value)}</td></tr>" for name, value in rows)


def _policy_table(report: Report) -> str:
    policy = Policy.model_validate(report.spec.get("policy", {}))
    rows = "".join(
        f"<tr><th class='l'>{name}</th><td>{html.escape(str(getattr(policy, name)))}</td>"
        f"<td class='l note'>{html.escape(field.description or '')}</td></tr>"
        for name, field in Policy.model_fields.items()
    )
    return f"<table><tr><th class='l'>field</th><th>value</th><th class='l'>meaning</th></tr>{rows}</table>"


def _models_table(report: Report) -> str:
    """Each model: its source, and the resolved revision (hub) or content digest (local folder) it was run at."""
    recorded = report.provenance.models
    rows = "".join(
        f"<tr><th class='l'>{html.escape(name)}</th><td class='l'>{html.escape(role)}</td>"
        f"<td class='l'>{html.escape(recorded[name].source if name in recorded else source)}</td>"
        f"<td class='l'>{html.escape(_identity(report, name, requested))}</td></tr>"
        for name, role, source, requested in _spec_models(report.spec)
    )
    return (
        "<table><tr><th class='l'>model</th><th class='l'>role</th><th class='l'>source</th>"
        f"<th class='l'>revision or content digest</th></tr>{rows}</table>"
    )


def _spec_models(spec: dict) -> list[tuple[str, str, str, str | None]]:
    """(name, role, source, requested revision) of every model of the spec, target first."""
    target = spec.get("target") or {}
    models = [(TARGET_NAME, "target", str(target.get("model", "")), target.get("revision"))]
    models += [(m["name"], "unlearned (given)", m["model"], m.get("revision")) for m in spec.get("unlearned", [])]
    models += [(u["name"], f"unlearned by the audit ({u['method']})", "made by this audit", None)
               for u in spec.get("unlearning", [])]  # fmt: skip
    return models


def _identity(report: Report, name: str, requested: str | None) -> str:
    model = report.provenance.models.get(name)
    if model is not None and (model.revision or model.content_sha256):
        return f"commit {model.revision}" if model.revision else model.content_sha256 or ""
    return f"{requested} (requested; not recorded yet)" if requested else "not recorded yet"


def _verdict_section(report: Report) -> str:
    summary = report.summary
    verdict = summary.verdict or "none"
    labels = [label for label in _precision_labels(report)]
    rows = "".join(
        f"<tr><th class='l'>{html.escape(model)}</th>"
        + "".join(_verdict_cell(per_precision.get(label)) for label in labels)
        + "</tr>"
        for model, per_precision in summary.verdicts.items()
    )
    header = "".join(f"<th>{html.escape(label)}</th>" for label in labels)
    reasons = "".join(
        f"<li><code>{reason.code}</code> {html.escape(reason.message)}</li>" for reason in summary.reasons
    )
    skipped = "".join(
        f"<li>{html.escape(metric)} not measured: {html.escape(reason)}</li>"
        for metric, reason in summary.skipped_metrics.items()
    )
    return (
        f"<h2>Verdict: <span class='{verdict}'>{VERDICT_TEXT.get(verdict, verdict).upper()}</span></h2>"
        f"<table><tr><th class='l'>model</th>{header}</tr>{rows}</table>"
        f"<ul>{reasons}{skipped}</ul>"
    )


def _verdict_cell(verdict: str | None) -> str:
    return "<td>n/a</td>" if verdict is None else f"<td class='{verdict}'>{VERDICT_TEXT[verdict]}</td>"


def _precision_labels(report: Report) -> list[str]:
    return list(dict.fromkeys(v.precision_label for v in report.variants))


def _matrix_section(report: Report) -> str:
    metrics = list(dict.fromkeys(m for v in report.variants for m in v.metrics))
    header = "".join(
        f"<th title='{html.escape(METRICS[m].definition)}'>{html.escape(METRICS[m].title)}<br>"
        f"<span class='note'>{html.escape(METRICS[m].unit)}; {html.escape(METRICS[m].direction)}</span></th>"
        for m in metrics
    )
    rows = []
    for variant in report.variants:
        if variant.error is not None:
            rows.append(_failed_row(variant, len(metrics) + 1))
            continue
        cells = []
        for metric in metrics:
            detail = variant.metric_details.get(metric)
            interval = (
                f" <span class='note'>[{_fmt(detail.ci_low)}, {_fmt(detail.ci_high)}]</span>"
                if detail and detail.ci_low is not None
                else ""
            )
            judged = _judged(report.summary.cell(variant.model, variant.precision_label, metric))
            cells.append(f"<td>{_fmt(variant.metrics.get(metric))}{interval}{judged}</td>")
        collision = _fmt(variant.collision.moved, 4) if variant.collision else ""
        rows.append(
            f"<tr><th class='l'>{html.escape(variant.model)}</th><td class='l'>{html.escape(variant.precision_label)}"
            f"</td>{''.join(cells)}<td>{collision}</td></tr>"
        )
    return (
        "<h2>Results</h2><table><tr><th class='l'>model</th><th class='l'>precision</th>"
        f"{header}<th>bucket collision<br><span class='note'>share of moved weights</span></th></tr>"
        f"{''.join(rows)}</table>"
    )


def _failed_row(variant: VariantResult, span: int) -> str:
    """A variant that failed: its reason across the row, no value, no verdict."""
    return (
        f"<tr><th class='l'>{html.escape(variant.model)}</th><td class='l'>{html.escape(variant.precision_label)}"
        f"</td><td class='l failed' colspan='{span}'>✗ variant failed, no verdict: {html.escape(variant.error or '')}"
        "</td></tr>"
    )


def _judged(cell: Cell | None) -> str:
    """A cell's shares with their paired intervals and its verdict in words (undefined: why, no share)."""
    if cell is None:
        return ""
    verdict = f"<span class='{cell.verdict}'>{VERDICT_TEXT[cell.verdict]}</span>"
    if cell.verdict == "undefined":
        why = "; ".join(reason.message for reason in cell.reasons)
        return f"<br><span class='note' title='{html.escape(why)}'>{verdict}: no share</span>"
    name = "utility share" if cell.metric not in KNOWLEDGE_METRICS else "retained"
    recovery = "" if cell.precision_label == "full" else f"; recovery {_estimate(cell.recovery, signed=True)}"
    return f"<br><span class='note'>{name} {_estimate(cell.retained)}{recovery}</span><br>{verdict}"


def _estimate(estimate: IntervalEstimate, signed: bool = False) -> str:
    low, value, high = (("n/a" if v is None else f"{v:{'+' if signed else ''}.2f}")
                        for v in (estimate.ci_low, estimate.value, estimate.ci_high))  # fmt: skip
    return f"{value} [{low}, {high}]"


def _plot_section(report: Report) -> str:
    """Retained share against precision, one line per (model, knowledge metric)."""
    labels = _precision_labels(report)
    series = [
        (model, metric, [per_precision.get(label, {}).get(metric) for label in labels])
        for model, per_precision in report.summary.retained.items()
        for metric in KNOWLEDGE_METRICS
        if any(per_precision.get(label, {}).get(metric) is not None for label in labels)
    ]
    if not series or not labels:
        return "<h2>Retained share vs precision</h2><p class='note'>No retained share could be computed.</p>"
    return "<h2>Retained share of the target's forget knowledge vs precision</h2>" + svg_line_plot(labels, series)


def svg_line_plot(labels: list[str], series: list[tuple[str, str, list[float | None]]]) -> str:
    width, height, left, bottom, top = 760, 320, 56, 90, 16
    plot_w, plot_h = width - left - 200, height - bottom - top
    highest = max([1.0, *[v for _, _, values in series for v in values if v is not None]])
    x = lambda i: left + (plot_w * (i + 0.5) / len(labels))  # noqa: E731
    y = lambda v: top + plot_h * (1 - v / highest)  # noqa: E731
    parts = [f"<svg role='img' aria-label='retained share vs precision' viewBox='0 0 {width} {height}' "
             f"width='100%' style='max-width:{width}px' xmlns='http://www.w3.org/2000/svg'>"]  # fmt: skip
    for tick in range(0, 11, 2):
        value = highest * tick / 10
        parts.append(
            f"<line x1='{left}' x2='{left + plot_w}' y1='{y(value):.1f}' y2='{y(value):.1f}' stroke='#ddd'/>"
            f"<text x='{left - 6}' y='{y(value) + 4:.1f}' font-size='11' text-anchor='end'>{value:.1f}</text>"
        )
    for i, label in enumerate(labels):
        parts.append(
            f"<text transform='translate({x(i):.1f},{top + plot_h + 12}) rotate(35)' font-size='11'>"
            f"{html.escape(label)}</text>"
        )
    for n, (model, metric, values) in enumerate(series):
        colour, dash = PLOT_COLOURS[n % len(PLOT_COLOURS)], PLOT_DASHES[n % len(PLOT_DASHES)]
        points = [(x(i), y(v)) for i, v in enumerate(values) if v is not None]
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        parts.append(
            f"<polyline points='{path}' fill='none' stroke='{colour}' stroke-width='2' stroke-dasharray='{dash}'>"
            f"<title>{html.escape(model)} {metric}</title></polyline>"
        )
        parts.extend(_marker(n, px, py, colour) for px, py in points)
        legend_y = top + 14 * n + 8
        parts.append(
            f"<line x1='{left + plot_w + 12}' x2='{left + plot_w + 36}' y1='{legend_y}' y2='{legend_y}' "
            f"stroke='{colour}' stroke-width='2' stroke-dasharray='{dash}'/>"
            f"<text x='{left + plot_w + 40}' y='{legend_y + 4}' font-size='11'>"
            f"{html.escape(model)} · {metric}</text>"
        )
    parts.append(
        f"<text x='14' y='{top + plot_h / 2}' font-size='11' transform='rotate(-90 14 {top + plot_h / 2})' "
        "text-anchor='middle'>retained share</text></svg>"
    )
    return "".join(parts)


def _marker(n: int, px: float, py: float, colour: str) -> str:
    shape = PLOT_MARKERS[n % len(PLOT_MARKERS)]
    if shape == "circle":
        return f"<circle cx='{px:.1f}' cy='{py:.1f}' r='3.5' fill='{colour}'/>"
    if shape == "square":
        return f"<rect x='{px - 3.5:.1f}' y='{py - 3.5:.1f}' width='7' height='7' fill='{colour}'/>"
    offsets = ((0, -4), (-4, 3.5), (4, 3.5)) if shape == "triangle" else ((0, -4.5), (4.5, 0), (0, 4.5), (-4.5, 0))
    points = " ".join(f"{px + dx:.1f},{py + dy:.1f}" for dx, dy in offsets)
    return f"<polygon points='{points}' fill='{colour}'/>"


def _collision_section(report: Report) -> str:
    """Per (unlearned model, quantizer): the share of moved weights whose code stayed the target's, explained."""
    rows = [
        f"<tr><th class='l'>{html.escape(v.model)}</th><td class='l'>{html.escape(v.precision_label)}</td>"
        f"<td>{_fmt(v.collision.moved, 4)}</td><td>{v.collision.n_moved}</td>"
        f"<td>{_fmt(v.collision.overall, 4)}</td><td>{_fmt(v.collision.scales_equal, 4)}</td>"
        f"<td>{v.collision.n_weights}</td><td>{'approximate' if v.collision.approximate else 'exact'}</td></tr>"
        for v in report.variants
        if v.collision is not None
    ]
    if not rows:
        return ""
    return (
        "<h2>Bucket collision: how much of the unlearning update quantization erases</h2>"
        "<p class='note'>Of the weights that unlearning changed (they differ from the target's at full precision), "
        "the share whose quantized code is still the target's: at that precision those changes are erased, so a "
        "share near 1 explains knowledge coming back. The share over all quantized weights is near 1 whenever "
        "most weights were never touched, and says little by itself.</p><table><tr>"
        "<th class='l'>model</th><th class='l'>precision</th><th>moved weights with the target's code</th>"
        "<th>moved weights</th><th>equal codes, all weights</th><th>equal scales</th>"
        f"<th>weights</th><th>codes</th></tr>{''.join(rows)}</table>"
    )


def risen_items(report: Report, limit: int = 20) -> list[tuple[str, str, str, int, float, float]]:
    """Forget items of unlearned models that rose: their score at a quantized precision exceeds their own at full
    precision by more than the policy's `item_rise`, largest rise first: (model, precision, metric, index, full
    score, quantized score). Never the target's items, nor PrivLeak texts."""
    rise = item_rise(report)
    full = {
        (i.model, i.metric, i.index): i.score
        for i in report.items
        if i.precision_label == "full" and i.metric in KNOWLEDGE_METRICS
    }
    rises = [
        (i.model, i.precision_label, i.metric, i.index, full[key], i.score)
        for i in report.items
        if i.precision_label != "full" and i.model != TARGET_NAME
        and (key := (i.model, i.metric, i.index)) in full and i.score > full[key] + rise
    ]  # fmt: skip
    return sorted(rises, key=lambda r: r[5] - r[4], reverse=True)[:limit]


def item_rise(report: Report) -> float:
    return Policy.model_validate(report.spec.get("policy", {})).item_rise


def _evidence_section(report: Report) -> str:
    items = {(i.model, i.precision_label, i.metric, i.index): i for i in report.items}
    rows = []
    for model, label, metric, index, before, after in risen_items(report):
        quantized, at_full = items[(model, label, metric, index)], items.get((model, "full", metric, index))
        rows.append(
            f"<tr><th class='l'>{html.escape(model)}</th><td class='l'>{html.escape(label)}</td>"
            f"<td class='l'>{metric} #{index}</td><td>{before:.2f} → {after:.2f}</td>"
            f"<td class='l'><pre>{html.escape(quantized.truth or '')}</pre></td>"
            f"<td class='l'><pre>{html.escape((at_full.output if at_full else '') or '')}</pre></td>"
            f"<td class='l'><pre>{html.escape(quantized.output or '')}</pre></td></tr>"
        )
    if not rows:
        so_far = "" if report.complete else " in the runs stored so far"
        return (
            f"<h2>Evidence</h2><p class='note'>No forget item of an unlearned model scored more than "
            f"{item_rise(report):g} higher after quantization than at full precision{so_far}.</p>"
        )
    return (
        "<h2>Evidence: forget items that came back with quantization</h2>"
        f"<p class='note'>Items of unlearned models whose score rose by more than {item_rise(report):g} "
        "(the policy's item_rise) over their own score at full precision.</p><table><tr><th class='l'>model</th>"
        "<th class='l'>precision</th><th class='l'>item</th><th>score</th><th class='l'>ground truth</th>"
        f"<th class='l'>output at full</th><th class='l'>output quantized</th></tr>{''.join(rows)}</table>"
    )


def _provenance_section(report: Report) -> str:
    p = report.provenance
    models = "".join(
        f"<li>{html.escape(m.name)}: {html.escape(m.source)} @ {html.escape(m.revision or 'local')} "
        f"({html.escape(m.dtype or '?')}, {m.n_parameters or 0:,} parameters)</li>"
        for m in p.models.values()
    )
    versions = ", ".join(f"{html.escape(k)} {html.escape(v)}" for k, v in p.library_versions.items())
    return (
        "<h2>Provenance</h2><ul>"
        f"{models}<li>corpus sha256 {html.escape(p.corpus_sha256 or '?')}</li><li>seed {p.seed}</li>"
        f"<li>device {html.escape(p.device or '?')}</li><li>{versions}</li>"
        f"<li>schema {html.escape(report.schema_version)}</li></ul>"
    )
