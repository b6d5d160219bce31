import csv
import json

import pytest

from worker.cli import main


def write_spec(tmp_path, document):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_bad_spec_exits_nonzero_naming_the_field(tmp_path, capsys):
    path = write_spec(
        tmp_path,
        {"target": {"model": "x"}, "unlearned": [{"name": "u", "model": "y"}], "corpus": "c",
         "precisions": [{"method": "rtn", "bits": 12}]},
    )  # fmt: skip
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "precisions.0.rtn.bits: Input should be less than or equal to 8" in error
    assert not (tmp_path / "out").exists()


def test_unreadable_spec_and_missing_corpus_are_refused(tmp_path, capsys):
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    assert main(["run", str(tmp_path / "broken.json"), "--out", str(tmp_path / "out")]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    path = write_spec(
        tmp_path, {"target": {"model": "x"}, "unlearned": [{"name": "u", "model": "y"}], "corpus": "nope"}
    )
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    assert "corpus: invalid corpus bundle" in capsys.readouterr().err


def test_unloadable_model_names_the_source(tmp_path, tiny_bundle, capsys):
    path = write_spec(
        tmp_path,
        {"target": {"model": str(tmp_path / "missing-model")}, "unlearned": [{"name": "u", "model": "y"}],
         "corpus": tiny_bundle.to_document(), "metrics": ["verbmem_f"]},
    )  # fmt: skip
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 1
    assert "cannot load model" in capsys.readouterr().err


def test_a_recipe_the_corpus_cannot_feed_is_refused_before_any_model_loads(tmp_path, tiny_bundle, capsys):
    document = tiny_bundle.to_document()
    del document["raw"]["retain"]
    path = write_spec(
        tmp_path,
        {"target": {"model": str(tmp_path / "missing-model")}, "corpus": document, "metrics": ["verbmem_f"],
         "unlearning": [{"method": "ga_gdr", "name": "gdr"}]},
    )  # fmt: skip
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 1
    assert "unlearning.0: gdr (ga_gdr) needs raw/retain text" in capsys.readouterr().err


@pytest.mark.slow
def test_end_to_end_run_writes_the_three_report_files(
    tmp_path, tiny_bundle, tiny_target_dir, tiny_unlearned_dir, capsys
):
    (tmp_path / "bundle.json").write_text(json.dumps(tiny_bundle.to_document()), encoding="utf-8")
    path = write_spec(
        tmp_path,
        {
            "target": {"model": str(tiny_target_dir)},
            "unlearned": [{"name": "noisy", "model": str(tiny_unlearned_dir)}],
            "corpus": "bundle.json",
            "precisions": [{"method": "rtn", "bits": 4, "group_size": 32}, {"method": "bnb_nf4"}],
            "limits": {"max_items": 3, "bootstrap_samples": 50},
        },
    )
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["schema_version"] == "2.0"
    pairs = {(v["model"], v["precision_label"]) for v in report["variants"]}
    assert pairs == {(m, p) for m in ("target", "noisy") for p in ("full", "rtn-w4-g32-asym", "bnb-nf4-b64")}
    target_full = next(v for v in report["variants"] if v["model"] == "target" and v["precision_label"] == "full")
    assert target_full["metrics"]["verbmem_f"] > 0.8  # the tiny target memorised its forget passages
    noisy_4bit = next(
        v for v in report["variants"] if v["model"] == "noisy" and v["precision_label"] == "rtn-w4-g32-asym"
    )
    assert 0.9 < noisy_4bit["collision"]["overall"] <= 1.0
    assert set(report["summary"]["verdicts"]["noisy"]) == {"full", "rtn-w4-g32-asym", "bnb-nf4-b64"}
    assert report["summary"]["verdict"] in {"pass", "fail", "inconclusive", "utility_lost", "undefined"}
    assert {i["metric"] for i in report["items"]} == {"verbmem_f", "knowmem_f", "knowmem_r", "privleak"}
    assert report["provenance"]["corpus_sha256"] == tiny_bundle.sha256
    rows = list(csv.DictReader((out / "report.csv").open()))
    assert len(rows) == 6 * 4
    assert "<svg" in (out / "report.html").read_text()
    printed = capsys.readouterr().out
    assert "verdict:" in printed and "rtn-w4-g32-asym" in printed


@pytest.mark.slow
def test_a_failing_variant_is_reported_with_its_reason_and_the_run_exits_1(
    tmp_path, tiny_bundle, tiny_target_dir, tiny_unlearned_dir, monkeypatch, capsys
):
    """The unlearned model's 4-bit variant raises; every other variant is still evaluated and reported."""
    from worker.engine.quantizers.rtn import RTNQuantizer

    calls = []
    quantize_layers = RTNQuantizer.quantize_layers

    def second_call_raises(self, model, tokenizer, calibration_texts):
        calls.append(model)
        if len(calls) > 1:
            raise RuntimeError("cannot quantize this model\nsecond line of internals")
        return quantize_layers(self, model, tokenizer, calibration_texts)

    monkeypatch.setattr(RTNQuantizer, "quantize_layers", second_call_raises)
    path = write_spec(
        tmp_path,
        {"target": {"model": str(tiny_target_dir)}, "unlearned": [{"name": "noisy", "model": str(tiny_unlearned_dir)}],
         "corpus": tiny_bundle.to_document(), "precisions": [{"method": "rtn", "bits": 4, "group_size": 32}],
         "metrics": ["verbmem_f", "knowmem_f", "collision"], "limits": {"max_items": 2, "bootstrap_samples": 20}},
    )  # fmt: skip
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet", "--no-cache"]) == 1
    assert "1 variant(s) failed: noisy @ rtn-w4-g32-asym" in capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    failed = {(v["model"], v["precision_label"]): v["error"] for v in report["variants"]}
    assert failed == {
        ("target", "full"): None,
        ("target", "rtn-w4-g32-asym"): None,
        ("noisy", "full"): None,
        ("noisy", "rtn-w4-g32-asym"): "RuntimeError: cannot quantize this model",
    }
    noisy_4bit = next(v for v in report["variants"] if v["error"])
    assert noisy_4bit["metrics"] == {} and noisy_4bit["collision"]["overall"] > 0.9  # measured: it is kept
    assert {i["model"] for i in report["items"] if i["precision_label"] == "rtn-w4-g32-asym"} == {"target"}
    summary = report["summary"]
    assert set(summary["verdicts"]["noisy"]) == {"full"}  # no verdict for the failed variant
    assert summary["verdict"] in {"inconclusive", "fail"}  # a failed variant cannot pass
    assert not [c for c in summary["cells"] if c["precision_label"] == "rtn-w4-g32-asym"]
    reason = next(r for r in summary["reasons"] if r["code"] == "variant_failed")
    assert (reason["model"], reason["precision_label"]) == ("noisy", "rtn-w4-g32-asym")
    assert "RuntimeError: cannot quantize this model" in reason["message"]
    rows = list(csv.DictReader((out / "report.csv").open()))
    assert [(r["model"], r["metric"], r["error"]) for r in rows if r["error"]] == [
        ("noisy", "", "RuntimeError: cannot quantize this model")
    ]
    assert len([r for r in rows if r["metric"]]) == 3 * 2  # the other three variants' two text metrics
    page = (out / "report.html").read_text()
    assert "variant failed, no verdict: RuntimeError: cannot quantize this model" in page
    assert "variant_failed" in page
