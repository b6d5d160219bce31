"""The house rules that a check enforces: scripts/check_sql.sh fails on SQL outside repository modules."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECK_SQL = ROOT / "scripts" / "check_sql.sh"


def check_sql(checkout: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(CHECK_SQL), str(checkout)], capture_output=True, text=True, timeout=60)


def test_this_tree_keeps_its_queries_in_repositories():
    checked = check_sql(ROOT)
    assert checked.returncode == 0, checked.stderr


def test_a_query_outside_a_repository_fails_the_check_with_its_place(tmp_path):
    files = {
        "service/things/service.py": "def count(session):\n    return session.scalar(select(Thing))\n",
        "worker/runs/cleanup.py": "def run(session):\n    session.execute(delete(Thing))\n",
        "service/things/repository.py": "def all_things(session):\n    return session.scalars(select(Thing))\n",
        "service/things/rules.py": "def delete(session, thing):\n    session.delete(thing)\n    values.update(a=1)\n",
    }
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)

    checked = check_sql(tmp_path)
    assert checked.returncode == 1
    places = {line.split(":")[0] + ":" + line.split(":")[1] for line in checked.stderr.splitlines()[1:]}
    assert places == {"service/things/service.py:2", "worker/runs/cleanup.py:2"}
