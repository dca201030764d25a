"""dreamer as a user installs it: a wheel in a fresh virtual environment, run from another folder."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import REPO


def run(command: list, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    done = subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done


def test_wheel_in_a_fresh_environment_runs_presets_by_name_from_any_folder(tmp_path):
    # The wheel, built from the repository (no network: the build uses this environment's setuptools).
    run(
        [sys.executable, "-m", "pip", "wheel", REPO, "--no-deps", "--no-build-isolation", "-w", tmp_path / "dist"],
        cwd=tmp_path,
    )
    (wheel,) = (tmp_path / "dist").glob("dreamer_deepdream-*.whl")
    contents = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "dreamer/presets/quickstart.yaml",
        "dreamer/assets/chelsea.jpg",
        "dreamer/assets/chelsea_pan.mp4",
    } <= contents

    # A fresh environment with the wheel; torch, Lightning and the rest are borrowed from this one
    # (a path entry, not a site directory: its editable install of dreamer stays inactive).
    fresh = tmp_path / "fresh"
    venv.create(fresh, with_pip=True)
    python = fresh / "bin" / "python"
    run([python, "-m", "pip", "install", "--no-deps", "--no-index", wheel], cwd=tmp_path)
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp_path).stdout.strip()
    Path(site, "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run([python, "-c", "import dreamer; print(dreamer.__file__)"], cwd=elsewhere).stdout.strip()
    assert where.startswith(str(fresh)), where
    dreamer = fresh / "bin" / "dreamer"
    assert run([dreamer, "--version"], cwd=elsewhere).stdout.startswith("dreamer ")
    listing = run([dreamer, "presets"], cwd=elsewhere).stdout
    assert "quickstart" in listing
    assert "googlenet_classic" in listing

    done = run(
        [
            dreamer,
            "fit",
            "--config",
            "quickstart",
            "--octaves.count",
            "2",
            "--octaves.iterations",
            "3",
            "--trainer.logger",
            "false",
            "--trainer.enable_progress_bar",
            "false",
        ],
        cwd=elsewhere,
    )
    assert "1 dreamed, 0 skipped, 0 failed" in done.stdout
    dream = elsewhere / "dreams" / "quickstart" / "chelsea.png"
    photo = np.asarray(Image.open(REPO / "assets" / "chelsea.jpg").convert("RGB"), dtype=np.float32)
    result = np.asarray(Image.open(dream).convert("RGB"), dtype=np.float32)
    assert result.shape == photo.shape
    assert np.abs(result - photo).mean() > 2.0

    # A user's own config beside their photos: its relative paths are relative to the config file.
    project = tmp_path / "project"
    (project / "photos").mkdir(parents=True)
    Image.open(REPO / "assets" / "chelsea.jpg").resize((120, 80)).save(project / "photos" / "cat.png")
    (project / "mine.yaml").write_text(
        "model:\n  backbone: mobilenet_v2\n  layers: 7\n  octaves: 1\n  iterations: 2\ndata:\n  images: photos/\n"
    )
    done = run(
        [
            dreamer,
            "fit",
            "--config",
            project / "mine.yaml",
            "--data.output",
            "out",
            "--trainer.logger",
            "false",
            "--trainer.enable_progress_bar",
            "false",
        ],
        cwd=elsewhere,
    )
    assert "1 dreamed" in done.stdout
    assert (elsewhere / "out" / "cat.png").is_file()
