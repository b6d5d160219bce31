"""The spec's evaluation choices reach the engine: the reference AUC of the bundle, decoding, dtypes."""

import pytest
import torch
from pydantic import ValidationError

from service.specs.assembly import audit_provenance
from service.specs.audit import AuditSpec
from service.specs.corpus import parse_bundle
from service.specs.precision import BnbFP4Precision, FullPrecision
from worker.engine.models import load_model
from worker.engine.progress import no_progress
from worker.engine.quantizers import get_quantizer
from worker.engine.runner import AuditRun
from worker.engine.variant import evaluate_variant

REFERENCE = {"value": 0.4772, "name": "MUSE-News retrained", "source": "constants.py:64"}


@pytest.fixture(scope="module")
def target(tiny_target_dir):
    return load_model("target", str(tiny_target_dir))


def audit_spec(tiny_target_dir, **fields) -> AuditSpec:
    document = {
        "target": {"model": str(tiny_target_dir)},
        "unlearned": [{"name": "u", "model": str(tiny_target_dir)}],
        "corpus": "c",
        "limits": {"max_items": 3, "batch_size": 2, "bootstrap_samples": 0},
    }
    return AuditSpec.model_validate(document | fields)


def test_privleak_is_normalised_by_the_bundle_reference_auc_unless_the_spec_gives_one(target, tiny_bundle):
    bundle = parse_bundle(tiny_bundle.to_document() | {"meta": {"reference_auc": REFERENCE}})
    spec = audit_spec(target.source, metrics=["privleak"])
    outcome = evaluate_variant(target, FullPrecision(), spec, bundle)
    assert outcome.variant.metric_details["privleak"].extra["auc_ref"] == 0.4772
    spec = audit_spec(target.source, metrics=["privleak"], reference={"auc": 0.55})
    outcome = evaluate_variant(target, FullPrecision(), spec, bundle)
    assert outcome.variant.metric_details["privleak"].extra["auc_ref"] == 0.55
    outcome = evaluate_variant(target, FullPrecision(), audit_spec(target.source, metrics=["privleak"]), tiny_bundle)
    assert outcome.variant.metric_details["privleak"].extra["auc_ref"] == 0.5


def verbmem_outputs(target, bundle, spec: AuditSpec) -> list[str]:
    outcome = evaluate_variant(target, FullPrecision(), spec, bundle)
    return [item.output for item in outcome.items]


def test_sampled_verbmem_is_reproducible_per_seed_and_differs_across_seeds(target, tiny_bundle):
    def sampled(seed: int) -> AuditSpec:
        decoding = {"decoding": "sampled", "temperature": 1.5, "seed": seed}
        return audit_spec(target.source, metrics=["verbmem_f"], evaluation={"verbmem": decoding})

    first = verbmem_outputs(target, tiny_bundle, sampled(1))
    assert verbmem_outputs(target, tiny_bundle, sampled(1)) == first
    assert verbmem_outputs(target, tiny_bundle, sampled(2)) != first
    assert verbmem_outputs(target, tiny_bundle, audit_spec(target.source, metrics=["verbmem_f"])) != first


def test_sampling_fields_with_greedy_decoding_are_refused_naming_them():
    with pytest.raises(ValidationError, match=r"evaluation.verbmem\n.*temperature apply to decoding 'sampled' only"):
        audit_spec("t", evaluation={"verbmem": {"temperature": 0.7}})
    dumped = audit_spec("t").model_dump(mode="json")
    assert AuditSpec.model_validate(dumped).evaluation.verbmem.decoding == "greedy"  # defaults round-trip
    with pytest.raises(ValidationError, match=r"evaluation\.dtype"):
        audit_spec("t", evaluation={"dtype": "int4"})


def test_the_evaluation_dtype_is_applied_to_evaluated_models_and_recorded(tiny_target_dir, tiny_bundle, tmp_path):
    spec = audit_spec(tiny_target_dir, evaluation={"dtype": "bf16"})
    run = AuditRun(spec, tiny_bundle, tmp_path, no_progress, cache=None)
    assert run.load("u", str(tiny_target_dir)).model.dtype == torch.bfloat16
    assert run.load("target", str(tiny_target_dir), stored=True).model.dtype == torch.float32  # unlearning's start
    provenance = audit_provenance(spec, "sha", {}, [], {}, None)
    assert provenance.evaluation == {"verbmem": {"decoding": "greedy"}, "dtype": "bf16"}
    sampled = audit_spec(tiny_target_dir, seed=7, evaluation={"verbmem": {"decoding": "sampled"}})
    assert audit_provenance(sampled, "sha", {}, [], {}, None).evaluation["verbmem"] == {
        "decoding": "sampled", "temperature": 0.9, "top_p": 1.0, "seed": 7, "samples": 1
    }  # fmt: skip


@pytest.mark.parametrize(("compute_dtype", "expected"), [("fp32", torch.float32), ("bf16", torch.bfloat16)])
def test_bitsandbytes_compute_dtype_is_the_precision_s(target, compute_dtype, expected):
    precision = BnbFP4Precision(compute_dtype=compute_dtype)
    model, _quantized = get_quantizer(precision).quantize(target.model, target.tokenizer, None)
    import bitsandbytes as bnb

    layers = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert layers and {layer.compute_dtype for layer in layers} == {expected}
