"""A Python client generated from the served OpenAPI document with `openapi-python-client`, which runs in a
virtual environment of its own (made once, kept in the user's cache folder) so that its pins never meet ours."""

import json
import subprocess
import venv
from pathlib import Path

import pytest
from platformdirs import user_cache_dir

GENERATOR = "openapi-python-client==0.29.1"
RUNTIME = ("python-dateutil>=2.8",)  # what generated clients import besides httpx and attrs (the generator's)
PACKAGE = "unlearn_audit_client"


def generator_venv() -> Path:
    """The virtual environment with the generator (made on first use; skipped when PyPI cannot be reached)."""
    folder = Path(user_cache_dir("unlearn-audit")) / "test-venvs" / GENERATOR.replace("==", "-")
    python = folder / "bin" / "python"
    if not (folder / "bin" / "openapi-python-client").exists():
        venv.create(folder, with_pip=True, clear=True)
        install = [str(python), "-m", "pip", "install", "-q", GENERATOR, *RUNTIME]
        if subprocess.run(install, capture_output=True, timeout=600).returncode != 0:
            pytest.skip(f"could not install {GENERATOR} (no access to PyPI?)")
    return folder


def generate_client(environment: Path, document: dict, folder: Path) -> Path:
    """The client package generated from `document`, as `folder/unlearn_audit_client`."""
    (folder / "openapi.json").write_text(json.dumps(document))
    (folder / "config.json").write_text(json.dumps({"post_hooks": []}))
    command = [str(environment / "bin" / "openapi-python-client"), "generate", "--path", "openapi.json",
               "--config", "config.json", "--output-path", PACKAGE, "--meta", "none", "--fail-on-warning"]  # fmt: skip
    subprocess.run(command, cwd=folder, check=True, capture_output=True, timeout=300)
    return folder / PACKAGE


def run_with_client(environment: Path, folder: Path, script: str, *args: str) -> dict:
    """Run `script` with the generated client importable, in the generator's environment; its JSON output."""
    (folder / "script.py").write_text(script)
    command = [str(environment / "bin" / "python"), "script.py", *args]
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
