"""The CLI (`unlearn-audit run`, one process) and the service (`unlearn-audit serve`: API, SQLite, in-process
worker) write the same report for the same audit, apart from the fields named in LEGITIMATE_DIFFERENCES."""

import copy
import json
from pathlib import Path

import httpx
import pytest

from tests.service.live_server import live_server_with_audit

pytestmark = pytest.mark.slow

UNLEARNED_BY_THE_AUDIT = "ga_quick"

# Every field that may differ, and why. Anything else differing is drift between the two runners.
LEGITIMATE_DIFFERENCES = {
    ("audit",): "the service's record of the audit (id, status, times, runs); the CLI has no audit record",
    ("spec", "corpus"): "the CLI names an inline corpus by its content address, the service by its stored id",
    ("variants", "*", "timings"): "seconds",
    ("provenance", "timings"): "seconds, per stage of each runner (the service times each run)",
    ("provenance", "audit_id"): "each runner's own id for its audit",
    ("provenance", "started_at"): "a time",
    ("provenance", "finished_at"): "a time",
    ("unlearning", "*", "duration_s"): "seconds",
    ("unlearning", "*", "checkpoint"): "each runner saves the unlearned model in its own folder",
    ("provenance", "models", UNLEARNED_BY_THE_AUDIT, "source"): "that saved folder, read back",
    ("provenance", "models", UNLEARNED_BY_THE_AUDIT, "content_sha256"): "that saved folder's files (its config.json "
    "may name the folder it was saved from)",
}


def parity_spec(target: Path, unlearned: Path, bundle) -> dict:
    return {
        "target": {"model": str(target)},
        "unlearned": [{"name": "noisy", "model": str(unlearned)}],
        "unlearning": [
            {"method": "ga_gdr", "name": UNLEARNED_BY_THE_AUDIT, "max_steps": 2, "batch_size": 2, "chunk_length": 32}
        ],
        "reference": {"auc": 0.4772},
        "corpus": bundle.to_document(),
        "precisions": [{"method": "full"}, {"method": "rtn", "bits": 4, "group_size": 32}],
        "metrics": ["verbmem_f", "knowmem_f", "knowmem_r", "privleak", "collision"],
        "limits": {"max_items": 3, "bootstrap_samples": 20},
        "seed": 3,
    }


def without(document: dict, path: tuple[str, ...]) -> None:
    """Delete `path` from `document` ("*" = every element of a list), failing if it is not there."""
    head, *rest = path
    targets = document if head == "*" else [document]
    for target in targets:
        if not rest:
            del target[head]
        else:
            without(target if head == "*" else target[head], tuple(rest))


def comparable(report: dict) -> dict:
    kept = copy.deepcopy(report)
    for path in LEGITIMATE_DIFFERENCES:
        without(kept, path)
    return kept


def test_the_cli_and_the_service_write_the_same_report(
    tmp_path, tmp_path_factory, tiny_target_dir, tiny_unlearned_dir, tiny_bundle
):
    from worker.cli import main

    spec = parity_spec(tiny_target_dir, tiny_unlearned_dir, tiny_bundle)
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    # no result cache: a variant reused from an earlier test's run would differ in `reused_from`
    assert main(["run", str(spec_path), "--out", str(tmp_path / "cli"), "--quiet", "--no-cache"]) == 0
    cli = json.loads((tmp_path / "cli" / "report.json").read_text(encoding="utf-8"))

    data_dir = tmp_path / "serve"
    data_dir.mkdir()
    with live_server_with_audit(data_dir, tmp_path_factory.getbasetemp(), spec) as server:
        response = httpx.get(
            f"{server.url}/v1/audits/{server.audit_id}/report",
            params={"format": "json"},
            headers={"Authorization": f"Bearer {server.api_key}"},
            timeout=60,
        )
    service = response.json()

    assert cli["spec"]["corpus"] == f"sha256:{tiny_bundle.sha256}" == f"sha256:{service['provenance']['corpus_sha256']}"
    for report in (cli, service):
        assert Path(report["unlearning"][0]["checkpoint"]).name == UNLEARNED_BY_THE_AUDIT
        assert report["provenance"]["models"][UNLEARNED_BY_THE_AUDIT]["source"] == report["unlearning"][0]["checkpoint"]
    assert {item["label"] for item in service["items"] if item["metric"] == "privleak"} == {0, 1}
    assert comparable(cli) == comparable(service)
