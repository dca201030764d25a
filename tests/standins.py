"""Stand-ins for the files a page tells its reader to bring (``my_photo.jpg``, ``holiday.mp4``,
``nets.py`` and its weights, a dream someone shared), so every documented command can be built."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import torch
from safetensors.torch import save_file

from dreamer.cli import main
from tests.cli_args import QUIET
from tests.conftest import make_photo
from tests.videos import make_video

NETS = textwrap.dedent(
    """
    from torch import nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3)
            )

        def forward(self, x):
            return self.body(x)


    class Digits(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 28 * 28, 10)
            )

        def forward(self, x):
            return self.body(x)


    class ShapesNet(nn.Module):
        def __init__(self, width: int = 8, classes: int = 4):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(3, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
            )
            self.head = nn.Linear(width, classes)

        def forward(self, x):
            return self.head(self.body(x).amax(dim=(2, 3)))
    """
)
TINY = ["--octaves.count", "1", "--octaves.iterations", "1", "--model.backbone", "mobilenet_v2", *QUIET]


def state_of(nets: Path, name: str) -> dict[str, torch.Tensor]:
    """The freshly initialised weights of ``nets``'s class ``name``."""
    scope: dict = {}
    exec(compile(nets.read_text(), str(nets), "exec"), scope)  # our own stand-in file
    return {key: value.contiguous() for key, value in scope[name]().state_dict().items()}


def documented_world(folder: Path) -> Path:
    """Fill ``folder`` with every file the pages name and return it."""
    for name in ("my_photo.jpg", "guide.jpg", "guide.png"):
        make_photo(folder / name, size=(64, 48), seed=len(name))
    for group in ("photos", "my-photos", "holiday", "home/photos"):
        for index in range(2):
            make_photo(folder / group / f"{index}.jpg", size=(56, 40), seed=index)
    make_video(folder / "holiday.mp4", frames=4)
    make_video(folder / "clips" / "a.mp4", frames=4)
    for nets in (folder / "nets.py", folder / "shapes" / "nets.py"):
        nets.parent.mkdir(exist_ok=True)
        nets.write_text(NETS)
    save_file(state_of(folder / "nets.py", "Net"), folder / "net.safetensors")
    save_file(state_of(folder / "nets.py", "Digits"), folder / "digits.safetensors")
    save_file(state_of(folder / "nets.py", "ShapesNet"), folder / "shapes" / "shapes.safetensors")
    torch.save({"state_dict": state_of(folder / "nets.py", "ShapesNet")}, folder / "shapes.ckpt")
    (folder / "my_settings.yaml").write_text("model:\n  layers: [7]\noctaves:\n  count: 2\n")
    made = folder / "made"
    make_photo(made / "chelsea.png", size=(48, 40))
    assert main(["fit", "--config", "quickstart", "--data.images", str(made / "chelsea.png"), *TINY,
                 "--data.output", str(folder / "dreams" / "quickstart")]) == 0  # fmt: skip
    make_video(made / "clip.mp4", frames=3)
    assert main(["fit", "--config", "video", "--data.video", str(made / "clip.mp4"), *TINY,
                 "--data.resize", "48", "--data.output", str(folder)]) == 0  # fmt: skip
    shutil.rmtree(folder / "lightning_logs", ignore_errors=True)
    return folder
