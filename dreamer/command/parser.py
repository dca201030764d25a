"""``dreamer fit``'s parser: every option, its type and its default, in one place. ``DreamerCLI``
(``runner``) is built with these settings and arguments; ``parser_of_dreams`` makes the same parser
without parsing anything or building a model (``spec.dream_parser`` keeps one)."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from typing_extensions import override

from dreamer.command.trust import FLAG, TRAINER_DEFAULTS
from dreamer.engine.contract.octaves import Octaves
from dreamer.engine.module import DreamModule
from dreamer.explore.atlas import AtlasDataModule  # noqa: F401  (data modules by short name)
from dreamer.explore.classes import ClassesDataModule  # noqa: F401
from dreamer.live.data import LiveDataModule  # noqa: F401
from dreamer.motion.timeline import Timeline, fading_layers
from dreamer.motion.video import VideoDataModule  # noqa: F401
from dreamer.motion.zoom import ZoomDataModule  # noqa: F401
from dreamer.photos.data import DreamDataModule  # noqa: F401  (the default data module, by class path)
from dreamer.watch.image_logger import DreamImageLogger


def dream_cli_settings() -> dict[str, Any]:
    """``LightningCLI``'s settings for a dream: one pass over the images, no checkpoints, no weight
    summary, a data module by class path, the optimizer the model's own."""
    return dict(
        model_class=DreamModule,
        datamodule_class=pl.LightningDataModule,
        subclass_mode_data=True,
        seed_everything_default=False,  # all randomness is seeded per image by data.seed
        auto_configure_optimizers=False,  # the optimizer is model.optimizer, over the image only
        trainer_defaults=TRAINER_DEFAULTS,  # a run's own callbacks join when its Trainer is built
        parser_kwargs={
            "exit_on_error": False,
            "prog": "dreamer fit",
            "usage": "dreamer fit --config <preset or file> [--<section>.<option> <value> …]\n\n"
            "The Trainer's options (--trainer.*) are listed first; dreamer's own follow them: --model.*, "
            "--data.* (--data.help <DataModule> lists a data module's), --octaves.*, --image_logger.*, "
            "--animation.*, --embed_recipe.",
            "description": "dreamer: DeepDream as a PyTorch Lightning program. `dreamer presets` lists "
            "the bundled presets; `dreamer fit --config quickstart` runs one. The documentation lists every "
            "option (docs/: Every option). A dream's file (or a YAML "
            "file dreamer wrote) given to --config is someone else's recipe: it may set the dream's own "
            f"options only, and a network file that came with it is imported only with {FLAG} (the "
            "file of that name beside the recipe, its SHA-256 checked).",
        },
    )


def add_dream_arguments(parser: LightningArgumentParser) -> None:
    """The sections a dream has beside the model, data and Trainer."""
    # How every dream walks its pyramid: the owner's settings (``OctaveWalk``), not the model's.
    parser.add_class_arguments(Octaves, "octaves", instantiate=True)
    parser.add_lightning_class_args(DreamImageLogger, "image_logger")
    parser.add_argument(
        "--embed_recipe", type=bool, default=True, help="Carry the recipe inside every file written (false: bare)."
    )
    # Keyframes and audio drives of zooms and videos; keyframed layers must be built into the model.
    parser.add_class_arguments(Timeline, "animation", instantiate=True)
    parser.link_arguments("animation.keyframes", "model.animated_layers", compute_fn=fading_layers)
    # Photos unless the config names another data module (ZoomDataModule, VideoDataModule).
    parser.set_defaults({"data": {"class_path": "dreamer.photos.data.DreamDataModule"}})
    parser.groups["data"].title = (  # not Lightning's DataModule docstring: which data, and its options
        "The data: a data module by name (DreamDataModule: photos, the default; VideoDataModule, ZoomDataModule, "
        "AtlasDataModule, ClassesDataModule, LiveDataModule); --data.help <name> lists its options"
    )


class _Built(Exception):
    """How ``parser_of_dreams`` leaves its ``LightningCLI`` once the parser is made."""

    def __init__(self, parser: LightningArgumentParser) -> None:
        self.parser = parser


class _ParserOnly(LightningCLI):
    @override
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        add_dream_arguments(parser)

    @override
    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        raise _Built(parser)


def parser_of_dreams() -> LightningArgumentParser:
    """``dreamer fit``'s parser, built without parsing anything or building a model."""
    try:
        _ParserOnly(**dream_cli_settings(), args=[], run=False)
    except _Built as built:
        return built.parser
    raise AssertionError("LightningCLI made no parser")
