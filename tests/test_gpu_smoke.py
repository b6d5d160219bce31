"""bench/gpu_smoke.sh on a machine without a GPU says it needs one, exits 0 and runs nothing."""

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "gpu_smoke.sh"


@pytest.mark.parametrize("nvidia_smi", [None, "#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n"])
def test_without_a_gpu_it_says_so_and_runs_nothing(tmp_path, nvidia_smi):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if nvidia_smi is not None:  # a driver tool that finds no device, as on a machine whose GPU is gone
        (bin_dir / "nvidia-smi").write_text(nvidia_smi)
        (bin_dir / "nvidia-smi").chmod(0o755)
    smoke_dir = tmp_path / "smoke"
    environment = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin", "SMOKE_DIR": str(smoke_dir)}
    result = subprocess.run(["bash", str(SCRIPT)], env=environment, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "needs an NVIDIA GPU" in result.stdout and "nothing was run" in result.stdout
    assert not smoke_dir.exists()  # no checkpoint was written, no set-up ran
