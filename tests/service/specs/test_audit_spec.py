import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from service.specs.audit import AuditSpec
from service.specs.precision import MAX_GROUP_SIZE, PrecisionConfig

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
        ({"unlearning": [{"name": "u", "method": "ga_klr", "lr": -1}]}, "unlearning.0.gradient.lr", "greater than 0"),
        ({"unlearning": [{"name": "u", "method": "ga_xlr"}]}, "unlearning.0.gradient.method",
         "unknown unlearning method 'ga_xlr' (known: ga, ga_gdr, "),
        ({"unlearning": [{"name": "u"}]}, "unlearning.0.gradient.method", "Field required"),
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


@pytest.mark.parametrize(
    ("changes", "location"),
    [
        ({"limits": {"max_items": True}}, "limits.max_items"),
        ({"seed": False}, "seed"),
        ({"precisions": [{"method": "rtn", "bits": True}]}, "precisions.0.rtn.bits"),
        ({"precisions": [{"method": "rtn", "group_size": True}]}, "precisions.0.rtn.group_size"),
        ({"unlearning": [{"name": "r", "method": "rmu", "trainable_layers": [1, True]}]},
         "unlearning.0.rmu.trainable_layers.1"),
        ({"limits": {"max_items": "4"}}, "limits.max_items"),
        ({"policy": {"max_retained": float("inf")}}, "policy.max_retained"),
        ({"policy": {"max_recovery": float("nan")}}, "policy.max_recovery"),
        ({"unlearning": [{"name": "u", "method": "ga", "lr": float("-inf")}]}, "unlearning.0.gradient.lr"),
        ({"reference": {"auc": float("nan")}}, "reference.auc"),
    ],
)  # fmt: skip
def test_booleans_strings_and_non_finite_numbers_are_never_numbers(changes, location):
    assert location in {loc for loc, _ in error_locations({**BASE, **changes})}


@pytest.mark.parametrize(
    ("changes", "location", "reason"),
    [
        ({"target": {"model": "org/tar\x00get"}}, "target.model", "NUL character"),
        ({"unlearned": [{"name": "npo", "model": "/models/a\x00b"}]}, "unlearned.0.model", "NUL character"),
        ({"target": {"model": "org/target", "revision": "ma\x00in"}}, "target.revision", "branch or tag name"),
        ({"corpus": "abc\x00"}, "corpus", "NUL character"),
        ({"corpus": {"verbmem": {"forget": [{"prompt": "p\x00", "gt": "g"}]}}}, "corpus",
         "NUL character (\\u0000) at verbmem.forget.0.prompt"),
        ({"target": {"model": "org/\ud800target"}}, "target.model", "unicode"),
    ],
)  # fmt: skip
def test_text_no_database_can_store_is_refused_where_it_is(changes, location, reason):
    found = error_locations({**BASE, **changes})
    assert any(loc == location and reason in msg for loc, msg in found), found


@pytest.mark.parametrize(
    "revision", ["main", "v1.0", "refs/pr/3", "release-2024_01", "0123456789abcdef" * 2 + "01234567"]
)
def test_hub_revisions_are_branches_tags_or_commits(revision):
    assert spec(target={"model": "org/target", "revision": revision}).target.revision == revision


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ({"model": "org/target", "revision": "x" * 129}, "at most 128 characters"),
        ({"model": "org/target", "revision": "a..b"}, "branch or tag name"),
        ({"model": "org/target", "revision": "-rf"}, "branch or tag name"),
        ({"model": "org/target", "revision": "main/"}, "branch or tag name"),
        ({"model": "org/target", "revision": "a b"}, "branch or tag name"),
        ({"model": "/models/target", "revision": "main"}, "a local folder has none"),
    ],
)
def test_bad_revisions_and_revisions_of_local_folders_are_refused(source, reason):
    found = error_locations({**BASE, "target": source})
    assert any(loc == "target.revision" and reason in msg for loc, msg in found), found


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.fixed_dictionaries(
            {"method": st.just("rtn"), "bits": st.integers(2, 8), "symmetric": st.booleans(),
             "group_size": st.none() | st.integers(1, MAX_GROUP_SIZE)}
        ),
        st.fixed_dictionaries({"method": st.sampled_from(["gptq", "awq"]),
                               "group_size": st.none() | st.integers(1, MAX_GROUP_SIZE)}),
        st.fixed_dictionaries({"method": st.just("bnb_int8"),
                               "threshold": st.floats(0, 1e6, allow_nan=False, allow_infinity=False)}),
    )
)  # fmt: skip
def test_every_valid_precision_has_a_label_that_fits_its_column(precision):
    """Labels are stored in 64-character columns (run, result and item rows)."""
    assert len(TypeAdapter(PrecisionConfig).validate_python(precision).label) <= 64


def test_a_group_size_beyond_the_bound_is_refused():
    found = error_locations({**BASE, "precisions": [{"method": "rtn", "group_size": 10**61}]})
    assert "precisions.0.rtn.group_size" in {loc for loc, _ in found}
