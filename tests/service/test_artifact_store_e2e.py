"""The artifact store in a running service: an unlearning run uploads its model to S3 (moto's server on
127.0.0.1), the audit's other runs read it, the report names its URL, and deleting the audit deletes it."""

import boto3
import httpx
import pytest

from tests.s3_server import DUMMY_AWS, s3_server
from tests.service.live_server import live_server_with_audit
from tests.service.servers import wait_for

MADE = "ga_made"


def store_spec(target, bundle) -> dict:
    return {
        "target": {"model": str(target)},
        "unlearning": [{"method": "ga_gdr", "name": MADE, "max_steps": 2, "batch_size": 2, "chunk_length": 32}],
        "corpus": bundle.to_document(),
        "precisions": [{"method": "full"}, {"method": "rtn", "bits": 4, "group_size": 32}],
        "metrics": ["verbmem_f", "collision"],
        "limits": {"max_items": 2, "bootstrap_samples": 10},
    }


@pytest.mark.slow
def test_a_model_made_by_the_audit_goes_through_the_store_and_goes_with_the_audit(
    tmp_path, tmp_path_factory, tiny_target_dir, tiny_bundle, monkeypatch
):
    for name, value in DUMMY_AWS.items():
        monkeypatch.setenv(name, value)
    with s3_server("artifacts") as endpoint:
        monkeypatch.setenv("UNLEARN_AUDIT_ARTIFACT_URL", "s3://artifacts/audits")
        monkeypatch.setenv("UNLEARN_AUDIT_ARTIFACT_ENDPOINT_URL", endpoint)
        s3 = boto3.client("s3", endpoint_url=endpoint)
        spec = store_spec(tiny_target_dir, tiny_bundle)
        with live_server_with_audit(tmp_path, tmp_path_factory.getbasetemp(), spec) as server:
            prefix = f"audits/{server.audit_id}/{MADE}/"
            stored = {item["Key"] for item in s3.list_objects_v2(Bucket="artifacts", Prefix=prefix)["Contents"]}
            assert {f"{prefix}manifest.json", f"{prefix}config.json"} <= stored
            assert any(key.endswith(".safetensors") for key in stored)
            with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.api_key}"}) as client:
                report = client.get(f"/v1/audits/{server.audit_id}/report", params={"format": "json"}).json()
                assert report["unlearning"][0]["checkpoint"] == f"s3://artifacts/audits/{server.audit_id}/{MADE}"
                assert {v["model"] for v in report["variants"]} == {"target", MADE}
                assert client.delete(f"/v1/audits/{server.audit_id}").status_code == 204

            def emptied() -> bool | None:
                return s3.list_objects_v2(Bucket="artifacts", Prefix=prefix)["KeyCount"] == 0 or None

            wait_for(emptied, 30, "the audit's prefix deleted from the store")
