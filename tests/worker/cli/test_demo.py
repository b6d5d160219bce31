"""The demo end to end on the fast configuration: the positive control is caught at 4-bit; KnowMem is measured."""

import json

import pytest

from worker.cli import main

G64 = "rtn-w4-g64-asym"


@pytest.mark.slow
def test_fast_demo_catches_the_bucket_constrained_model_at_4_bit(tmp_path, capsys):
    arguments = ["demo", "--fast", "--quiet", "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "out")]
    assert main(arguments) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    summary = report["summary"]
    # the fast recipe is plain GA: VerbMem_f passes at full precision, but the retain QA is gone with it
    assert summary["verdicts"]["bucket_constrained"]["full"] == "utility_lost"
    assert _cell(summary, "full", "verbmem_f")["verdict"] == "pass"
    assert _cell(summary, "full", "knowmem_r")["verdict"] == "utility_lost"
    target = next(v for v in report["variants"] if (v["model"], v["precision_label"]) == ("target", "full"))
    assert target["metrics"]["knowmem_f"] > 0 and target["metrics"]["knowmem_r"] > 0  # the target answers its QA
    assert summary["verdicts"]["bucket_constrained"][G64] == "fail"
    assert summary["retained"]["bucket_constrained"][G64]["verbmem_f"] == pytest.approx(1.0)
    caught = _cell(summary, G64, "verbmem_f")
    assert caught["recovery"]["ci_low"] > summary["policy"]["max_recovery"]  # the lower bound, not the point
    assert "recovery_above_max" in [reason["code"] for reason in caught["reasons"]]
    collision = next(
        v["collision"] for v in report["variants"] if v["model"] == "bucket_constrained" and v["precision_label"] == G64
    )
    assert collision["overall"] == 1.0
    assert collision["moved"] == 1.0 and collision["n_moved"] > 0  # every change it made is erased at 4 bits
    output = capsys.readouterr()
    assert "bucket_constrained" in output.out and "built" in output.err
    assert main(arguments) == 0
    assert "reused from the cache" in capsys.readouterr().err


def _cell(summary, precision_label, metric):
    key = ("bucket_constrained", precision_label, metric)
    return next(c for c in summary["cells"] if (c["model"], c["precision_label"], c["metric"]) == key)
