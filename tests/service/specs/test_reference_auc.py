"""Which AUC normalises PrivLeak: the spec's, then the measured reference model's, then the bundle's, then 0.5."""

from service.specs.audit import AuditSpec
from service.specs.corpus import BundleMeta
from service.specs.reference import NOT_COMPARABLE, choose_reference_auc

META = BundleMeta.model_validate(
    {"reference_auc": {"value": 0.4772, "name": "MUSE-News retrained", "source": "constants.py:64"}}
)


def spec(reference: dict | None = None) -> AuditSpec:
    document = {"target": {"model": "t"}, "unlearned": [{"name": "u", "model": "u"}], "corpus": "c"}
    return AuditSpec.model_validate(document | ({"reference": reference} if reference else {}))


def test_the_spec_value_wins_over_the_bundle():
    choice = choose_reference_auc(spec({"auc": 0.6}), META, measured=0.7)
    assert (choice.value, choice.origin, choice.note) == (0.6, "spec", None)


def test_a_measured_reference_model_wins_over_the_bundle():
    choice = choose_reference_auc(spec({"model": "retrained"}), META, measured=0.7)
    assert (choice.value, choice.origin, choice.name) == (0.7, "reference model", "retrained")


def test_the_bundle_value_is_used_when_the_spec_gives_none():
    choice = choose_reference_auc(spec(), META)
    assert (choice.value, choice.origin, choice.name, choice.source) == (
        0.4772, "bundle", "MUSE-News retrained", "constants.py:64"
    )  # fmt: skip
    assert choose_reference_auc(spec({"model": "retrained"}), META).origin == "bundle"  # not measured (no privleak)


def test_without_any_the_default_says_privleak_is_not_comparable_with_muse():
    for meta in (None, BundleMeta()):
        choice = choose_reference_auc(spec(), meta)
        assert (choice.value, choice.origin, choice.note) == (0.5, "default", NOT_COMPARABLE)
    assert "not comparable with MUSE" in NOT_COMPARABLE
