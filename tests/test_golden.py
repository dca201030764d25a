"""Golden outputs: every kind of dream (a preset photo, a batch, a video's MP4, a zoom, an atlas, a
sweep) gives byte for byte the files recorded in ``tests/golden.json`` (``tests/golden.py``).

A change that is meant to leave the dreams alone (a redesign, a speed-up) must pass these; one that
is meant to change them records them again (``OMP_NUM_THREADS=1 python -m tests.golden --record``)
and says why in its commit. The configs saved beside the dreams hold on every machine (their text
depends on no CPU kernel); the pictures and videos on the machine and libraries they were recorded
with, and elsewhere that test skips.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.golden import GOLDEN, KINDS, REPO, machine

RECORDED = json.loads(GOLDEN.read_text()) if GOLDEN.is_file() else {}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, dict[str, str]]:
    work = tmp_path_factory.mktemp("golden")
    result = work / "result.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "tests.golden", str(work / "runs"), str(result)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(result.read_text())["outputs"]


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_same_files_are_written_and_their_configs_are_byte_for_byte_the_recorded_ones(outputs, kind):
    recorded = RECORDED["outputs"][kind]
    assert sorted(outputs[kind]) == sorted(recorded)
    changed = [name for name in recorded if name.endswith(".yaml") and outputs[kind][name] != recorded[name]]
    assert not changed, f"{kind}: configs differ: {changed}"


@pytest.mark.parametrize("kind", list(KINDS))
def test_outputs_are_byte_for_byte_the_recorded_ones(outputs, kind):
    if RECORDED.get("machine") != machine():
        pytest.skip(f"pictures and videos were recorded on {RECORDED.get('machine')}; this is {machine()}")
    recorded = RECORDED["outputs"][kind]
    assert sorted(outputs[kind]) == sorted(recorded)  # the same files
    changed = [name for name in recorded if outputs[kind][name] != recorded[name]]
    assert not changed, f"{kind}: {len(changed)} of {len(recorded)} files differ, e.g. {changed[:3]}"
