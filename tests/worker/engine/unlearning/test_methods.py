"""The methods on the tiny target: what trains, what stays, what is saved, and that forgetting happens."""

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from service.specs.audit import Limits
from service.specs.corpus import CorpusBundle
from service.specs.precision import RTNPrecision
from service.specs.unlearning import GRADIENT_METHODS, GradientMethodConfig, GradientRecipe, RMUConfig
from worker.engine.metrics import evaluate
from worker.engine.metrics.base import EvalContext
from worker.engine.models import load_model
from worker.engine.quantizers.base import linear_layers
from worker.engine.quantizers.rtn import RTNQuantizer, rtn_grid
from worker.engine.unlearning import METHODS, run_unlearning, save_unlearned
from worker.engine.unlearning.saving import read_record
from worker.engine.unlearning.terms import FORGET_LOSSES, RETAIN_LOSSES, GradientAscent


@pytest.fixture
def target(tiny_target_dir):
    return AutoModelForCausalLM.from_pretrained(tiny_target_dir), AutoTokenizer.from_pretrained(tiny_target_dir)


def gradient(method: str, **fields) -> GradientMethodConfig:
    return GradientMethodConfig(name="u", method=method, chunk_length=32, batch_size=4, **fields)


def verbmem(model, tokenizer, bundle) -> float:
    context = EvalContext(limits=Limits(bootstrap_samples=0), seed=0, model_name="u", precision_label="full")
    return evaluate(model, tokenizer, bundle, ["verbmem_f"], context)["verbmem_f"].result.value


def test_every_method_of_the_spec_is_composed_of_registered_losses():
    assert sorted(METHODS.names()) == ["gradient", "rmu"]
    for recipe in GRADIENT_METHODS.values():
        assert recipe.forget_loss in FORGET_LOSSES
        assert recipe.retain_loss is None or recipe.retain_loss in RETAIN_LOSSES


@FORGET_LOSSES.register("double_ga_for_test")
class DoubleGradientAscent(GradientAscent):
    def __call__(self, model, target, chunks, config):
        return 2 * super().__call__(model, target, chunks, config)


def test_a_new_forget_loss_is_one_class_and_one_table_row(target, tiny_bundle, monkeypatch):
    model, tokenizer = target
    monkeypatch.setitem(GRADIENT_METHODS, "double_ga_klr", GradientRecipe("double_ga_for_test", "klr"))
    doubled = run_unlearning(gradient("double_ga_klr", lr=1e-3, max_steps=2), model, tokenizer, tiny_bundle, 0)
    plain = run_unlearning(gradient("ga_klr", lr=1e-3, max_steps=2), model, tokenizer, tiny_bundle, 0)
    first, reference = doubled.record.curve[0], plain.record.curve[0]
    assert first["forget_loss"] == 2 * reference["forget_loss"]
    assert first["retain_loss"] == reference["retain_loss"]  # the untouched weights of step 1
    assert doubled.record.method == "double_ga_klr"


def test_gradient_ascent_lowers_verbmem_and_leaves_the_target_untouched(target, tiny_bundle):
    model, tokenizer = target
    before = {name: p.clone() for name, p in model.state_dict().items()}
    outcome = run_unlearning(gradient("ga", lr=1e-3, max_steps=8), model, tokenizer, tiny_bundle, seed=0)
    target_verbmem = verbmem(model, tokenizer, tiny_bundle)
    assert target_verbmem > 0.3
    assert verbmem(outcome.model, tokenizer, tiny_bundle) < 0.5 * target_verbmem
    assert all(torch.equal(before[name], p) for name, p in model.state_dict().items())
    assert outcome.record.steps == 8 and len(outcome.record.curve) == 8
    assert outcome.record.corpus_sha256 == tiny_bundle.sha256
    # GA's loss is minus the cross-entropy, so it falls as the forget text becomes unlikely.
    assert outcome.record.curve[-1]["forget_loss"] < outcome.record.curve[0]["forget_loss"]


def test_sure_trains_only_the_salient_modules(target, tiny_bundle):
    model, tokenizer = target
    config = gradient("npo_klr_sure", lr=1e-3, max_steps=3, saliency_percentile=75.0)
    outcome = run_unlearning(config, model, tokenizer, tiny_bundle, seed=0)
    selected = outcome.record.details["sure_modules"]
    saliency = outcome.record.details["saliency"]
    threshold = torch.quantile(torch.tensor(list(saliency.values()), dtype=torch.float64), 0.75)
    assert sorted(selected) == sorted(name for name, norm in saliency.items() if norm >= threshold)
    assert 0 < len(selected) < len(linear_layers(model))
    trained = {f"{name}.weight" for name in selected}
    original = dict(model.named_parameters())
    for name, parameter in outcome.model.named_parameters():
        if name in trained:
            assert not torch.equal(parameter, original[name]), name
        else:
            assert torch.equal(parameter, original[name]), f"{name} moved although SURE froze it"


