"""The client commands (`corpus upload`, `submit`, `status`, `report`) against the API served over real HTTP:
MUSE folders uploaded as bundles, exit codes a CI pipeline can gate on, and the API's errors in plain words."""

import json

import httpx
import pytest

from service.specs.corpus import load_bundle
from tests.service.databases import new_api_key
from tests.service.servers import free_port, running_api
from tests.service.submissions import spec_for
from tests.tiny_world import make_bundle, write_muse_folder
from worker.cli import main

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # HTTP and exit codes: one backend


@pytest.fixture
def service(settings, database_url, monkeypatch):
    """The API on a free port, its URL and a key in the environment the commands read; yields an httpx client."""
    key = new_api_key(database_url)
    with running_api(settings) as url:
        monkeypatch.setenv("UNLEARN_AUDIT_URL", url)
        monkeypatch.setenv("UNLEARN_AUDIT_API_KEY", key)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            yield client


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exit_:  # argparse's usage errors
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_corpus_upload_turns_a_muse_folder_into_the_bundle(service, tmp_path, capsys):
    folder = write_muse_folder(tmp_path / "news", make_bundle())
    code, out, err = run(capsys, "corpus", "upload", str(folder), "--label", "domain:news")
    assert code == 0, err
    corpus = service.get(f"/v1/corpora/{out.strip()}").json()
    assert corpus["sha256"] == load_bundle(folder).sha256
    assert corpus["name"] == "news" and corpus["labels"] == {"domain": "news"}
    assert corpus["parts"]["verbmem/forget"] == 4 and "verbmem/forget 4" in err
    (folder / "verbmem" / "forget.json").write_text('[{"prompt": "p"}]', encoding="utf-8")
    code, _out, err = run(capsys, "corpus", "upload", str(folder))
    assert code == 2 and "verbmem/forget.json" in err and "missing key 'gt'" in err


def test_submit_uploads_a_local_folder_and_status_tells_job_from_verdict(service, model_root, tmp_path, capsys):
    write_muse_folder(tmp_path / "bundle", make_bundle())
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec_for(model_root, corpus="bundle")), encoding="utf-8")  # relative to the spec
    code, out, err = run(capsys, "submit", str(spec_path), "--name", "nightly", "--label", "team:risk")
    assert code == 0, err
    audit = service.get(f"/v1/audits/{out.strip()}").json()
    assert audit["name"] == "nightly" and audit["labels"] == {"team": "risk"}
    assert service.get(f"/v1/corpora/{audit['corpus_id']}").json()["name"] == "bundle"
    code, out, _err = run(capsys, "status", audit["id"])
    assert code == 3  # queued (no worker here): no verdict yet
    assert "job:     queued (0/" in out and "verdict: none yet" in out and "nightly" in out


def test_the_apis_errors_are_named_and_exit_codes_follow_them(service, model_root, tmp_path, capsys, monkeypatch):
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec_for(model_root, limits={"max_items": 0})), encoding="utf-8")
    code, _out, err = run(capsys, "submit", str(spec_path))
    assert code == 2 and "HTTP 422 validation-failed" in err and "body.limits.max_items: Input should be greater than" in err
    code, _out, err = run(capsys, "status", "no-such-audit")
    assert code == 2 and "HTTP 404" in err and "audit 'no-such-audit' not found" in err
    code, _out, err = run(capsys, "report", "no-such-audit", "--format", "pdf", "--out", str(tmp_path / "r"))
    assert code == 2 and "invalid choice: 'pdf'" in err
    code, _out, err = run(capsys, "submit", str(spec_path), "--label", "no-colon")
    assert code == 2 and "expected key:value" in err
    code, _out, err = run(capsys, "status", "x", "--url", f"http://127.0.0.1:{free_port()}")
    assert code == 4 and "unreachable" in err
    code, _out, err = run(capsys, "status", "x", "--api-key", "wrong")
    assert code == 2 and "HTTP 401" in err
    monkeypatch.delenv("UNLEARN_AUDIT_URL")
    code, _out, err = run(capsys, "status", "x")
    assert code == 2 and "UNLEARN_AUDIT_URL" in err
