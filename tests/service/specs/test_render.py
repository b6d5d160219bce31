import csv
import io
import re

from service.specs.render import report_to_csv, report_to_html, risen_items
from service.specs.report import (
    Cell,
    CollisionResult,
    IntervalEstimate,
    ItemRecord,
    MetricResult,
    Report,
    Summary,
    VariantResult,
)


def cell(label, verdict, retained, recovery):
    return Cell(model="u", precision_label=label, metric="verbmem_f", target_value=0.8, value=0.2, verdict=verdict,
                retained=IntervalEstimate(value=retained[0], ci_low=retained[1], ci_high=retained[2]),
                recovery=IntervalEstimate(value=recovery[0], ci_low=recovery[1], ci_high=recovery[2]))  # fmt: skip


def make_report() -> Report:
    def variant(model, label, value, collision=None):
        return VariantResult(
            model=model,
            precision={"method": "full"} if label == "full" else {"method": "rtn", "bits": 4},
            precision_label=label,
            metrics={"verbmem_f": value},
            metric_details={
                "verbmem_f": MetricResult(value=value, ci_low=value - 0.1, ci_high=value + 0.1, unit="fraction",
                                          direction="lower", n_items=2)
            },
            collision=collision,
        )  # fmt: skip

    collision = CollisionResult(overall=0.9987, per_layer={"model.layers.0.mlp.up_proj.weight": 0.9987}, n_weights=10)
    items = [
        ItemRecord(model="u", precision_label="full", metric="verbmem_f", index=0, score=0.1, output="lost <it>",
                   truth="the truth"),
        ItemRecord(model="u", precision_label="rtn-w4-g128-asym", metric="verbmem_f", index=0, score=0.9,
                   output="the truth again", truth="the truth"),
        ItemRecord(model="u", precision_label="full", metric="verbmem_f", index=1, score=0.5, output="x", truth="y"),
        ItemRecord(model="u", precision_label="rtn-w4-g128-asym", metric="verbmem_f", index=1, score=0.4, output="x",
                   truth="y"),
    ]  # fmt: skip
    return Report(
        spec={"corpus": "c"},
        variants=[
            variant("target", "full", 0.8),
            variant("target", "rtn-w4-g128-asym", 0.8),
            variant("u", "full", 0.2),
            variant("u", "rtn-w4-g128-asym", 0.6, collision),
        ],
        items=items,
        summary=Summary(
            retained={"u": {"full": {"verbmem_f": 0.25}, "rtn-w4-g128-asym": {"verbmem_f": 0.75}}},
            recovery={"u": {"full": {"verbmem_f": 0.0}, "rtn-w4-g128-asym": {"verbmem_f": 0.5}}},
            verdicts={"u": {"full": "pass", "rtn-w4-g128-asym": "fail"}},
            verdict="fail",
            reasons=["u at rtn-w4-g128-asym: verbmem_f retains 0.75"],
            cells=[
                cell("full", "inconclusive", retained=(0.25, 0.1, 0.55), recovery=(0.0, 0.0, 0.0)),
                cell("rtn-w4-g128-asym", "fail", retained=(0.75, 0.6, 0.9), recovery=(0.5, 0.35, 0.65)),
            ],
        ),
    )


def test_csv_has_one_row_per_variant_and_metric_with_summary_columns():
    rows = list(csv.DictReader(io.StringIO(report_to_csv(make_report()))))
    assert len(rows) == 4
    quantized = rows[3]
    assert (quantized["model"], quantized["precision"], quantized["metric"]) == ("u", "rtn-w4-g128-asym", "verbmem_f")
    assert float(quantized["value"]) == 0.6
    assert float(quantized["retained"]) == 0.75
    assert float(quantized["recovery"]) == 0.5
    assert quantized["verdict"] == "fail"
    assert float(quantized["collision"]) == 0.9987
    assert rows[0]["retained"] == "" and rows[0]["cell_verdict"] == ""  # the target has no cells
    assert (float(quantized["recovery_ci_low"]), float(quantized["recovery_ci_high"])) == (0.35, 0.65)
    assert (float(quantized["retained_ci_low"]), quantized["cell_verdict"]) == (0.6, "fail")
    assert rows[2]["cell_verdict"] == "inconclusive"


def test_an_undefined_cell_shows_no_share_in_the_csv_or_the_page():
    report = make_report()
    report.summary.cells[1] = cell("rtn-w4-g128-asym", "undefined", (3.26, 0.0, 9.0), (3.0, 0.0, 9.0))
    quantized = list(csv.DictReader(io.StringIO(report_to_csv(report))))[3]
    assert (quantized["cell_verdict"], quantized["retained_ci_high"]) == ("undefined", "")
    page = report_to_html(report)
    assert "∅ undefined</span>: no share" in page and "3.26" not in page


def test_risen_items_lists_only_items_that_scored_higher_quantized():
    assert risen_items(make_report()) == [("u", "rtn-w4-g128-asym", "verbmem_f", 0, 0.1, 0.9)]


def test_html_is_self_contained_with_plot_collision_and_escaped_evidence():
    page = report_to_html(make_report())
    assert "<svg" in page and "polyline" in page
    assert not re.search(r"(src|href)=['\"]https?://", page)
    assert "FAIL" in page
    assert "0.9987" in page
    assert "lost &lt;it&gt;" in page and "the truth again" in page
    assert "retained 0.75 [0.60, 0.90]; recovery +0.50 [+0.35, +0.65]" in page
    assert "? inconclusive" in page and "✗ fail" in page  # words and symbols, not colour alone
