import copy
from pathlib import Path

import pytest

from tests.tiny_world import make_bundle, train_target


@pytest.fixture(scope="session")
def tiny_bundle():
    return make_bundle()


@pytest.fixture(scope="session")
def tiny_target_dir(tmp_path_factory) -> Path:
    """A tiny Llama trained in seconds to memorise the tiny bundle's forget and retain passages."""
    return train_target(tmp_path_factory.mktemp("target"))


@pytest.fixture(scope="session")
def tiny_unlearned_dir(tiny_target_dir, tmp_path_factory) -> Path:
    """The target with small noise added to every weight: a stand-in unlearned model."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = tmp_path_factory.mktemp("unlearned")
    model = AutoModelForCausalLM.from_pretrained(tiny_target_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_target_dir)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 1e-4)
    copy.deepcopy(model).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def identical_copies(tiny_target_dir, tmp_path_factory) -> dict[str, Path]:
    """Unlearned models of the tiny target: `bucket` (its quantized state at RTN 4-bit g64 is the target's),
    `moved` (one code away from it) and `moved_twin` (the same model as `moved`, in another folder)."""
    from tests.identical_models import bucket_constrained_copy, one_code_away, twin

    root = tmp_path_factory.mktemp("copies")
    bucket = bucket_constrained_copy(tiny_target_dir, root / "bucket")
    moved = one_code_away(tiny_target_dir, root / "moved")
    return {"bucket": bucket, "moved": moved, "moved_twin": twin(moved, root / "moved_twin")}


@pytest.fixture(autouse=True, scope="session")
def result_cache_of_the_session(tmp_path_factory):
    """`unlearn-audit run` keeps its result cache in a folder of this session, not the user's."""
    import os

    os.environ["UNLEARN_AUDIT_RESULT_CACHE_DIR"] = str(tmp_path_factory.mktemp("result-cache"))
