"""Putting a run together: the data is handed the dream's outline, and the Trainer the dream's
callbacks that the data declares. The command line, ``dream()`` and scripts all wire through here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ProgressBar

from dreamer.engine.contract.accounts import Account
from dreamer.engine.contract.events import DreamListener
from dreamer.engine.contract.octaves import DEFAULT_OCTAVES, Octaves, OctaveWalk
from dreamer.engine.contract.source import DreamSource
from dreamer.engine.module import DreamModule
from dreamer.errors import ConfigError
from dreamer.motion.timeline import Timeline
from dreamer.watch.metrics import DreamMetrics
from dreamer.watch.progress import DreamProgressBar
from dreamer.watch.scalars import DreamScalars


@dataclass
class Wiring:
    """What ``wire`` made: the data's own callbacks (writers: they account for every input), the
    metrics, the data's other listeners, and every callback the Trainer is to be built with."""

    declared: list[Account]
    metrics: Optional[DreamMetrics]
    listeners: list[DreamListener]  # the data's other listeners (a ``Findings`` ends the run's report)
    callbacks: list[pl.Callback]


def wire(
    model: DreamModule,
    data: DreamSource,
    octaves: Octaves = DEFAULT_OCTAVES,
    timeline: Optional[Timeline] = None,
    given: Sequence[pl.Callback] = (),
    logged: bool = False,
    progress_bar: bool = True,
) -> Wiring:
    """Hand ``data`` the outline of ``octaves`` and the model, and put together the callbacks the
    Trainer is to be built with (``Wiring.callbacks``, before it exists): those ``given`` (the image
    logger, the page's listener), dreamer's progress bar where one shows and none is given, the
    owner of the dream in progress (``OctaveWalk``, walking ``octaves``) and its listeners — the
    data's writers (and, for sequences, the frame carry), metrics and the step's scalars where
    something is ``logged``, and the listeners among ``given``. A ``timeline`` (keyframes, audio)
    goes to the data."""
    data.outline = model.outline(octaves)
    if data.outline.own_class_at is not None and not data.gives_classes:
        raise ConfigError(
            "model.objective: a bare 'class' climbs each picture's own class, which only the classes preset hands "
            "out (--config classes); elsewhere name one: 'class 207'"
        )
    if data.gives_classes and data.outline.own_class_at is None:
        raise ConfigError("model.objective: the classes preset climbs each picture's own class: write a bare 'class'")
    if timeline:
        data.animate(timeline)
    declared = data.dream_callbacks()
    carry = data.frame_carry()
    metrics = DreamMetrics(model.objective.measure) if logged else None
    scalars = DreamScalars() if logged else None
    bar = [DreamProgressBar()] if progress_bar and not any(isinstance(c, ProgressBar) for c in given) else []
    extra = data.dream_listeners()
    listeners = [c for c in declared if isinstance(c, DreamListener)] + extra
    listeners += [c for c in [carry, metrics, scalars] if isinstance(c, DreamListener)]
    listeners += [c for c in given if isinstance(c, DreamListener)]
    owner = OctaveWalk(octaves, listeners, carry)
    hooked = [c for c in extra if isinstance(c, pl.Callback)]
    callbacks = [*given, *bar, owner, *declared, *hooked, *([metrics] if metrics else [])]
    return Wiring(declared, metrics, extra, callbacks)
