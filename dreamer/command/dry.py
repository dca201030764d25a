"""``dreamer fit … --dry_run``: read the settings, say whether the pretrained weights they need are on
this machine, and build the model (with random weights), the data and the Trainer — dreaming
nothing and writing nothing. What a user runs before a long job, and what the docs' tests run on
every documented command."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from jsonargparse import ArgumentError

from dreamer.command.parsing import one_line, user_error
from dreamer.command.runner import DreamerCLI
from dreamer.command.spec import RunSpec, spec_from
from dreamer.command.weights import found
from dreamer.engine.networks.backbones import BACKBONES, IMAGENET, pretrained_stood_in
from dreamer.engine.networks.clip import CLIP, open_clip_weights_here
from dreamer.engine.networks.network import TIMM, timm_weights_here

FLAG = "--dry_run"


def asked(args: Sequence[str]) -> tuple[list[str], bool]:
    """``args`` without ``--dry_run``, and whether it was there."""
    rest = [arg for arg in args if arg != FLAG]
    return rest, len(rest) != len(args)


def weights_line(spec: RunSpec) -> str:
    """Where the run's pretrained weights are, or that they are missing and how to fetch them."""
    backbone, weights = spec.model.backbone, spec.model.weights
    if weights != IMAGENET:
        missing = weights and not Path(weights).is_file()
        return f"weights: {weights or 'random (null)'}" + (" (missing)" if missing else "")
    if isinstance(backbone, str) and backbone.startswith(TIMM):
        here = timm_weights_here(backbone[len(TIMM) :])
        return f"weights: timm's for {backbone}: {'present' if here else 'missing (not in the Hugging Face cache)'}"
    if isinstance(backbone, str) and backbone.startswith(CLIP) and "/" in backbone:
        arch, _, tag = backbone[len(CLIP) :].partition("/")
        found_here = open_clip_weights_here(arch, tag)
        said = {True: "present", False: "missing (not in the Hugging Face cache)", None: "fetched when the run starts"}
        return f"weights: open_clip's {tag} for clip:{arch}: {said[found_here]}"
    if isinstance(backbone, str) and backbone in BACKBONES:
        path = found(backbone)
        return f"weights: {path} (present)" if path else f"weights: missing (dreamer weights fetch {backbone})"
    return f"weights: torchvision's ImageNet weights for {backbone}: fetched by torchvision when the run starts"


def dry_run(args: Sequence[str]) -> int:
    """The dry run of ``dreamer fit``'s ``args`` (without ``--dry_run``): 0 when everything builds,
    2 with one line for a bad setting."""
    try:
        spec = spec_from(args)
        line = weights_line(spec)
        with pretrained_stood_in():  # random weights: present or not, nothing is read
            cli = DreamerCLI(spec)
    except ArgumentError as error:
        print(f"dreamer: error: {one_line(str(error))}", file=sys.stderr)
        return 2
    except Exception as error:  # a setting's error is one line; anything else is a bug and propagates
        reason = user_error(error)
        if reason is None:
            raise
        print(f"dreamer: error: {reason}", file=sys.stderr)
        return 2
    print(line)
    print(
        f"dry run: {type(cli.model).__name__} on {spec.model.backbone}, {type(cli.datamodule).__name__}, "
        f"a Trainer on {cli.trainer.accelerator.__class__.__name__}: built; nothing dreamed, nothing written"
    )
    return 0
