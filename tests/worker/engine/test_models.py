import os
import re
import shutil
import subprocess
import sys

import pytest

from worker.engine.model_digest import content_digest
from worker.engine.models import ModelLoadError, load_model, resolve_checkpoint

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def test_local_folder_loads_with_left_padding_and_no_revision(tiny_target_dir):
    loaded = load_model("target", str(tiny_target_dir))
    assert loaded.revision is None
    assert loaded.provenance().content_sha256 == content_digest(tiny_target_dir)  # named by its content instead
    assert loaded.tokenizer.padding_side == "left"
    assert loaded.device.type in {"cpu", "cuda"}
    assert loaded.n_parameters > 0
    assert not loaded.model.training


def test_sources_that_cannot_load_name_the_source(tmp_path):
    with pytest.raises(ModelLoadError, match=r"cannot load model 'not a model': no Hugging Face model folder"):
        resolve_checkpoint("not a model")
    with pytest.raises(ModelLoadError, match=r"no Hugging Face model folder \(with a config\.json\)"):
        resolve_checkpoint(str(tmp_path))
    with pytest.raises(ModelLoadError, match=r"a local folder has no revisions"):
        resolve_checkpoint(str(tmp_path), "main")
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


def test_a_hub_id_is_never_a_local_folder_of_that_name(tmp_path, monkeypatch):
    """`acme/tiny` beside the worker's working directory must not be loaded in place of the hub model."""
    from tests.tiny_world import stand_in_models
    from worker.engine import models

    stand_in_models(tmp_path / "acme", ("tiny",))
    monkeypatch.chdir(tmp_path)
    asked = []
    monkeypatch.setattr(models, "_hub_snapshot", lambda source, revision: asked.append((source, revision)) or (
        tmp_path / "snapshot", COMMIT))  # fmt: skip
    assert resolve_checkpoint("acme/tiny", "v1") == (tmp_path / "snapshot", COMMIT)
    assert asked == [("acme/tiny", "v1")]
    assert resolve_checkpoint("./acme/tiny") == ((tmp_path / "acme" / "tiny").resolve(), None)  # a path: local


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


@pytest.fixture
def worker_settings(monkeypatch):
    """Sets a setting in the environment and drops the cached process-wide settings, so that it is read."""
    from service.config import get_settings

    def set_setting(name: str, value: str) -> None:
        monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield set_setting
    get_settings.cache_clear()


def test_device_setting_auto_is_the_cpu_without_cuda_and_explicit_devices_stand(worker_settings):
    import torch

    from worker.engine.models import default_device, resolve_device

    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    worker_settings("UNLEARN_AUDIT_DEVICE", "cpu")
    assert default_device() == torch.device("cpu")
    from pydantic import ValidationError

    from service.config import Settings

    with pytest.raises(ValidationError, match="device"):
        Settings(device="gpu0")


def test_batch_size_is_the_workers_setting_at_most_and_the_specs_on_a_cpu(worker_settings, tiny_target_dir):
    from worker.engine.models import batch_size_for

    model = load_model("target", str(tiny_target_dir)).model
    assert batch_size_for(model, 16) == 16  # a CPU: memory is not what limits a batch
    worker_settings("UNLEARN_AUDIT_BATCH_SIZE", "4")
    assert batch_size_for(model, 16) == 4
    assert batch_size_for(model, 2) == 2
