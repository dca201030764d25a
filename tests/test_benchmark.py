"""The benchmark runs every section (its smoke mode)."""

import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.slow  # about 16 whole processes: 2.5 min of the default suite's 10 on two cores
def test_benchmark_smoke_mode_prints_a_table(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "scripts.benchmark", "--smoke", "--output", str(tmp_path / "B.md")],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    table = (tmp_path / "B.md").read_text()
    for heading in ("Framework overhead", "Batching", "Big images", "Fast paths"):
        assert heading in table
    assert "dreamer / hand-written" in table
