"""A running embedded server (`unlearn-audit serve`) with a finished tiny audit in it, for browser tests.

Use the `live_audit_server` fixture (import it into a conftest.py: `from tests.service.live_server import
live_audit_server`), or the `live_server_with_audit` context manager. The server runs in its own process on a
free port, with a temporary data folder; the key is made with `unlearn-audit keys create` beside it.
"""

import json
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from service.specs.corpus import CorpusBundle
from tests.service.servers import CLI, REPO, free_port, wait_for, wait_for_audit

KEY_LINE = re.compile(r"api key \(shown once\): (\S+)")


@dataclass(frozen=True)
class LiveServer:
    url: str  # e.g. http://127.0.0.1:40123 (the dashboard is at url + "/")
    api_key: str
    audit_id: str  # a succeeded audit: target and one unlearned model at full and RTN 4-bit
    data_dir: Path


def tiny_audit_spec(target_dir: Path, unlearned_dir: Path, bundle: CorpusBundle) -> dict:
    return {
        "target": {"model": str(target_dir)},
        "unlearned": [{"name": "noisy", "model": str(unlearned_dir)}],
        "corpus": bundle.to_document(),
        "precisions": [{"method": "full"}, {"method": "rtn", "bits": 4, "group_size": 32}],
        "metrics": ["verbmem_f", "knowmem_f", "knowmem_r", "privleak", "collision"],
        "limits": {"max_items": 4, "bootstrap_samples": 20},
    }


@contextmanager
def live_server_with_audit(
    data_dir: Path, model_root: Path, spec: dict, timeout_s: float = 600
) -> Iterator[LiveServer]:
    """`unlearn-audit serve` on a free port; a key from `keys create`; `spec` submitted and finished."""
    port = free_port()
    env = {
        **os.environ,
        "UNLEARN_AUDIT_DATA_DIR": str(data_dir),
        "UNLEARN_AUDIT_MODEL_ROOTS": json.dumps([str(model_root)]),
        "UNLEARN_AUDIT_SHARED_MODEL_ROOTS": "true",
        "UNLEARN_AUDIT_PROGRESS_INTERVAL_S": "0.2",
        "PYTHONPATH": str(REPO),
    }
    log = (data_dir / "serve.log").open("ab")
    server = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)], env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(url), 120, f"unlearn-audit serve at {url} (log: {data_dir / 'serve.log'})")
        command = [*CLI, "keys", "create", "--tenant", "browser"]
        created = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, check=True)
        api_key = KEY_LINE.search(created.stdout).group(1)  # type: ignore[union-attr]
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {api_key}"}, timeout=60) as client:
            response = client.post("/v1/audits", json=spec)
            response.raise_for_status()
            audit = wait_for_audit(client, response.json()["id"], timeout_s)
        if audit["status"] != "succeeded":
            raise RuntimeError(f"the tiny audit ended {audit['status']}: {audit['error']}")
        yield LiveServer(url=url, api_key=api_key, audit_id=audit["id"], data_dir=data_dir)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
        log.close()


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="session")
def live_audit_server(tmp_path_factory, tiny_target_dir, tiny_unlearned_dir, tiny_bundle) -> Iterator[LiveServer]:
    """A running embedded server holding one succeeded tiny audit (session-wide: built once)."""
    spec = tiny_audit_spec(tiny_target_dir, tiny_unlearned_dir, tiny_bundle)
    with live_server_with_audit(tmp_path_factory.mktemp("live"), tmp_path_factory.getbasetemp(), spec) as server:
        yield server
