"""The collision figure the report explains with: the share of moved weights that kept the target's code."""

import csv
import io

from service.specs.render import report_to_csv, report_to_html
from service.specs.report import CollisionResult, Report, VariantResult


def report_with_collision() -> Report:
    collision = CollisionResult(overall=0.9991, moved=0.8125, n_moved=48, per_layer={"layer": 0.9991}, n_weights=9000)
    variant = VariantResult(
        model="u", precision={"method": "rtn", "bits": 4}, precision_label="rtn-w4", metrics={"verbmem_f": 0.5},
        collision=collision,
    )  # fmt: skip
    return Report(spec={"corpus": "c"}, variants=[variant])


def test_the_html_explains_collision_by_the_moved_weights():
    page = report_to_html(report_with_collision())
    section = page[page.index("<h2>Bucket collision") :]
    assert "Of the weights that unlearning changed" in section
    header = section[: section.index("</tr>")]
    assert header.index("moved weights with the target") < header.index("equal codes, all weights")
    assert "<td>0.8125</td><td>48</td><td>0.9991</td>" in section
    matrix = page[page.index("<h2>Results") : page.index("<h2>Bucket collision")]
    assert "0.8125" in matrix and "0.9991" not in matrix


def test_the_csv_carries_both_collision_figures():
    (row,) = csv.DictReader(io.StringIO(report_to_csv(report_with_collision())))
    assert (float(row["collision"]), float(row["collision_moved"])) == (0.9991, 0.8125)
