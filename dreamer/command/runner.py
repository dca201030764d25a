"""The LightningCLI that runs a dream, and the one way to run it (``execute``): the command line,
``dream()``, sweeps and the page all build, run and report their errors through it."""

from __future__ import annotations

import gc
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import lightning.pytorch as pl
import torch.distributed as dist
import yaml
from jsonargparse import ArgumentError, Namespace
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
from lightning.pytorch.loggers import TensorBoardLogger
from typing_extensions import override

from dreamer import __version__
from dreamer.command.configs import config_files, with_resolved_configs
from dreamer.command.memory import keep_freed_memory, release_freed_memory
from dreamer.command.parsing import closest_option, one_line, user_error
from dreamer.command.report import report
from dreamer.command.trust import DATA_MODULES, FLAG, TRAINER_DEFAULTS, parameters, pinned_inputs
from dreamer.command.wiring import Wiring, wire
from dreamer.engine.climb.objectives import direction_sources
from dreamer.engine.contract.accounts import SavesConfig
from dreamer.engine.contract.octaves import Octaves
from dreamer.engine.module import DreamModule
from dreamer.explore.atlas import AtlasDataModule  # noqa: F401  (data modules by short name)
from dreamer.explore.classes import ClassesDataModule  # noqa: F401
from dreamer.files.bundled import INPUT_KEYS, NETWORK_KEYS, anchored, anchored_network
from dreamer.files.imageio import IMAGE_SUFFIXES
from dreamer.files.recipes import RECIPE_SUFFIXES
from dreamer.live.data import LiveDataModule  # noqa: F401
from dreamer.motion.timeline import Timeline, fading_layers
from dreamer.motion.video import VideoDataModule  # noqa: F401
from dreamer.motion.zoom import ZoomDataModule  # noqa: F401
from dreamer.photos.data import DreamDataModule  # noqa: F401  (the default data module, by class path)
from dreamer.watch.image_logger import DreamImageLogger

OUTPUT_SUFFIXES = IMAGE_SUFFIXES | set(RECIPE_SUFFIXES)  # a data.output that names one file, not a folder


class ConfigBesideDreams(SaveConfigCallback):
    """Hands the resolved config to the writers, which save it beside every dream and video they
    write; its first line says which dreamer wrote it (a later one reads it through ``files.earlier``)."""

    @override
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        config = self.parser.dump(inputs_from_anywhere(self.config), skip_none=False)
        text = f"# written by dreamer {__version__}\n{config}"
        pinned = tuple(pinned_inputs(yaml.safe_load(config)))
        for callback in trainer.callbacks:
            if isinstance(callback, SavesConfig):
                callback.config_text, callback.pinned = text, pinned
                callback.embed_recipe = bool(self.config.get("embed_recipe", True))


def option_names(parser: LightningArgumentParser) -> list[str]:
    """Every option ``dreamer fit`` takes, dotted (``model.layers``), the data modules' included."""
    names = {name[2:] for action in parser._actions for name in action.option_strings if name.startswith("--")}
    names |= {f"data.{name}" for cls in DATA_MODULES for name in parameters(cls)}
    return sorted({name.rstrip("+") for name in names if not name.endswith(".help")})


def inputs_from_anywhere(config: Namespace) -> Namespace:
    """``config`` with its relative input paths (relative to where dreamer runs) made absolute, so the
    saved config finds its inputs wherever it is run from."""
    config = config.clone()
    for keys, anchor in ((INPUT_KEYS, anchored), (NETWORK_KEYS, anchored_network)):
        for section, key in keys:
            for dotted in (f"{section}.init_args.{key}", f"{section}.{key}"):
                if dotted in config and config[dotted] is not None:
                    config[dotted] = anchor(config[dotted], Path.cwd())
    objective = config.get("model.objective")
    if isinstance(objective, str):  # a direction file: where this run found it
        for source in direction_sources(objective):
            objective = objective.replace(source, anchored(source, Path.cwd()))
        config["model.objective"] = objective
    return config


def run_folder(output: Any) -> Optional[Path]:
    """The folder a run writes into: ``data.output``, or the folder of the one file it names."""
    if not isinstance(output, (str, Path)):
        return None
    path = Path(output).expanduser()
    return path.parent if path.suffix.lower() in OUTPUT_SUFFIXES else path