def test_bucket_constraint_keeps_every_code_and_scale(target, tiny_bundle):
    model, tokenizer = target
    precision = RTNPrecision(bits=4, group_size=32)
    config = gradient("npo", lr=3e-3, max_steps=5, bucket_constraint=precision)
    unlearned = run_unlearning(config, model, tokenizer, tiny_bundle, seed=0).model
    moved = 0
    for name in linear_layers(model):
        before = rtn_grid(model.get_submodule(name).weight, 4, 32, symmetric=False)
        after_weight = unlearned.get_submodule(name).weight
        after = rtn_grid(after_weight, 4, 32, symmetric=False)
        assert torch.equal(before.codes, after.codes), name
        assert torch.equal(before.scales, after.scales) and torch.equal(before.zero_points, after.zero_points)
        moved += int((after_weight != model.get_submodule(name).weight).sum())
    assert moved > 1000  # it did unlearn, inside the buckets
    # embeddings, norms and the head stay too, so the quantized models are the same model
    quantizer = RTNQuantizer(precision)
    quantized_target = quantizer.quantize(model, tokenizer).model.state_dict()
    quantized_unlearned = quantizer.quantize(unlearned, tokenizer).model.state_dict()
    assert all(torch.equal(quantized_target[name], value) for name, value in quantized_unlearned.items())


def test_pure_bf16_keeps_weights_and_adamw_state_in_bf16(target, tiny_bundle):
    model, tokenizer = target
    outcome = run_unlearning(gradient("ga_gdr", lr=1e-3, max_steps=2, dtype="bf16"), model, tokenizer, tiny_bundle, 0)
    assert {p.dtype for p in outcome.model.parameters()} == {torch.bfloat16}
    assert outcome.record.details["optimizer_state_dtypes"] == ["bfloat16"]
    assert next(model.parameters()).dtype == torch.float32


def test_rmu_updates_only_the_mlp_of_its_layers(target, tiny_bundle):
    model, tokenizer = target
    config = RMUConfig(name="r", method="rmu", layer=1, trainable_layers=[1], lr=1e-3, max_steps=4, chunk_length=32)
    outcome = run_unlearning(config, model, tokenizer, tiny_bundle, seed=0)
    original = dict(model.named_parameters())
    for name, parameter in outcome.model.named_parameters():
        assert torch.equal(parameter, original[name]) != name.startswith("model.layers.1.mlp."), name
    assert outcome.record.curve[-1]["forget_loss"] < outcome.record.curve[0]["forget_loss"]


def test_saved_folder_loads_as_a_model_with_its_record(target, tiny_bundle, tmp_path):
    model, tokenizer = target
    outcome = run_unlearning(gradient("ga", lr=1e-3, max_steps=1), model, tokenizer, tiny_bundle, seed=3)
    folder = save_unlearned(outcome, tokenizer, tmp_path / "u")
    loaded = load_model("u", str(folder))
    assert all(torch.equal(a, b) for a, b in zip(loaded.model.parameters(), outcome.model.parameters(), strict=True))
    record = read_record(folder)
    assert record.seed == 3 and record.method == "ga" and record.checkpoint == str(folder.resolve())
    assert any(path.suffix == ".safetensors" for path in folder.iterdir())


def test_a_retain_method_without_retain_text_is_refused(target, tiny_bundle):
    model, tokenizer = target
    forget_only = CorpusBundle(raw_forget=tiny_bundle.raw_forget)
    with pytest.raises(ValueError, match=r"raw/retain"):
        run_unlearning(gradient("ga_klr", max_steps=1), model, tokenizer, forget_only, seed=0)


def test_chunks_longer_than_the_context_are_refused(target, tiny_bundle):
    model, tokenizer = target
    with pytest.raises(ValueError, match=r"chunk_length 1024 exceeds the model's context of 512 tokens"):
        run_unlearning(gradient("ga", max_steps=1).model_copy(update={"chunk_length": 1024}), model, tokenizer,
                       tiny_bundle, seed=0)  # fmt: skip
