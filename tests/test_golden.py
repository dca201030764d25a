"""Golden outputs: every kind of dream (a preset photo, a batch, a video's MP4, a zoom, an atlas, a
sweep) gives byte for byte the files recorded in ``tests/golden.json`` (``tests/golden.py``).

A change that is meant to leave the dreams alone (a redesign, a speed-up) must pass these; one that
is meant to change them records them again (``OMP_NUM_THREADS=1 python -m tests.golden --record``)
and says why in its commit. The configs saved beside the dreams hold on every machine (their text
depends on no CPU kernel); the pictures and videos byte for byte on the machine and libraries they
were recorded with (a record per CPU kind; the set-up command installs the recorded libraries).
On any machine the quickstart dream is held to a tolerance measured across CPU
kernels: its 16×16 thumbnail within ``PSNR_AT_LEAST`` dB of the recorded one and its activation gain
within ``GAIN_WITHIN``. Measured on the quickstart preset (``README.md``, Golden outputs): two
threads, ATen's plain kernels, oneDNN limited to SSE4.1 or AVX gave 40.5–41.7 dB and gains within
0.55 % (both plain kernels and oneDNN at SSE4.1 at once, a CPU of twenty years ago: 37.7 dB, +1.4 %);
a step size 2 %, 4 % or 8 % larger gave 35.7, 35.1 and 35.6 dB, ``octaves.alpha`` 0.9 for 1.0 a gain
2.8 % lower, 9 steps per octave for 10 9.9 % lower, a roll of 12 for 16 32.5 dB and +9.7 %.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from tests.golden import GOLDEN, KINDS, REPO, machine, recorded_bytes

RECORDED = json.loads(GOLDEN.read_text()) if GOLDEN.is_file() else {}
PSNR_AT_LEAST = 36.5  # dB, on 16×16 thumbnails
GAIN_WITHIN = 0.02  # relative


@pytest.fixture(scope="module")
def golden_run(tmp_path_factory) -> dict[str, Any]:
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
    return json.loads(result.read_text())


@pytest.fixture(scope="module")
def outputs(golden_run) -> dict[str, dict[str, str]]:
    return golden_run["outputs"]


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_same_files_are_written_and_their_configs_are_byte_for_byte_the_recorded_ones(outputs, kind):
    recorded = RECORDED["configs"][kind]
    assert sorted(name for name in outputs[kind] if name.endswith(".yaml")) == sorted(recorded)
    changed = [name for name in recorded if outputs[kind][name] != recorded[name]]
    assert not changed, f"{kind}: configs differ: {changed}"


@pytest.mark.parametrize("kind", list(KINDS))
def test_outputs_are_byte_for_byte_the_recorded_ones(outputs, kind):
    here = machine()
    everything = recorded_bytes(RECORDED, here)
    if everything is None:
        kinds = [entry["machine"] for entry in RECORDED.get("bytes", [])]
        pytest.skip(f"pictures and videos were recorded on {kinds}; this is {here} (add it: tests/golden.py --add)")
    recorded = everything[kind]
    assert sorted(outputs[kind]) == sorted(recorded)  # the same files
    changed = [name for name in recorded if outputs[kind][name] != recorded[name]]
    assert not changed, f"{kind}: {len(changed)} of {len(recorded)} files differ, e.g. {changed[:3]}"


def test_the_quickstart_dream_is_within_the_measured_tolerance_of_the_recorded_one_on_any_machine(golden_run):
    recorded, measured = RECORDED["measures"], golden_run["measures"]
    difference = np.subtract(measured["thumbnail"], recorded["thumbnail"], dtype=np.float64)
    mse = float(np.mean(difference**2))
    psnr = math.inf if mse == 0 else 10 * math.log10(255**2 / mse)
    print(f"thumbnail {psnr:.1f} dB; gain {measured['gain']:.3f} against {recorded['gain']:.3f}")
    assert psnr >= PSNR_AT_LEAST, f"the thumbnail is {psnr:.1f} dB from the one recorded on {recorded['machine']}"
    assert measured["gain"] == pytest.approx(recorded["gain"], rel=GAIN_WITHIN)
