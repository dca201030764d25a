"""The step's scalars in the logger, read from the device only at the logging cadence."""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from torch import Tensor
from typing_extensions import override

from dreamer.engine.contract.events import Dream, DreamListener


def logging_step(trainer: pl.Trainer) -> bool:
    """Whether the step just taken falls on the Trainer's ``log_every_n_steps`` cadence."""
    return trainer.global_step % max(trainer.log_every_n_steps, 1) == 0


class DreamScalars(DreamListener):
    """Logs ``objective`` (the batch's mean), ``objective/octave<k>``, ``objective/<layer>`` when
    several layers are summed, ``grad_norm`` (the mean over images of the gradient's norm, after
    the gradient filters) and ``lr``, every ``log_every_n_steps`` steps.

    All values of a logging step are stacked on the device and read back in one transfer; between
    logging steps nothing is read, so on a GPU the steps queue without waiting for each other
    (Lightning's ``self.log`` reads every logged value back at every step). Rank zero only: the
    images of other processes are dreamed all the same.
    """

    @override
    def on_step_end(self, trainer: pl.Trainer, dream: Dream, images: Tensor) -> None:
        if trainer.logger is None or not trainer.is_global_zero or not logging_step(trainer):
            return
        assert dream.objective is not None  # a step that changed the images has its objective
        names, values = ["objective", f"objective/octave{dream.octave}"], [dream.objective.mean()] * 2
        for layer, value in (dream.layer_objectives or {}).items():
            names.append(f"objective/{layer}")
            values.append(value.mean())
        if dream.gradient is not None:
            names.append("grad_norm")
            values.append(dream.gradient.detach().flatten(1).norm(dim=1).mean())
        scalars = dict(zip(names, torch.stack(values).float().tolist()))
        scalars["lr"] = float(trainer.optimizers[0].param_groups[0]["lr"]) if trainer.optimizers else 0.0
        trainer.logger.log_metrics(scalars, step=trainer.global_step)
