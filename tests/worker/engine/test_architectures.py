"""Every common decoder architecture through every quantizer, every text metric and bucket collision.

Tiny random models of each architecture (tests/architectures.py), two items per evaluation set. What must
hold everywhere: each quantizer quantizes every linear layer (Conv1D included) and says so, collision
counts the same weights, a tied output head stays tied, and an architecture a quantizer cannot take is
refused with the reason rather than failing inside the quantizer.
"""

import pytest
import torch

from service.specs.architectures import architecture_refusal
from service.specs.audit import AuditSpec
from service.specs.precision import (
    AWQPrecision,
    BnbFP4Precision,
    BnbInt8Precision,
    BnbNF4Precision,
    FullPrecision,
    GPTQPrecision,
    RTNPrecision,
)
from tests.architectures import ARCHITECTURES, save_random_pair
from tests.tiny_world import make_bundle, training_texts
from worker.engine.collision import bucket_collision
from worker.engine.models import load_model
from worker.engine.quantizers import UnsupportedArchitecture, linear_layers
from worker.engine.tiny import train_tokenizer
from worker.engine.variant import evaluate_variant

CALIBRATED = {"group_size": 32, "calibration_samples": 2, "calibration_length": 32}
PRECISIONS = [
    pytest.param(RTNPrecision(bits=4, group_size=32), id="rtn"),
    pytest.param(BnbInt8Precision(), id="bnb_int8", marks=pytest.mark.slow),  # int8 matmuls are slow on a CPU
    pytest.param(BnbFP4Precision(), id="bnb_fp4", marks=pytest.mark.slow),  # 4-bit CPU kernels: ~30 s a variant
    pytest.param(BnbNF4Precision(), id="bnb_nf4", marks=pytest.mark.slow),
    pytest.param(GPTQPrecision(**CALIBRATED), id="gptq", marks=pytest.mark.slow),
    pytest.param(AWQPrecision(**CALIBRATED), id="awq", marks=pytest.mark.slow),
]
METRICS = ["verbmem_f", "knowmem_f", "knowmem_r", "privleak", "collision"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    bundle = make_bundle()
    tokenizer = train_tokenizer(training_texts(bundle), vocab_size=400)
    return bundle, tokenizer, tmp_path_factory.mktemp("architectures")


@pytest.fixture(scope="module")
def checkpoints(world):
    """{architecture: (target folder, unlearned folder)}, built on first use."""
    built = {}

    def build(architecture: str):
        if architecture not in built:
            built[architecture] = save_pair(world, architecture)
        return built[architecture]

    return build


def save_pair(world, architecture: str):
    _bundle, tokenizer, root = world
    return save_random_pair(architecture, tokenizer, root / architecture)


def audit_spec(target, unlearned, precision) -> AuditSpec:
    return AuditSpec.model_validate(
        {"target": {"model": str(target)}, "unlearned": [{"name": "u", "model": str(unlearned)}], "corpus": "c",
         "precisions": [precision.model_dump()], "metrics": METRICS,
         "limits": {"max_items": 2, "batch_size": 2, "bootstrap_samples": 0}}
    )  # fmt: skip


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_every_quantizer_on_every_architecture(world, checkpoints, architecture, precision):
    bundle = world[0]
    target, unlearned = checkpoints(architecture)
    loaded = load_model("target", str(target))
    spec = audit_spec(target, unlearned, precision)
    if architecture_refusal(precision.method, loaded.model.config.model_type):
        for refused in (
            lambda: evaluate_variant(loaded, precision, spec, bundle),
            lambda: bucket_collision(target, unlearned, precision),
        ):
            with pytest.raises(UnsupportedArchitecture, match=f"cannot quantize model type '{architecture}'"):
                refused()
        return
    outcome = evaluate_variant(loaded, precision, spec, bundle)
    layers = linear_layers(loaded.model)
    quantized = outcome.variant.quantized
    assert quantized.modules == len(layers) > 0
    assert quantized.weights == sum(module.weight.numel() for module in layers.values())
    for metric in ("verbmem_f", "knowmem_f", "knowmem_r", "privleak"):
        detail = outcome.variant.metric_details[metric]
        assert detail.value is not None and detail.n_items == 2 * (metric == "privleak") + 2, metric
    collision = bucket_collision(target, unlearned, precision)
    assert collision.n_weights == quantized.weights  # the weights quantized are the weights compared
    assert 0.5 < collision.overall < 1.0  # a 1e-4 perturbation moves some codes, not most


@pytest.mark.parametrize("architecture", ["gpt2", "gemma", "opt"])
def test_tied_output_heads_stay_tied_and_in_full_precision(world, checkpoints, architecture):
    from worker.engine.quantizers import get_quantizer

    loaded = load_model("target", str(checkpoints(architecture)[0]))
    assert loaded.model.get_output_embeddings().weight is loaded.model.get_input_embeddings().weight
    for precision in (RTNPrecision(bits=4, group_size=32), BnbNF4Precision()):
        quantized, _record = get_quantizer(precision).quantize(loaded.model, loaded.tokenizer)
        assert quantized.get_output_embeddings().weight is quantized.get_input_embeddings().weight
        assert torch.equal(quantized.get_output_embeddings().weight, loaded.model.get_output_embeddings().weight)


def test_full_precision_reports_nothing_quantized(world, checkpoints):
    target, unlearned = checkpoints("gpt2")
    loaded = load_model("target", str(target))
    outcome = evaluate_variant(loaded, FullPrecision(), audit_spec(target, unlearned, FullPrecision()), world[0])
    assert outcome.variant.quantized is None
