import os
import subprocess
import sys

import pytest
import torch

from worker.engine.threads import apply_thread_count, temporary_thread_count, thread_count, usable_cores


def test_the_setting_wins_over_the_cores():
    assert thread_count(3, reserved_cores=1) == 3


def test_by_default_every_usable_core_less_the_reserved_ones(monkeypatch):
    monkeypatch.setattr("worker.engine.threads.usable_cores", lambda: 8)
    assert thread_count(None) == 8
    assert thread_count(None, reserved_cores=1) == 7


def test_never_fewer_than_one_thread(monkeypatch):
    monkeypatch.setattr("worker.engine.threads.usable_cores", lambda: 1)
    assert thread_count(None, reserved_cores=1) == 1


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity on this platform")
def test_usable_cores_follow_the_affinity():
    assert usable_cores() == len(os.sched_getaffinity(0))


def test_applying_sets_torchs_thread_count():
    before = torch.get_num_threads()
    try:
        assert apply_thread_count(1) == 1
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_a_celery_pool_process_takes_the_setting():
    """The worker_process_init handler, run as a pool process runs it, in a fresh interpreter."""
    code = (
        "import torch\n"
        "from worker.celery_app import set_thread_count\n"
        "set_thread_count()\n"
        "print(torch.get_num_threads())\n"
    )
    env = {**os.environ, "UNLEARN_AUDIT_TORCH_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "1"


def test_the_cli_sets_the_count_before_evaluating(monkeypatch):
    from worker import cli

    seen: list[int] = []
    monkeypatch.setenv("UNLEARN_AUDIT_TORCH_THREADS", "1")
    monkeypatch.setattr("worker.cli.run_command.handle", lambda args: seen.append(torch.get_num_threads()) or 0)
    before = torch.get_num_threads()
    try:
        from service.config import get_settings

        get_settings.cache_clear()
        parser_args = ["run", "spec.json", "--out", "report"]
        assert cli.main(parser_args) == 0
    finally:
        torch.set_num_threads(before)
        get_settings.cache_clear()
    assert seen == [1]


def test_a_temporary_count_uses_every_core_and_is_restored(monkeypatch):
    monkeypatch.setattr("worker.engine.threads.usable_cores", lambda: 2)
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as the embedded worker leaves it (one core kept for the API)
    try:
        with temporary_thread_count(None) as count:
            assert count == torch.get_num_threads() == 2
        assert torch.get_num_threads() == 1
        with pytest.raises(RuntimeError), temporary_thread_count(None):
            raise RuntimeError("a failed build")
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
