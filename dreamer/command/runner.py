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
from dreamer.command.memory import keep_freed_memory, release_freed_memory
from dreamer.command.parser import add_dream_arguments, dream_cli_settings
from dreamer.command.parsing import one_line, user_error
from dreamer.command.report import report
from dreamer.command.spec import RunSpec, from_recipe, spec_from
from dreamer.command.trust import pinned_inputs
from dreamer.command.wiring import wire
from dreamer.engine.climb.objectives import direction_sources
from dreamer.engine.contract.accounts import SavesConfig
from dreamer.errors import ConfigError
from dreamer.files.bundled import INPUT_KEYS, NETWORK_KEYS, anchored, anchored_network
from dreamer.files.imageio import IMAGE_SUFFIXES
from dreamer.files.recipes import RECIPE_SUFFIXES
from dreamer.files.sections import nested_key
from dreamer.live.data import LiveDataModule
from dreamer.photos.data import DreamDataModule

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


def inputs_from_anywhere(config: Namespace) -> Namespace:
    """``config`` with its relative input paths (relative to where dreamer runs) made absolute, so the
    saved config finds its inputs wherever it is run from."""
    config = config.clone()
    for keys, anchor in ((INPUT_KEYS, anchored), (NETWORK_KEYS, anchored_network)):
        for section, key in keys:
            dotted = nested_key(f"{section}.{key}")
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
        """The spec's settings, checked again as the parser checks them (an entry point may have
        changed them by attribute)."""
        self.spec: RunSpec = args
        self.config_files = list(self.spec.protected)
        self.config = parser.parse_object(self.spec.config)

    @override
    def instantiate_trainer(self, **kwargs: Any) -> pl.Trainer:
        """The Trainer, built with every callback of the dream (``wire``: known before it exists) and
        Lightning's own files (TensorBoard's logs) in the output folder, never the working one,
        unless ``trainer.default_root_dir`` says where (the saved config keeps it as given)."""
        config = {**self._get(self.config_init, "trainer", default={}), **kwargs}
        own = config.get("callbacks") or []
        given = [*(own if isinstance(own, list) else [own]), *self.spec.runtime.callbacks]
        given += [self._get(self.config_init, key) for key in self.parser.callback_keys]  # the image logger
        logged = config.get("logger") not in (False, [])
        showing = config.get("enable_progress_bar") is not False
        octaves, timeline = self.config_init["octaves"], self.config_init["animation"]
        self.wiring = wire(self.model, self.datamodule, octaves, timeline, given, logged, showing)
        config["callbacks"] = self.wiring.callbacks
        folder = run_folder(self.spec.data.get("output"))
        if config.get("default_root_dir") is None and folder is not None:
            config["default_root_dir"] = str(folder)
        return self._instantiate_trainer(config, [])

    @override
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        add_dream_arguments(parser)

    @override
    def instantiate_classes(self) -> None:
        """The model and data; the data handed Live's camera (the spec's runtime) and the inputs it
        must never write to besides its own; then the Trainer (``instantiate_trainer``: wired)."""
        self.config_init = self.parser.instantiate_classes(self.config)
        self.datamodule = self._get(self.config_init, "data")
        self.model = self._get(self.config_init, "model")
        camera, pictures = self.spec.runtime.camera, self.spec.runtime.pictures
        if camera is not None:  # Live's: handed to the data that dreams it
            if not isinstance(self.datamodule, LiveDataModule):
                raise ConfigError("a camera was handed to a run whose data is not LiveDataModule (--config live)")
            self.datamodule.watch(camera)
        if pictures is not None:  # dream()'s, in memory
            if not isinstance(self.datamodule, DreamDataModule):
                raise ConfigError("pictures were handed to a run whose data is not the photos' (DreamDataModule)")
            self.datamodule.hand(pictures)
        model_files = [self.model.hparams.weights, self.model.hparams.guide["image"]]
        self.datamodule.protected = [*self.config_files, *(Path(f) for f in model_files if f and Path(f).exists())]
        self.trainer = self.instantiate_trainer()

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

    def __init__(self, spec: RunSpec) -> None:
        """Build the model, data and Trainer of ``spec``; its runtime's callbacks join the Trainer's
        (listeners among them hear the dream: the page's preview). A bad setting raises
        jsonargparse's ``ArgumentError``; ``dream()`` runs it (see ``execute``)."""
        super().__init__(
            **dream_cli_settings(),
            save_config_callback=ConfigBesideDreams,
            args=spec,
            run=False,
        )


@dataclass(frozen=True)
class Ran:
    """One run: its objects (``None`` when it could not start), the one line of the error a setting
    or input caused (``None`` when there was none) and the resolved config it ran."""

    cli: Optional[DreamerCLI]
    error: Optional[str]
    config_text: str = ""


def execute(spec: RunSpec) -> Ran:
    """Build ``spec``'s model, data and Trainer, dream, and turn every error the user's settings or
    inputs caused into one line (``Ran.error``); any other error is a bug and propagates."""
    cli, config_text = None, ""
    try:
        cli = DreamerCLI(spec)
        config_text = cli.parser.dump(cli.config, skip_none=False)
        cli.dream()
    except ArgumentError as error:
        return Ran(None, from_recipe(one_line(str(error)), spec.text))
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
    try:
        spec = spec_from(args)
    except ConfigError as error:
        print(f"dreamer: error: {error}", file=sys.stderr)
        return 2
    ran = execute(spec)
    if ran.error is not None or ran.cli is None:
        print(f"dreamer: error: {ran.error}", file=sys.stderr)
        return 2
    status = report(ran.cli)
    leave_process_group()
    return status