class DreamerCLI(LightningCLI):
    """LightningCLI with dreamer's defaults: one pass over the images, no checkpoints, no weight summary."""

    @override
    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        """``--config`` takes a preset's name as well as a path, and a config file's relative input
        paths are relative to the file. Arguments come from ``args`` or else the command line, never
        both (so a notebook's own ``sys.argv`` is not mistaken for dreamer's)."""
        given = sys.argv[1:] if args is None else args
        self.config_files = config_files(given)
        try:
            self.config = parser.parse_args(with_resolved_configs(given))
        except ArgumentError as error:  # a misspelled option: say which ones are close
            raise ArgumentError(None, closest_option(one_line(str(error)), option_names(parser))) from None

    @override
    def instantiate_trainer(self, **kwargs: Any) -> pl.Trainer:
        """Lightning's own files (TensorBoard's logs) go into the output folder, never the working
        one, unless ``trainer.default_root_dir`` says where (the saved config keeps it as given)."""
        folder = run_folder(self.config.get("data.init_args.output"))
        if self.config.get("trainer.default_root_dir") is None and folder is not None:
            kwargs.setdefault("default_root_dir", str(folder))
        return super().instantiate_trainer(**kwargs)

    @override
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
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

    @override
    def instantiate_classes(self) -> None:
        """The model, data and Trainer, then wired (``wire``): the data is handed the model's
        outline and the inputs it must never write to besides its own."""
        super().instantiate_classes()
        model_files = [self.model.hparams.weights, self.model.hparams.guide["image"]]
        self.datamodule.protected = [*self.config_files, *(Path(f) for f in model_files if f and Path(f).exists())]
        config = self.config_init
        self.wiring: Wiring = wire(self.model, self.datamodule, self.trainer, config["octaves"], config["animation"])

    def dream(self) -> None:
        """``trainer.fit`` of the model and data; on Ctrl-C Lightning shuts the Trainer down and
        exits, and dreamer still reports what was done and what was not (``report``)."""
        keep_freed_memory()  # the network is built: from here on every step reuses the same blocks
        try:
            self.trainer.fit(self.model, datamodule=self.datamodule)
        except SystemExit:
            if not self.trainer.interrupted:
                raise
        finally:
            release_freed_memory()

    def __init__(self, args: Optional[list[str]] = None, callbacks: Sequence[pl.Callback] = ()) -> None:
        """Parse ``args`` (``dreamer fit``'s, without ``fit``) and build the model, data and Trainer;
        ``callbacks`` join the Trainer's (listeners among them hear the dream: the page's preview).
        A bad option raises jsonargparse's ``ArgumentError``; ``dream()`` runs it (see ``execute``)."""
        super().__init__(
            DreamModule,
            pl.LightningDataModule,
            subclass_mode_data=True,
            save_config_callback=ConfigBesideDreams,
            seed_everything_default=False,  # all randomness is seeded per image by data.seed
            auto_configure_optimizers=False,  # the optimizer is model.optimizer, over the image only
            trainer_defaults={
                **TRAINER_DEFAULTS,
                "callbacks": list(callbacks),  # not options: added to the Trainer, never to the saved config
            },
            parser_kwargs={
                "exit_on_error": False,
                "prog": "dreamer fit",
                "description": "dreamer: DeepDream as a PyTorch Lightning program. `dreamer presets` lists "
                "the bundled presets; `dreamer fit --config quickstart` runs one. A dream's file (or a YAML "
                "file dreamer wrote) given to --config is someone else's recipe: it may set the dream's own "
                f"options only, and a network file that came with it is imported only with {FLAG} (the "
                "file of that name beside the recipe, its SHA-256 checked).",
            },
            args=args,
            run=False,
        )


@dataclass(frozen=True)
class Ran:
    """One run: its objects (``None`` when it could not start), the one line of the error a setting
    or input caused (``None`` when there was none) and the resolved config it ran."""

    cli: Optional[DreamerCLI]
    error: Optional[str]
    config_text: str = ""


def execute(args: Sequence[str], callbacks: Sequence[pl.Callback] = ()) -> Ran:
    """Build the command line's objects from ``args`` (``dreamer fit``'s, without ``fit``), dream,
    and turn every error the user's settings or inputs caused into one line (``Ran.error``); any
    other error is a bug and propagates. ``--help`` and ``--print_config`` exit as they do anywhere."""
    cli, config_text = None, ""
    try:
        cli = DreamerCLI(args=list(args), callbacks=callbacks)
        config_text = cli.parser.dump(cli.config, skip_none=False)
        cli.dream()
    except ArgumentError as error:
        return Ran(None, from_recipe(one_line(str(error)), args))
    except Exception as error:
        reason = user_error(error)
        if reason is None:
            raise
        if cli is not None:
            forget_unused_logs(cli.trainer)
        return Ran(cli, reason, config_text)
    return Ran(cli, None, config_text)


def forget_unused_logs(trainer: pl.Trainer) -> None:
    """A run stopped by a bad setting before its first step leaves no log folder in its output
    (Lightning opens its loggers' folders as the run sets up)."""
    if trainer.global_step:
        return
    for logger in trainer.loggers:
        folder = Path(logger.log_dir) if isinstance(logger, TensorBoardLogger) else None
        if folder is not None and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
            if not any(folder.parent.iterdir()):  # lightning_logs/, made for this run alone
                folder.parent.rmdir()


def from_recipe(reason: str, args: Sequence[str]) -> str:
    """``reason`` (``model.lr: Expected a float …``) naming the dream file whose recipe set that option,
    where a ``--config`` is a dream's file and the option was not given on the command line."""
    option = reason.split(":", 1)[0].strip()
    given = any(arg == f"--{option}" or arg.startswith(f"--{option}=") for arg in args)
    recipes = [path for path in config_files(args) if path.suffix.lower() in RECIPE_SUFFIXES]
    if not recipes or given or "." not in option or " " in option:
        return reason
    return f"--config {recipes[-1]}: its recipe's {reason}"


def leave_process_group() -> None:
    """Wait for every process, then close the process group: under ``torchrun`` the first node's
    agent hosts the rendezvous store and leaves with its process, so an earlier exit would abort the
    others mid-teardown."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def run(args: Sequence[str]) -> int:
    """One ``dreamer fit`` (``args`` after ``fit``): the exit status (0 all done, 1 some input failed
    or was not dreamed, 2 a bad option or config, printed as one line)."""
    # Everything imported so far lives as long as the process: keep garbage collections from walking it.
    gc.freeze()
    ran = execute(args)
    if ran.error is not None or ran.cli is None:
        print(f"dreamer: error: {ran.error}", file=sys.stderr)
        return 2
    status = report(ran.cli)
    leave_process_group()
    return status
