"""Peak memory of one corpus upload in the API process, against the size of its body.

Each source tree (default: this one; `--trees A B` puts checkouts side by side in one run, e.g. before and
after a change) is served by `unlearn-audit serve --no-worker` in its own process on a fresh SQLite data
folder. A small upload warms the process up; then, for each document, the peak resident set is reset
(/proc/PID/clear_refs) and one bundle of N tiny VerbMem items is posted. The table shows the peak above the
resident set just before the upload, in MB and as a multiple of the body's size (medians over the repeats,
each repeat a different document), the time the upload took, and the answer's status.

    .venv/bin/python bench/bench_upload.py [--items 10000 100000 600000] [--repeats 3] [--trees . /path/to/main]
"""

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

KEY_LINE = re.compile(r"API key \(tenant '[^']+', shown once\): (\S+)")
MB = 1024 * 1024


@dataclass(frozen=True)
class Server:
    url: str
    pid: int
    api_key: str


@dataclass(frozen=True)
class Measurement:
    status: int
    body_bytes: int
    peak_bytes: int
    seconds: float


def bundle_body(items: int, repeat: int) -> bytes:
    """A bundle of `items` tiny VerbMem items (about 36 bytes each), different for every repeat."""
    forget = [{"prompt": f"p{repeat}-{i}", "gt": f"g{i}"} for i in range(items)]
    return json.dumps({"verbmem": {"forget": forget}}, separators=(",", ":")).encode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(tree: Path, data_dir: Path, extra_env: dict[str, str]) -> Iterator[Server]:
    """`unlearn-audit serve --no-worker` from `tree`, until the block ends."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(tree), "UNLEARN_AUDIT_RESEND_INTERVAL_S": "0", **extra_env}
    cli = [sys.executable, "-c", "import sys, worker.cli; sys.exit(worker.cli.main())"]  # the tree's own CLI
    command = [*cli, "serve", "--no-worker", "--port", str(port), "--data-dir", str(data_dir)]
    log = data_dir.parent / f"{data_dir.name}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, cwd=tree, stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not KEY_LINE.search(log.read_text()) or not answers(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server of {tree} did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield Server(url, process.pid, KEY_LINE.search(log.read_text()).group(1))  # type: ignore[union-attr]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


def answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def memory_kib(pid: int, field: str) -> int:
    """A field of /proc/PID/status (VmRSS: resident now, VmHWM: the peak since the last reset), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


def upload(server: Server, body: bytes) -> Measurement:
    headers = {"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"}
    Path(f"/proc/{server.pid}/clear_refs").write_text("5")  # the peak (VmHWM) restarts from the current RSS
    before_kib = memory_kib(server.pid, "VmRSS")
    started = time.perf_counter()
    response = httpx.post(f"{server.url}/v1/corpora", content=body, headers=headers, timeout=600)
    seconds = time.perf_counter() - started
    peak_kib = memory_kib(server.pid, "VmHWM")
    return Measurement(response.status_code, len(body), (peak_kib - before_kib) * 1024, seconds)


def measure_tree(tree: Path, items: list[int], repeats: int, env: dict[str, str]) -> dict[int, list[Measurement]]:
    with tempfile.TemporaryDirectory() as folder, serving(tree, Path(folder) / "data", env) as server:
        upload(server, bundle_body(100, -1))  # warm-up: imports, the first connection, the first insert
        return {n: [upload(server, bundle_body(n, repeat)) for repeat in range(repeats)] for n in items}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, nargs="+", default=[10_000, 100_000, 600_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trees", type=Path, nargs="+", default=[Path(__file__).resolve().parents[1]])
    parser.add_argument("--env", nargs="*", default=[], help="KEY=VALUE settings for every server")
    args = parser.parse_args()
    env = dict(pair.split("=", 1) for pair in args.env)
    trees = [tree.resolve() for tree in args.trees]
    results = {tree: measure_tree(tree, args.items, args.repeats, env) for tree in trees}
    header = "| items | body (MB) |" + "".join(f" {tree.name}: status, peak (MB), x body, s |" for tree in trees)
    print(header)
    print("|" + " --- |" * (2 + len(trees)))
    for n in args.items:
        body_mb = results[trees[0]][n][0].body_bytes / MB
        cells = []
        for tree in trees:
            runs = results[tree][n]
            peak = statistics.median(m.peak_bytes for m in runs)
            seconds = statistics.median(m.seconds for m in runs)
            statuses = "/".join(sorted({str(m.status) for m in runs}))
            cells.append(f" {statuses}, {peak / MB:.0f}, {peak / runs[0].body_bytes:.1f}x, {seconds:.2f} |")
        print(f"| {n:,} | {body_mb:.1f} |" + "".join(cells))


if __name__ == "__main__":
    main()
