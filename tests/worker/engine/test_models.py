import os
import re
import shutil
import subprocess
import sys

import pytest

from worker.engine.models import ModelLoadError, load_model, resolve_checkpoint

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def test_local_folder_loads_with_left_padding_and_no_revision(tiny_target_dir):
    loaded = load_model("target", str(tiny_target_dir))
    assert loaded.revision is None
    assert loaded.tokenizer.padding_side == "left"
    assert loaded.device.type in {"cpu", "cuda"}
    assert loaded.n_parameters > 0
    assert not loaded.model.training


def test_sources_that_cannot_load_name_the_source(tmp_path):
    with pytest.raises(ModelLoadError, match=r"cannot load model 'not a model': neither an existing local folder"):
        resolve_checkpoint("not a model")
    with pytest.raises(ModelLoadError, match=r"has no config\.json"):
        resolve_checkpoint(str(tmp_path))
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ModelLoadError, match=re.escape(str(tmp_path))):
        load_model("broken", str(tmp_path))


@pytest.mark.slow
def test_hub_ids_resolve_to_the_cached_commit(tiny_target_dir, tmp_path):
    """The hub path runs for real against a local hub cache (offline): the revision is recorded as a commit."""
    repo = tmp_path / "hub" / "models--acme--tiny"
    shutil.copytree(tiny_target_dir, repo / "snapshots" / COMMIT)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT, encoding="utf-8")
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    code = (
        "from worker.engine.models import load_model, ModelLoadError\n"
        "print(load_model('t', 'acme/tiny').revision)\n"
        "try:\n    load_model('t', 'acme/absent')\n"
        "except ModelLoadError as error:\n    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    lines = result.stdout.strip().splitlines()
    assert lines[0] == COMMIT
    assert lines[1].startswith("cannot load model 'acme/absent': not found on the hub or in the local cache")


def test_sharded_bf16_checkpoint_loads_from_its_index_in_bf16(tiny_target_dir, tmp_path):
    """A hub-style checkpoint (bf16 shards and an index) loads in its stored dtype, every tensor as stored."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = tmp_path / "sharded"
    model = AutoModelForCausalLM.from_pretrained(tiny_target_dir, dtype=torch.bfloat16)
    model.save_pretrained(folder, max_shard_size="100KB")
    AutoTokenizer.from_pretrained(tiny_target_dir).save_pretrained(folder)
    shards = sorted(folder.glob("model-*.safetensors"))
    assert len(shards) > 2 and (folder / "model.safetensors.index.json").is_file()
    loaded = load_model("target", str(folder))
    assert loaded.dtype == "bfloat16"
    assert all(parameter.dtype == torch.bfloat16 for parameter in loaded.model.parameters())  # no fp32 copy
    state = loaded.model.state_dict()
    for shard in shards:
        for name, tensor in load_file(shard).items():
            assert torch.equal(state[name], tensor), name
