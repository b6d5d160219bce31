"""What the browser tests submit to the live service (stand-in models under its model root, the tiny corpus)."""

from pathlib import Path

from tests.tiny_world import make_bundle


def model_root(service) -> Path:
    return Path(service.settings.model_roots[0])


def valid_spec(service, corpus_id: str) -> dict:
    root = model_root(service)
    return {
        "target": {"model": str(root / "target")},
        "unlearned": [{"name": "ga", "model": str(root / "ga")}],
        "corpus": corpus_id,
        "precisions": [{"method": "full"}, {"method": "rtn", "bits": 4, "group_size": 32}],
        "metrics": ["verbmem_f", "collision"],
    }


def upload_corpus(client) -> str:
    response = client.post("/v1/corpora", params={"name": "tiny"}, json=make_bundle().to_document())
    assert response.status_code in (200, 201), response.text
    return response.json()["id"]
