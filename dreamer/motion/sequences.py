"""Finished frames become PNGs, and finished sequences videos."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Optional

import lightning.pytorch as pl
import torch
from torchvision.transforms.v2.functional import to_pil_image
from typing_extensions import override

from dreamer.engine.contract.accounts import Account, SavesConfig
from dreamer.engine.contract.events import Dream, DreamListener
from dreamer.errors import DreamerError
from dreamer.files.background import Background
from dreamer.files.gather import everyone
from dreamer.files.imageio import save_image, save_text, to_bytes
from dreamer.motion.encoder import encode_frames
from dreamer.motion.frames import frame_path
from dreamer.motion.plan import MotionJob, MotionPlan


class SequenceWriter(pl.Callback, DreamListener, Account, SavesConfig):
    """Writes each finished frame as a PNG, and every finished sequence as an MP4 (and a GIF).

    Frames are written atomically as they finish (``<output>/<name>.frames/000000.png`` …), so a
    killed run resumes from the first missing one; the loop only quantises each frame, ``writes``
    (a background thread on a GPU) encodes and writes it, and every queued frame is written before the
    videos are encoded or the run stops on an error. When the run ends, every sequence whose frames
    are all there is encoded (sequences are spread over the processes), its audio copied from the
    source, the resolved config saved beside it, and its frame folder removed unless ``keep_frames``.
    A stream found damaged while decoding is encoded up to the damage. A chunk's warm-up frames are
    written to ``warmup/`` and cross-faded into the video (``frames.video_pictures``).

    Args:
        plan: The run's plan (made at setup): every sequence to encode.
        writes: The background thread that writes the frames.
        keep_frames: Keep the PNG frames after the video is written.
    """

    def __init__(self, plan: Callable[[], MotionPlan], writes: Background, keep_frames: bool = True) -> None:
        super().__init__()  # written: the videos; also_written: GIFs beside them; accounted: sequences
        self.plan, self.writes, self.keep_frames = plan, writes, keep_frames
        self.input_setting = "data.images"  # the data's setting that names each sequence's input
        self._recipes: dict[int, Optional[str]] = {}  # sequence → the recipe its frames and video carry
        self.damaged: dict[int, int] = {}  # sequence → frames readable before the damage
        self.failed_sequences: set[int] = set()  # a frame diverged or could not be written
        self._finished = False

    @override
    def on_dream_start(self, trainer: pl.Trainer, dream: Dream) -> None:
        batch = dream.batch
        self.failed.extend(batch.failed)
        if batch.damaged is not None:
            sequence, frames = batch.damaged
            self.damaged[sequence] = min(frames, self.damaged.get(sequence, frames))

    @override
    def on_dream_end(self, trainer: pl.Trainer, dream: Dream, images: torch.Tensor) -> None:
        frame, names = dream.batch.frame, dream.batch.names
        if frame is None or not names or frame.sequence in self.failed_sequences:
            return
        picture = images[0]
        if not torch.isfinite(picture).all():
            self.failed.append(f"{names[0]}: frame {frame.number + 1} diverged (NaN or inf); not written")
            self.failed_sequences.add(frame.sequence)
            return
        pixels, target, sequence = to_bytes(picture), frame.target, frame.sequence
        self.writes.submit(lambda: self._save(pixels, target, sequence))

    def recipe(self, sequence: int) -> Optional[str]:
        """The recipe of sequence ``sequence``, saved beside its video (``None``: none)."""
        if self.config_text is None:
            return None
        if sequence not in self._recipes:
            job = self.plan().jobs[sequence]
            self._recipes[sequence] = self.recipe_text([(self.input_setting, job.source)])
        return self._recipes[sequence]

    def carried(self, sequence: int) -> Optional[str]:
        """The recipe sequence ``sequence``'s frames and video carry inside (``None``: bare files)."""
        return self.recipe(sequence) if self.embed_recipe else None

    def _save(self, pixels: torch.Tensor, target: Path, sequence: int) -> None:
        """On the writer's thread: one frame's PNG."""
        try:
            save_image(
                to_pil_image(pixels), target, png_level=1, recipe=self.carried(sequence)
            )  # a working file: speed over size
        except OSError as error:  # a full disk, a read-only folder: this video fails, the others go on
            self.failed.append(f"{target}: not written ({error.strerror or error}); the video is not made")
            self.failed_sequences.add(sequence)

    @override
    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self.writes.settle()

    @override
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._finish_all(trainer, spread=True)

    @override
    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # No steps at all (every frame was already there): on_train_end never ran. The processes are
        # torn down by now, so no collectives: rank 0 encodes everything alone.
        if not self._finished and trainer.is_global_zero:
            self._finish_all(trainer, spread=False)

    def _finish_all(self, trainer: pl.Trainer, spread: bool) -> None:
        """Encode every sequence whose frames are all there; ``spread`` them over the processes."""
        self._finished = True
        self.writes.drain()
        plan = self.plan()
        world, rank = (trainer.world_size, trainer.global_rank) if spread else (1, 0)
        if world > 1:
            gathered = everyone((self.failed, self.damaged, self.failed_sequences), world)
            self.failed = [message for failed, _, _ in gathered for message in failed]
            self.damaged = {}
            for _, damaged, _ in gathered:
                for key, frames in damaged.items():
                    self.damaged[key] = min(frames, self.damaged.get(key, frames))
            self.failed_sequences = {index for _, _, indices in gathered for index in indices}
        written: list[Path] = []
        failed: list[str] = []
        accounted = set(self.failed_sequences)
        for index, job in enumerate(plan.jobs):
            if index % world != rank or index in self.failed_sequences:
                continue
            try:
                paths = self._finish(index, job, self.damaged.get(index, job.frames))
            except (DreamerError, OSError, ValueError) as error:
                failed.append(f"{job.source}: the video could not be written ({error})")
                accounted.add(index)
                continue
            if paths:
                written.extend(paths)
                accounted.add(index)
        if world > 1:
            everything = everyone((written, failed, self.also_written, accounted), world)
            written = [path for paths, _, _, _ in everything for path in paths]
            failed = [message for _, messages, _, _ in everything for message in messages]
            self.also_written = [path for _, _, paths, _ in everything for path in paths]
            accounted = {index for _, _, _, indices in everything for index in indices}
        self.written, self.failed, self.accounted = written, self.failed + failed, len(accounted)

    def _finish(self, index: int, job: MotionJob, frames: int) -> list[Path]:
        """Encode ``job``'s first ``frames`` frames, if all are written; the files written (none: the
        run stopped before its frames were dreamed)."""
        paths = [frame_path(job.frames_dir, frame) for frame in range(frames)]
        if frames == 0 or not all(path.is_file() for path in paths):
            return []  # reported already: a failed or diverged frame
        encode_frames(job.frames_dir, frames, job.target, job.fps, job.audio, job.gif, self.carried(index))
        if job.gif is not None:
            self.also_written.append(job.gif)
        recipe = self.recipe(index)
        if recipe is not None and job.sidecar is not None:
            save_text(recipe, job.sidecar)
        if not self.keep_frames:
            shutil.rmtree(job.frames_dir, ignore_errors=True)
        return [job.target]
