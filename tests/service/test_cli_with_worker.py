"""The client commands against `unlearn-audit serve` with its in-process worker: `submit --wait` follows a real
audit to its verdict (the exit code), `report` and `status` read a finished one."""

import json
import os
import subprocess

import httpx
import pytest

from tests.service.live_server import tiny_audit_spec
from tests.service.servers import CLI, REPO
from tests.tiny_world import write_muse_folder
from worker.cli.api_client import verdict_exit_code

pytestmark = pytest.mark.slow


def cli(server, *argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "UNLEARN_AUDIT_URL": server.url, "UNLEARN_AUDIT_API_KEY": server.api_key,
           "PYTHONPATH": str(REPO)}  # fmt: skip
    return subprocess.run([*CLI, *argv], env=env, cwd=REPO, capture_output=True, text=True, timeout=900)


def test_submit_waits_for_the_verdict_and_exits_with_it(
    live_audit_server, tiny_target_dir, tiny_unlearned_dir, tiny_bundle, tmp_path
):
    write_muse_folder(tmp_path / "muse", tiny_bundle)
    spec = {**tiny_audit_spec(tiny_target_dir, tiny_unlearned_dir, tiny_bundle), "corpus": "muse"}
    spec.update(precisions=[{"method": "full"}], metrics=["verbmem_f"])  # one run per model: quick
    (tmp_path / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    done = cli(live_audit_server, "submit", str(tmp_path / "spec.json"), "--wait", "--name", "from-cli")
    audit_id = done.stdout.strip()
    headers = {"Authorization": f"Bearer {live_audit_server.api_key}"}
    audit = httpx.get(f"{live_audit_server.url}/v1/audits/{audit_id}", headers=headers, timeout=30).json()
    assert audit["status"] == "succeeded" and audit["name"] == "from-cli", done.stderr
    assert done.returncode == verdict_exit_code(audit["verdict"]) and audit["verdict"] is not None
    assert "job:     succeeded" in done.stderr and f"verdict: {audit['verdict']}" in done.stderr


def test_report_and_status_of_a_finished_audit(live_audit_server, tmp_path):
    base = f"{live_audit_server.url}/v1/audits/{live_audit_server.audit_id}"
    headers = {"Authorization": f"Bearer {live_audit_server.api_key}"}
    verdict = httpx.get(base, headers=headers, timeout=30).json()["verdict"]
    for report_format in ("csv", "html", "json"):
        out = tmp_path / f"report.{report_format}"
        done = cli(
            live_audit_server, "report", live_audit_server.audit_id, "--format", report_format, "--out", str(out)
        )
        assert done.returncode == verdict_exit_code(verdict), done.stderr
        served = httpx.get(f"{base}/report?format={report_format}", headers=headers, timeout=30)
        assert out.read_bytes() == served.content
    status = cli(live_audit_server, "status", live_audit_server.audit_id)
    assert status.returncode == verdict_exit_code(verdict) and "job:     succeeded" in status.stdout
