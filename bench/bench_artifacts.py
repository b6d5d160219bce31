"""The artifact store's cost for one unlearned model: upload by the worker that made it (sha256 manifest
included), download and check by a worker on another machine, and the check of a copy already there.

A folder of --gib GiB of random bytes in 1 GiB shards stands for a checkpoint (a 7B model in bf16 is 13.5 GB),
stored in a local folder URL and in S3 served by moto on 127.0.0.1 (an in-process, in-memory S3: a lower
bound on a real one's cost, whose network is usually the limit). Prints seconds and GB/s per step.

    PYTHONPATH=. .venv/bin/python bench/bench_artifacts.py [--gib 2] [--stores file,s3]
"""

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from service.config import Settings
from tests.s3_server import DUMMY_AWS, s3_server
from worker.runs.artifacts import folder_manifest, local_copy, publish

GIB = 1024**3
AUDIT, MODEL = "bench", "unlearned"


def write_shards(folder: Path, gib: int) -> int:
    folder.mkdir(parents=True)
    for index in range(gib):
        with (folder / f"model-{index:05d}.safetensors").open("wb") as stream:
            for _ in range(64):
                stream.write(os.urandom(GIB // 64))
    return gib * GIB


def timed(step: Callable[[], object]) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def measure(store: dict, root: Path, gib: int) -> list[tuple[str, float, int]]:
    maker = Settings(data_dir=root / "maker", **store)
    other = Settings(data_dir=root / "other", **store)
    folder = Path(str(maker.checkpoint_dir)) / AUDIT / MODEL
    size = write_shards(folder, gib)
    rows = [("sha256 manifest alone", timed(lambda: folder_manifest(folder)), size)]
    rows.append(("upload (manifest included)", timed(lambda: publish(maker, AUDIT, MODEL, folder)), size))
    rows.append(("download and check", timed(lambda: local_copy(other, AUDIT, MODEL)), size))
    rows.append(("copy already there", timed(lambda: local_copy(other, AUDIT, MODEL)), size))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=int, default=2)
    parser.add_argument("--stores", default="file,s3")
    args = parser.parse_args()
    os.environ.update(DUMMY_AWS)
    print(f"| store | step | seconds for {args.gib} GiB | GB/s |\n| --- | --- | --- | --- |")
    for kind in args.stores.split(","):
        with tempfile.TemporaryDirectory() as scratch:
            root = Path(scratch)
            if kind == "file":
                rows = measure({"artifact_url": f"file://{root / 'store'}"}, root, args.gib)
            else:
                with s3_server("bench") as endpoint:
                    store = {"artifact_url": "s3://bench/artifacts", "artifact_endpoint_url": endpoint}
                    rows = measure(store, root, args.gib)
            for step, seconds, size in rows:
                print(f"| {kind} | {step} | {seconds:.2f} | {size / seconds / 1e9:.2f} |")


if __name__ == "__main__":
    main()
