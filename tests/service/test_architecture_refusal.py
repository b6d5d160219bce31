"""A quantizer that cannot take a local model's architecture is refused at submit, naming the precision."""

import json

import pytest

from service.audits.service import check_submission
from service.config import Settings
from service.errors import FieldError
from service.models import Tenant
from service.specs.audit import AuditSpec

TENANT = Tenant(name="acme")


def spec(target: str, precisions: list[dict]) -> AuditSpec:
    return AuditSpec.model_validate(
        {"target": {"model": target}, "unlearned": [{"name": "u", "model": target}], "corpus": "c",
         "precisions": precisions}
    )  # fmt: skip


def model_folder(root, model_type: str):
    folder = root / model_type
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": model_type}))
    (folder / "model.safetensors").touch()
    return folder


@pytest.mark.parametrize(("model_type", "refused"), [("gpt2", True), ("opt", True), ("llama", False)])
def test_awq_on_a_local_model_of_another_architecture_is_refused(tmp_path, model_type, refused):
    folder = model_folder(tmp_path / "models" / TENANT.name, model_type)
    settings = Settings(data_dir=tmp_path, model_roots=[tmp_path / "models"])
    audit = spec(str(folder), [{"method": "rtn"}, {"method": "awq"}])
    if not refused:
        check_submission(audit, settings, TENANT)
        return
    with pytest.raises(FieldError) as error:
        check_submission(audit, settings, TENANT)
    locations = [location for location, _message in error.value.problems]
    assert locations == [("precisions", 2, "method")] * 2  # target and unlearned; full is precisions.0
    assert f"awq cannot quantize model type '{model_type}'" in str(error.value)


def test_another_tenants_model_is_refused_as_a_source_and_its_config_never_told(tmp_path):
    """A folder outside the tenant's roots gets the source refusal only: its architecture is not read."""
    folder = model_folder(tmp_path / "models" / "other-tenant", "gpt2")
    settings = Settings(data_dir=tmp_path, model_roots=[tmp_path / "models"])
    with pytest.raises(FieldError) as error:
        check_submission(spec(str(folder), [{"method": "awq"}]), settings, TENANT)
    assert [location for location, _message in error.value.problems] == [("target", "model"), ("unlearned", 0, "model")]
    assert "cannot quantize" not in str(error.value)


def test_hub_models_are_left_to_the_worker(tmp_path):
    settings = Settings(data_dir=tmp_path, allowed_hub_orgs=["acme"])
    check_submission(spec("acme/tiny-gpt2", [{"method": "awq"}]), settings, TENANT)
