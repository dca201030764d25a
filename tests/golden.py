"""Golden outputs: one short run of every kind of dream, fingerprinted file by file.

    OMP_NUM_THREADS=1 python -m tests.golden --record     # after a change meant to alter dreams
    OMP_NUM_THREADS=1 python -m tests.golden --add        # the same code's bytes on another CPU kind
    OMP_NUM_THREADS=1 python -m tests.golden WORK OUT.json  # what ``test_golden.py`` runs

Every kind runs in this one process through ``dreamer.cli.main``, as the command line would, with
one thread (CPU kernels round differently with the thread count). A fingerprint is the SHA-256 of
every file the run wrote; in a config beside a dream, the run's folders are replaced by placeholders
first, so it does not depend on where the run happened. Pictures and videos are only comparable on
the same CPU kind and libraries (``machine()``), so their fingerprints are recorded per machine
(``bytes``); CI installs the recorded libraries (``.ci/constraints.txt``), so only another CPU kind
skips. ``--record`` starts the list again (a change meant to alter dreams); ``--add`` records this
machine's bytes beside the others after checking that the configs are the recorded ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

from tests.cli_args import QUIET, flags

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden.json"
SHORT = flags(octaves_count=2, octaves_iterations=3)
BARE = ["--embed_recipe", "false"]  # the files' bytes without the recipe inside (it names the run's folders)


def quickstart(work: Path) -> list[str]:
    return ["fit", "--config", "quickstart", "--data.output", str(work / "out"), *QUIET, *BARE]


def batch(work: Path) -> list[str]:
    from tests.conftest import make_photo

    for seed in range(2):
        make_photo(work / "photos" / f"p{seed}.png", size=(64, 48), seed=seed)
    photos = ["--data.images", str(work / "photos"), "--data.batch_size", "2"]
    return ["fit", "--config", "quickstart", *photos, "--data.output", str(work / "out"), *SHORT, *QUIET, *BARE]


def video(work: Path) -> list[str]:
    from tests.videos import make_video

    clip = make_video(work / "clip.mp4", frames=12, size=(48, 64))
    settings = ["--data.resize", "null", "--data.frame_iterations", "1", "--model.layers", "7"]
    output = ["--data.output", str(work / "out")]
    return ["fit", "--config", "video", "--data.video", str(clip), *output, *settings, *SHORT, *QUIET, *BARE]


def zoom(work: Path) -> list[str]:
    settings = ["--data.frames", "6", "--data.resize", "96", "--data.gif", "false", "--data.frame_iterations", "1"]
    return ["fit", "--config", "zoom", "--data.output", str(work / "out"), *settings, *SHORT, *QUIET, *BARE]


def atlas(work: Path) -> list[str]:
    settings = ["--data.channels", "0-7", "--data.size", "64", "--data.batch_size", "4"]
    return ["fit", "--config", "atlas", "--data.output", str(work / "out"), *settings, *SHORT, *QUIET, *BARE]


def sweep(work: Path) -> list[str]:
    from tests.conftest import make_photo

    photo = make_photo(work / "photo.png", size=(64, 48))
    config = work / "sweep.yaml"
    config.write_text(
        (REPO / "configs" / "sweep_seed.yaml")
        .read_text()
        .replace("octaves.scale: [1.4, 1.6, 1.8]", "octaves.scale: [1.4, 1.8]")
        .replace("octaves.alpha: [0.2, 0.5, 0.8]", "octaves.alpha: [0.2, 0.8]")
    )
    output = ["--data.output", str(work / "out")]
    return ["sweep", "--config", str(config), "--data.images", str(photo), *output, *SHORT, *BARE]


KINDS: dict[str, Callable[[Path], list[str]]] = {
    "quickstart": quickstart,
    "batch": batch,
    "video": video,
    "zoom": zoom,
    "atlas": atlas,
    "sweep": sweep,
}


def fingerprint(folder: Path, work: Path) -> dict[str, str]:
    """Every file under ``folder`` → SHA-256 (configs with the run's folders replaced by placeholders),
    but TensorBoard's logs (their names and events carry the time)."""
    found = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "lightning_logs" not in p.parts):
        data = path.read_bytes()
        if path.suffix == ".yaml":
            text = data.decode().replace(str(work), "<work>").replace(str(REPO), "<repo>")
            data = text.replace(str(REPO.resolve()), "<repo>").encode()
        found[path.relative_to(folder).as_posix()] = hashlib.sha256(data).hexdigest()
    return found


SIMD = {"sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16"}


