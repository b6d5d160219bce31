"""What a poller pays per poll of GET /v1/audits/{id}: the full audit, the light view (?fields=status,progress),
and each of them answered 304 to its ETag; median time over many polls, and bytes on the wire.

An audit of 5 models x 5 precisions with collision (41 runs), on SQLite (embedded) or PostgreSQL, through the
app in this process (no network: the time is the server's).

    .venv/bin/python bench/bench_polling.py [--polls 200] [--backend sqlite|postgresql]
"""

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from fastapi.testclient import TestClient

from service.config import Settings
from service.main import create_app
from tests.service.databases import fresh_database, new_api_key
from tests.tiny_world import make_bundle, stand_in_models

PRECISIONS = [
    {"method": "full"},
    {"method": "rtn", "bits": 8},
    {"method": "rtn", "bits": 4, "group_size": 32},
    {"method": "bnb_int8"},
    {"method": "bnb_nf4"},
]
UNLEARNED = ("u0", "u1", "u2", "u3")


def audit_spec(model_root: Path) -> dict:
    return {
        "target": {"model": str(model_root / "target")},
        "unlearned": [{"name": name, "model": str(model_root / name)} for name in UNLEARNED],
        "corpus": make_bundle().to_document(),
        "precisions": PRECISIONS,
        "metrics": ["verbmem_f", "knowmem_f", "collision"],
    }


def poll(client: TestClient, path: str, headers: dict, polls: int) -> tuple[float, int, int]:
    """Median milliseconds, body bytes and status of `polls` GETs."""
    timings, response = [], None
    for _ in range(polls):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings), len(response.content), response.status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=200)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as folder, fresh_database(args.backend, Path(folder)) as url:
        model_root = stand_in_models(Path(folder) / "models", ("target", *UNLEARNED))
        settings = Settings(data_dir=folder, database_url=url, broker_url=f"sqla+sqlite:///{folder}/broker.sqlite",
                            model_roots=[model_root], shared_model_roots=True, resend_interval_s=0)  # fmt: skip
        auth = {"Authorization": f"Bearer {new_api_key(url)}"}
        with TestClient(create_app(settings)) as client:
            audit = client.post("/v1/audits", json=audit_spec(model_root), headers=auth).json()
            path = f"/v1/audits/{audit['id']}"
            runs = client.get(path, headers=auth).json()["progress"]["runs_total"]
            print(f"{args.backend}, an audit of {runs} runs, median of {args.polls} polls\n")
            print(f"| {'poll':<50} | {'status':>6} | {'median ms':>9} | {'body bytes':>10} |")
            print(f"| {'-' * 50} | {'-' * 6}:| {'-' * 9}:| {'-' * 10}:|")
            for label, query in (("full audit", ""), ("light view ?fields=status,progress", "?fields=status,progress")):
                etag = client.get(path + query, headers=auth).headers["etag"]
                for conditional in (False, True):
                    headers = {**auth, "If-None-Match": etag} if conditional else auth
                    median_ms, size, status = poll(client, path + query, headers, args.polls)
                    name = f"{label}{' + If-None-Match' if conditional else ''}"
                    print(f"| {name:<50} | {status:>6} | {median_ms:>9.2f} | {size:>10} |")


if __name__ == "__main__":
    main()
