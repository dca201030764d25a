"""Writes each finished dream, and accounts for every image of the run."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, Optional

import lightning.pytorch as pl
import torch
from PIL import Image
from torch import Tensor
from torchvision.transforms.v2.functional import to_pil_image
from typing_extensions import override

from dreamer.engine.contract.accounts import Account, SavesConfig
from dreamer.engine.contract.events import Dream, DreamListener
from dreamer.files.background import Background, overlaps
from dreamer.files.gather import everyone
from dreamer.files.imageio import save_image, save_text, to_bytes


class DreamWriter(pl.Callback, DreamListener, Account, SavesConfig):
    """At the end of each dream, saves every image of the batch to its ``targets`` path.

    The loop only quantises the dream to 8 bits; on a GPU, encoding and writing happen on a
    background thread (``Background``: a few dreams wait at most), so the next dream starts at once
    (on a CPU they run in place: ``overlaps``). Files are
    written under a temporary name and renamed, so a killed run leaves no partial file. An alpha
    channel read with the photo is re-attached. A dream holding NaN or inf is never written; it is
    reported in ``failed``, as are files that failed to decode. The resolved config
    (``config_text``, set by the CLI) is saved beside each dream where the plan says (``sidecars``).
    A file that cannot be written (full disk, read-only folder) is a failure of that image alone.
    When the run ends, or stops on an error, every queued write finishes; then the lists of all
    processes are gathered, so rank 0 can report the whole run.
    """

    def __init__(self, grey: bool = False) -> None:
        super().__init__()
        self.background = Background("dreamer-writer")
        self.grey = grey  # a grey network's dreams are written grey (``DreamOutline.grey``)

    @override
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self.background.threaded = overlaps(trainer.strategy.root_device)

    @override
    def on_dream_start(self, trainer: pl.Trainer, dream: Dream) -> None:
        self.failed.extend(dream.batch.failed)
        self.accounted += len(dream.batch.failed)

    @override
    def on_dream_end(self, trainer: pl.Trainer, dream: Dream, images: Tensor) -> None:
        batch = dream.batch
        if not batch.targets:
            return
        finite = torch.isfinite(images).flatten(1).all(dim=1).tolist()
        pictures = to_bytes(images)
        alphas = batch.alphas or [None] * len(finite)
        sidecars = batch.sidecars or [None] * len(finite)
        sources: list[Optional[Path]] = list(batch.sources) or [None] * len(finite)
        remakes: list[dict[str, Any]] = list(batch.remakes) or [{}] * len(finite)
        self.accounted += len(finite)
        for picture, alpha, target, sidecar, source, remake, ok, name in zip(
            pictures, alphas, batch.targets, sidecars, sources, remakes, finite, batch.names
        ):
            if not ok:
                self.failed.append(f"{name}: the dream diverged (NaN or inf); nothing written")
                continue
            recipe = partial(self.recipe, source, len(finite), remake)
            self.background.submit(partial(self._save, picture, alpha, target, sidecar, recipe))

    def recipe(self, source: Optional[Path], together: int, remake: dict[str, Any]) -> Optional[str]:
        """The recipe of the dream of ``source`` (dreamed in a batch of ``together``; ``remake``: the
        data settings that make only it), saved beside it and, unless bare, inside it."""
        note = (
            f"dreamed in a batch of {together}: alone (as this recipe dreams it) a CPU may pick other kernels, "
            "so the last bits can differ"
            if together > 1
            else None
        )
        return self.recipe_text([("data.images", source)] if source else [], note, remake)

    def _save(
        self,
        picture: Tensor,
        alpha: Optional[Tensor],
        target: Path,
        sidecar: Optional[Path],
        recipe: Callable[[], Optional[str]] = lambda: None,
    ) -> None:
        """On the writer's thread: encode and write one dream (8-bit ``[3, H, W]``), with its recipe
        inside, and its sidecar."""
        try:
            image = to_pil_image(picture)
            image = image.convert("L") if self.grey else image
            if alpha is not None:
                image.putalpha(to_pil_image(alpha.unsqueeze(0)))
                if target.suffix.lower() in (".jpg", ".jpeg"):  # JPEG has no alpha: flatten on white
                    flat = Image.new("RGB", image.size, "white")
                    flat.paste(image, mask=image.getchannel("A"))
                    image = flat
            text = recipe()
            save_image(image, target, recipe=text if self.embed_recipe else None)
            self.written.append(target)
            if text is not None and sidecar is not None:
                save_text(text, sidecar)
        except OSError as error:  # a full disk, a read-only folder: this dream fails, the others go on
            self.failed.append(f"{target}: not written ({error.strerror or error})")

    @override
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.background.drain()
        gathered = everyone((self.written, self.failed, self.accounted), trainer.world_size)
        self.written = [path for written, _, _ in gathered for path in written]
        self.failed = [message for _, failed, _ in gathered for message in failed]
        self.accounted = sum(accounted for _, _, accounted in gathered)

    @override
    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self.background.settle()
