"""Writing a report's three files and the result table the CLI prints."""

import json
import sys
from pathlib import Path

from service.specs.render import report_to_csv, report_to_html
from service.specs.report import Report, Summary

REPORT_FILES = ("report.json", "report.csv", "report.html")


def write_report(report: Report, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    contents = (
        json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False),
        report_to_csv(report),
        report_to_html(report),
    )
    paths = []
    for name, content in zip(REPORT_FILES, contents, strict=True):
        path = out_dir / name
        path.write_text(content, encoding="utf-8")
        paths.append(path)
    return paths


def exit_status(report: Report) -> int:
    """1 when a variant failed (named on stderr; its reason is in the report, already written), else 0."""
    failed = [f"{v.model} @ {v.precision_label}" for v in report.variants if v.error is not None]
    if not failed:
        return 0
    print(f"error: {len(failed)} variant(s) failed: {', '.join(failed)} (reasons in the report)", file=sys.stderr)
    return 1


def _cell(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _share(summary: Summary, model: str, label: str, metric: str) -> str:
    """verbmem_f=0.80[0.70,0.90]: the retained share with its paired interval."""
    cell = summary.cell(model, label, metric)
    share = summary.retained[model][label][metric]
    if cell is None or cell.retained.ci_low is None or cell.retained.ci_high is None:
        return f"{metric}={share:.2f}"
    return f"{metric}={share:.2f}[{cell.retained.ci_low:.2f},{cell.retained.ci_high:.2f}]"


def format_results_table(report: Report) -> str:
    """Metric values per variant, with retained share (and its interval), collision and verdict; then the overall
    verdict and its reasons."""
    metrics = list(dict.fromkeys(m for v in report.variants for m in v.metrics))
    header = ["model", "precision", *metrics, "retained", "collision", "verdict"]
    rows = [header]
    summary = report.summary
    for variant in report.variants:
        if variant.error is not None:
            rows.append([variant.model, variant.precision_label, *("-" for _ in metrics), "-", "-", "failed"])
            continue
        retained = summary.retained.get(variant.model, {}).get(variant.precision_label, {})
        shares = [
            _share(summary, variant.model, variant.precision_label, m) for m, s in retained.items() if s is not None
        ]
        rows.append(
            [
                variant.model,
                variant.precision_label,
                *(_cell(variant.metrics.get(m)) for m in metrics),
                " ".join(shares) or "-",
                _cell(variant.collision.overall, 4) if variant.collision else "-",
                summary.verdicts.get(variant.model, {}).get(variant.precision_label, "-"),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    lines.append("")
    lines.append(f"verdict: {(summary.verdict or 'none').upper()}")
    lines.extend(f"  - {reason.message}" for reason in summary.reasons)
    lines.extend(f"  - {metric} not measured: {reason}" for metric, reason in summary.skipped_metrics.items())
    return "\n".join(lines)
