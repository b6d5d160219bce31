"""A client generated from /openapi.json with openapi-python-client submits an audit to a live server, polls
it to its end with the light view, and reads an error answer as a problem."""

import json

import httpx
import pytest

from tests.service.generated_client import generate_client, generator_venv, run_with_client
from tests.service.live_server import live_audit_server, tiny_audit_spec  # noqa: F401 - the fixture

CLIENT_SCRIPT = """
import json, sys, time
from unlearn_audit_client import AuthenticatedClient
from unlearn_audit_client.api.audits import get_audit, submit_audit
from unlearn_audit_client.models import AuditSpec, GetAuditFieldsType0Item, Problem

url, key, spec_file = sys.argv[1:]
client = AuthenticatedClient(base_url=url, token=key, timeout=60)
missing = get_audit.sync(audit_id="no-such-audit", client=client)
assert isinstance(missing, Problem), missing
accepted = submit_audit.sync_detailed(client=client, body=AuditSpec.from_dict(json.load(open(spec_file))))
assert accepted.status_code == 202, accepted.content
light = [GetAuditFieldsType0Item("status"), GetAuditFieldsType0Item("progress")]
deadline = time.monotonic() + 600
while True:
    audit = get_audit.sync(audit_id=accepted.parsed.id, client=client, fields=light)
    if audit.status in ("succeeded", "failed", "cancelled") or time.monotonic() > deadline:
        break
    time.sleep(1)
print(json.dumps({"missing": missing.code, "location": accepted.headers["location"], "id": accepted.parsed.id,
                  "status": audit.status, "runs_done": audit.progress.runs_done}))
"""


@pytest.mark.slow
def test_a_generated_client_submits_and_polls_an_audit(
    live_audit_server,  # noqa: F811
    tiny_target_dir,
    tiny_unlearned_dir,
    tiny_bundle,
    tmp_path,
):
    environment = generator_venv()
    document = httpx.get(f"{live_audit_server.url}/openapi.json", timeout=30).json()
    generate_client(environment, document, tmp_path)
    spec = {
        **tiny_audit_spec(tiny_target_dir, tiny_unlearned_dir, tiny_bundle),
        "precisions": [{"method": "full"}],
        "metrics": ["verbmem_f"],
        "limits": {"max_items": 2, "bootstrap_samples": 0},
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    result = run_with_client(environment, tmp_path, CLIENT_SCRIPT, live_audit_server.url, live_audit_server.api_key,
                             "spec.json")  # fmt: skip
    assert result["missing"] == "not-found"
    assert result["location"] == f"/v1/audits/{result['id']}"
    assert result["status"] == "succeeded" and result["runs_done"] >= 1
