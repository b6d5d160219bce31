"""`unlearn-audit unlearn`: a method run from the command line, saved as a loadable model folder."""

import torch

from worker.cli import main
from worker.engine.demo.corpus import write_bundle_folder
from worker.engine.models import load_model
from worker.engine.unlearning.saving import read_record


def test_unlearn_writes_a_model_folder_with_its_record(tmp_path, tiny_bundle, tiny_target_dir, capsys):
    corpus = write_bundle_folder(tiny_bundle.to_document(), tmp_path / "bundle")
    out = tmp_path / "forgot"
    arguments = ["unlearn", str(tiny_target_dir), str(corpus), "--out", str(out), "--method", "npo_gdr"]
    assert main([*arguments, "--lr", "1e-3", "--max-steps", "3", "--chunk-length", "32", "--seed", "7", "--quiet"]) == 0
    assert "npo_gdr (npo_gdr): 3 steps" in capsys.readouterr().out
    record = read_record(out)
    assert (record.name, record.seed, record.steps, record.config["lr"]) == ("npo_gdr", 7, 3, 1e-3)
    unlearned, target = load_model("u", str(out)).model, load_model("target", str(tiny_target_dir)).model
    assert any(not torch.equal(a, b) for a, b in zip(unlearned.parameters(), target.parameters(), strict=True))


def test_unlearn_takes_a_preset_under_its_options(tmp_path, tiny_bundle, tiny_target_dir):
    corpus = write_bundle_folder(tiny_bundle.to_document(), tmp_path / "bundle")
    out = tmp_path / "preset"
    arguments = ["unlearn", str(tiny_target_dir), str(corpus), "--out", str(out), "--method", "ga", "--quiet"]
    assert main([*arguments, "--preset", "muse-books", "--max-steps", "1", "--chunk-length", "32"]) == 0
    config = read_record(out).config
    assert (config["preset"], config["dtype"], config["bos_per_chunk"], config["lr"]) == (
        "muse-books",
        "bf16",
        True,
        1e-5,
    )
    assert (config["chunk_length"], config["max_steps"], config["batch_size"]) == (32, 1, 1)


def test_unlearn_refuses_a_bad_config_naming_the_field(tmp_path, tiny_bundle, capsys):
    corpus = write_bundle_folder(tiny_bundle.to_document(), tmp_path / "bundle")
    arguments = ["unlearn", "no/such-model", str(corpus), "--out", str(tmp_path / "o"), "--method", "ga"]
    assert main([*arguments, "--lr", "-1"]) == 2
    assert "lr: Input should be greater than 0" in capsys.readouterr().err
    assert main(["unlearn", "x/y", str(corpus), "--out", str(tmp_path / "o")]) == 2
    assert "method: give --method" in capsys.readouterr().err
