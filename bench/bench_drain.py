"""How fast a worker drains the messages of a cancelled audit: a real `unlearn-audit worker` (prefork, one
process, as deployed) on Redis, with an audit of N runs cancelled before the worker sees its messages.

The worker is started and ready before the messages are sent; the time is from the first message sent to the
queue being empty with nothing left unacknowledged. `--code` runs the worker from another checkout, e.g. the
code before cancelled messages were skipped in the worker's main process:
`git archive 0ce4ad1 | tar -x -C /tmp/before`, then `--code /tmp/before`.

    .venv/bin/python bench/bench_drain.py [--messages 500] [--backend sqlite|postgresql] [--code DIR]
"""

import argparse
import os
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import redis

from service.config import GPU_QUEUE, Settings
from service.models.states import AuditStatus
from tests.service.backlogs import backlog_audit, messages_left, send_run_messages
from tests.service.databases import fresh_database
from tests.service.servers import CLI, REPO, TEST_REDIS_URL, settings_env, wait_for


def start_worker(settings: Settings, code: Path, log: Path) -> subprocess.Popen:
    env = {**settings_env(settings), "PYTHONPATH": str(code)}
    command = [*CLI, "worker", "--pool", "prefork", "--concurrency", "1", "--queues", GPU_QUEUE]
    with log.open("ab") as sink:
        return subprocess.Popen(
            command, env=env, cwd=code, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )


def drain(settings: Settings, messages: int, code: Path, folder: Path, timeout_s: float) -> tuple[int, float]:
    """(messages drained, seconds) for one cancelled audit of `messages` runs."""
    log = folder / "worker.log"
    worker = start_worker(settings, code, log)
    try:
        wait_for(lambda: "ready" in log.read_text(errors="replace"), 120, "the worker to start")
        run_ids = backlog_audit(str(settings.database_url), "bench", messages, AuditStatus.CANCELLED)
        started = time.perf_counter()
        send_run_messages(str(settings.broker_url), run_ids)
        deadline = started + timeout_s
        while messages_left(str(settings.broker_url), GPU_QUEUE) and time.perf_counter() < deadline:
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        return messages - messages_left(str(settings.broker_url), GPU_QUEUE), elapsed
    finally:
        os.killpg(worker.pid, 9)
        worker.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--code", type=Path, default=REPO, help="the checkout the worker runs from")
    parser.add_argument("--timeout", type=float, default=120.0, help="stop measuring after this many seconds")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    redis.Redis.from_url(TEST_REDIS_URL).flushdb()
    with tempfile.TemporaryDirectory() as name, fresh_database(args.backend, Path(name)) as url:
        folder = Path(name)
        settings = Settings(data_dir=folder, database_url=url, broker_url=TEST_REDIS_URL, model_roots=[folder])
        drained, seconds = drain(settings, args.messages, args.code.resolve(), folder, args.timeout)
    print("| code | backend | messages | drained | seconds | messages/s |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    print(f"| {args.code} | {args.backend} | {args.messages} | {drained} | {seconds:.1f} | {drained / seconds:.1f} |")


if __name__ == "__main__":
    main()
