import pytest
from pydantic import ValidationError

from service.specs.audit import AuditSpec

BASE = {"target": {"model": "org/target"}, "unlearned": [{"name": "npo", "model": "org/npo"}], "corpus": "c1"}


def spec(**changes):
    return AuditSpec.model_validate({**BASE, **changes})


def error_locations(document):
    with pytest.raises(ValidationError) as error:
        AuditSpec.model_validate(document)
    return {(".".join(str(p) for p in e["loc"]), e["msg"]) for e in error.value.errors()}


def test_defaults_add_full_precision_and_all_metrics():
    audit = spec(precisions=[{"method": "rtn", "bits": 4, "group_size": 128}, {"method": "bnb_fp4"}])
    assert audit.precision_labels == ["full", "rtn-w4-g128-asym", "bnb-fp4-b64"]
    assert audit.metrics == ["verbmem_f", "knowmem_f", "knowmem_r", "privleak", "collision"]
    assert audit.model_names == ["target", "npo"]


def test_precision_labels_are_stable():
    labels = spec(
        precisions=[
            {"method": "rtn", "bits": 8, "group_size": None, "symmetric": True},
            {"method": "bnb_nf4", "block_size": 128},
            {"method": "bnb_int8"},
            {"method": "gptq", "bits": 4, "group_size": 64},
            {"method": "awq"},
        ]
    ).precision_labels
    assert labels == ["full", "rtn-w8-pc-sym", "bnb-nf4-b128", "bnb-int8", "gptq-w4-g64", "awq-w4-g128"]


@pytest.mark.parametrize(
    ("changes", "location", "message"),
    [
        ({"precisions": [{"method": "rtn", "bits": 9}]}, "precisions.0.rtn.bits", "less than or equal to 8"),
        ({"precisions": [{"method": "rtn", "bits": 1}]}, "precisions.0.rtn.bits", "greater than or equal to 2"),
        ({"precisions": [{"method": "hqq"}]}, "precisions.0", "does not match any of the expected tags"),
        ({"metrics": ["verbmem_f", "rouge"]}, "metrics.1", "Input should be"),
        ({"extra": 1}, "extra", "Extra inputs are not permitted"),
        ({"unlearned": [{"name": "target", "model": "x/y"}]}, "", "reserved for the target"),
        ({"unlearned": [{"name": "a", "model": "x/y"}, {"name": "a", "model": "x/z"}]}, "", "must be unique"),
        ({"unlearned": []}, "", "nothing to audit"),
        ({"unlearned": [{"name": "bad name!", "model": "x/y"}]}, "unlearned.0.name", "String should match"),
        ({"precisions": [{"method": "rtn"}, {"method": "rtn"}]}, "precisions", "duplicate precisions"),
        ({"unlearning": [{"name": "u", "method": "ga_klr", "lr": -1}]}, "unlearning.0.ga_klr.lr", "greater than 0"),
        ({"reference": {}}, "reference", "give the reference model, its AUC, or both"),
        ({"policy": {"min_utility": 2}}, "policy.min_utility", "less than or equal to 1"),
    ],
)  # fmt: skip
def test_bad_specs_name_the_field_and_the_reason(changes, location, message):
    found = error_locations({**BASE, **changes})
    assert any(loc == location and message in msg for loc, msg in found), found


def test_unlearning_recipes_join_the_audit_as_models():
    audit = spec(unlearning=[{"name": "ga_klr_bf16", "method": "ga_klr", "dtype": "bf16"}])
    assert audit.model_names == ["target", "npo", "ga_klr_bf16"]
    assert audit.unlearning[0].retain_loss == "klr"
    assert audit.unlearning[0].forget_loss == "ga"