def machine() -> dict[str, str]:
    """What the fingerprints depend on besides dreamer: the CPU and the numeric and codec libraries."""
    import av
    import cv2
    import numpy
    import PIL
    import torch
    import torchvision

    cpu, flags = platform.processor(), set()
    if Path("/proc/cpuinfo").is_file():
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), cpu)
        flags = set(next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), []))
    return {
        "cpu": cpu,
        "simd": " ".join(sorted(flags & SIMD)),  # which kernels oneDNN and x264 may pick
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": numpy.__version__,
        "pillow": PIL.__version__,
        "av": av.__version__,
        "opencv": cv2.__version__,
        "python": platform.python_version(),
    }


THUMBNAIL = 16  # px: the side of the thumbnail a picture is compared by across machines


def thumbnail(path: Path) -> list[int]:
    """``path``'s picture shrunk to ``THUMBNAIL``² by box averaging, as 8-bit RGB values."""
    from PIL import Image

    with Image.open(path) as picture:
        small = picture.convert("RGB").resize((THUMBNAIL, THUMBNAIL), Image.Resampling.BOX)
    return list(small.tobytes())


def gain(dream: Path) -> float:
    """How much the quickstart dream excites its layer (MobileNetV2 ``features.11``) over the photo."""
    import torch

    from dreamer.engine.contract.batch import DreamBatch
    from dreamer.engine.module import DreamModule
    from dreamer.files.bundled import SAMPLE_PHOTO
    from dreamer.files.imageio import open_photo, to_tensor

    objective = DreamModule(backbone="mobilenet_v2", weights="imagenet", layers=11).objective
    with torch.no_grad():
        values = [
            objective(to_tensor(open_photo(p)[0])[None], DreamBatch(None), -1).item() for p in (dream, SAMPLE_PHOTO)
        ]
    return values[0] / values[1]


def measures(work: Path) -> dict[str, object]:
    """What the tolerance check compares on any machine: the quickstart dream's thumbnail and gain."""
    dream = work / "quickstart" / "out" / "chelsea.png"
    return {"thumbnail": thumbnail(dream), "gain": round(gain(dream), 5), "machine": machine()}


def run_all(work: Path) -> dict[str, dict[str, str]]:
    """Run every kind in ``work/<kind>`` and fingerprint its outputs."""
    from dreamer.cli import main

    results = {}
    for kind, arguments in KINDS.items():
        folder = work / kind
        folder.mkdir(parents=True)
        previous = os.getcwd()
        os.chdir(folder)  # relative outputs and logs stay in the run's folder
        try:
            status = main(arguments(folder))
        finally:
            os.chdir(previous)
        if status != 0:
            raise SystemExit(f"golden: {kind} exited with status {status}")
        results[kind] = fingerprint(folder / "out", folder)
    return results


def configs(outputs: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The fingerprints of the saved configs alone (the same on every machine)."""
    return {
        kind: {name: sha for name, sha in files.items() if name.endswith(".yaml")} for kind, files in outputs.items()
    }


def recorded_bytes(recorded: dict[str, Any], here: dict[str, str]) -> Optional[dict[str, dict[str, str]]]:
    """The fingerprints recorded on a machine like ``here`` (``None``: none was)."""
    return next((entry["outputs"] for entry in recorded.get("bytes", []) if entry["machine"] == here), None)


def record(add: bool) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        outputs = run_all(Path(folder))
        here = machine()
        entry = {"machine": here, "outputs": outputs}
        if add:
            recorded = json.loads(GOLDEN.read_text())
            if configs(outputs) != recorded["configs"]:
                raise SystemExit("golden: the saved configs differ from the recorded ones: record anew (--record)")
            recorded["bytes"] = [e for e in recorded["bytes"] if e["machine"] != here] + [entry]
        else:
            recorded = {"configs": configs(outputs), "bytes": [entry], "measures": measures(Path(folder))}
    GOLDEN.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
    kinds = len(recorded["bytes"])
    print(f"recorded {sum(map(len, outputs.values()))} files of {len(outputs)} kinds; {kinds} machine(s) in {GOLDEN}")


if __name__ == "__main__":
    if os.environ.get("OMP_NUM_THREADS") != "1":
        raise SystemExit("golden: run with OMP_NUM_THREADS=1")
    if sys.argv[1:] in (["--record"], ["--add"]):
        record(add=sys.argv[1] == "--add")
    else:
        work, target = Path(sys.argv[1]), Path(sys.argv[2])
        outputs = run_all(work)
        result = {"machine": machine(), "outputs": outputs, "measures": measures(work)}
        target.write_text(json.dumps(result, indent=1, sort_keys=True))
