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
