"""The LightningCLI that runs a dream, and its report: what happened to every input, as one line each."""

from __future__ import annotations

import gc
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, Optional

import lightning.pytorch as pl
import torch.distributed as dist
from jsonargparse import Namespace
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
from typing_extensions import override

from dreamer import __version__
from dreamer.command.memory import keep_freed_memory, release_freed_memory
from dreamer.command.wiring import Wiring, wire
from dreamer.engine.accounts import Findings, SavesConfig
from dreamer.engine.module import DreamModule
from dreamer.engine.octaves import Octaves
from dreamer.errors import DreamerError
from dreamer.explore.atlas import AtlasDataModule  # noqa: F401  (data modules by short name)
from dreamer.explore.sheets import ContactSheets
from dreamer.files.bundled import INPUT_KEYS, anchored, config_files, with_resolved_configs
from dreamer.motion.timeline import Timeline, fading_layers
from dreamer.motion.video import VideoDataModule  # noqa: F401
from dreamer.motion.zoom import ZoomDataModule  # noqa: F401
from dreamer.photos.data import DreamDataModule  # noqa: F401  (the default data module, by class path)
from dreamer.watch.image_logger import DreamImageLogger


class ConfigBesideDreams(SaveConfigCallback):
    """Hands the resolved config to the writers, which save it beside every dream and video they
    write; its first line says which dreamer wrote it (a later one reads it through ``files.earlier``)."""

    @override
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        config = self.parser.dump(inputs_from_anywhere(self.config), skip_none=False)
        text = f"# written by dreamer {__version__}\n{config}"
        for callback in trainer.callbacks:
            if isinstance(callback, SavesConfig):
                callback.config_text = text


def inputs_from_anywhere(config: Namespace) -> Namespace:
    """``config`` with its relative input paths (relative to where dreamer runs) made absolute, so the
    saved config finds its inputs wherever it is run from."""
    config = config.clone()
    for section, key in INPUT_KEYS:
        for dotted in (f"{section}.init_args.{key}", f"{section}.{key}"):
            if dotted in config and config[dotted] is not None:
                config[dotted] = anchored(config[dotted], Path.cwd())
    return config


class DreamerArgumentParser(LightningArgumentParser):
    """A bad option is one line, last and alone, and exit status 2 (the usage only with ``--help``)."""

    @override
    def error(self, message: str, ex: Optional[Exception] = None) -> NoReturn:
        if not self.exit_on_error:
            super().error(message, ex)
        print(f"dreamer: error: {one_line(message)}", file=sys.stderr)
        sys.exit(2)


def one_line(message: str) -> str:
    """jsonargparse's many-line message as one line: a union's first reason, whitespace collapsed."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    key = re.match(r'^Parser key "[^"]+":', lines[0]) if lines else None
    if "Errors:" in lines:
        reasons: list[list[str]] = []  # each reason with the lines that continue it
        given = ""
        for line in lines[lines.index("Errors:") + 1 :]:
            if line.startswith("Given value:"):
                given = line.removeprefix("Given value:").strip()
            if line.startswith("Given value"):
                continue
            if line.startswith("- "):
                reasons.append([line[2:]])
            elif reasons:
                reasons[-1].append(line)
        expected = [" ".join(r)[len("Expected a ") :] for r in reasons if " ".join(r).startswith("Expected a ")]
        if reasons and len(expected) == len(reasons):  # a union of simple types: name them all
            lines = [f"expected {' or '.join(expected)}, got {given}" if given else f"expected {' or '.join(expected)}"]
        else:
            lines = reasons[0] if reasons else lines[:1]
        if key:
            lines = [key.group(0), *lines]
    text = " ".join(" ".join(lines).split())
    text = re.sub(r'^Parser key "([^"]+)": ', r"\1: ", text)
    text = re.sub(r"typing\.Literal\[(.*?)\]", r"\1", text)
    return re.sub(r"<class '([\w.]+)'>", r"\1", text)


class DreamerCLI(LightningCLI):
    """LightningCLI with dreamer's defaults: one pass over the images, no checkpoints, no weight summary."""

    @override
    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        """``--config`` takes a preset's name as well as a path, and a config file's relative input
        paths are relative to the file. Arguments come from ``args`` or else the command line, never
        both (so a notebook's own ``sys.argv`` is not mistaken for dreamer's)."""
        given = sys.argv[1:] if args is None else args
        self.config_files = config_files(given)
        self.config = parser.parse_args(with_resolved_configs(given))

    @staticmethod
    @override
    def subcommands() -> dict[str, set[str]]:
        """``fit`` only: a dream is a fit of the image; validate/test/predict have nothing to do, and
        each would cost the parser another full copy of the Trainer's, model's and data's options."""
        return {"fit": LightningCLI.subcommands()["fit"]}

    @override
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # How every dream walks its pyramid: the owner's settings (``OctaveSchedule``), not the model's.
        parser.add_class_arguments(Octaves, "octaves", instantiate=True)
        parser.add_lightning_class_args(DreamImageLogger, "image_logger")
        # Keyframes and audio drives of zooms and videos; keyframed layers must be built into the model.
        parser.add_class_arguments(Timeline, "animation", instantiate=True)
        parser.link_arguments("animation.keyframes", "model.animated_layers", compute_fn=fading_layers)
        # Photos unless the config names another data module (ZoomDataModule, VideoDataModule).
        parser.set_defaults({"data": {"class_path": "dreamer.photos.data.DreamDataModule"}})

    @override
    def instantiate_classes(self) -> None:
        """The model, data and Trainer, then wired (``wire``): the data is handed the model's
        schedule and the inputs it must never write to besides its own."""
        super().instantiate_classes()
        model_files = [self.model.hparams.weights, self.model.hparams.guide["image"]]
        self.datamodule.protected = [*self.config_files, *(Path(f) for f in model_files if f and Path(f).exists())]
        config = self.config_init[self.subcommand] if self.subcommand else self.config_init
        self.wiring: Wiring = wire(self.model, self.datamodule, self.trainer, config["octaves"], config["animation"])

    def before_fit(self) -> None:
        keep_freed_memory()  # the network is built: from here on every step reuses the same blocks

    def fit(self, model: pl.LightningModule, **kwargs: Any) -> None:
        """``trainer.fit``; on Ctrl-C Lightning shuts the Trainer down and exits, and dreamer still
        reports what was done and what was not (``report``)."""
        try:
            self.trainer.fit(model, **kwargs)
        except SystemExit:
            if not self.trainer.interrupted:
                raise

    def after_fit(self) -> None:
        release_freed_memory()

    def __init__(
        self,
        args: Optional[list[str]] = None,
        run: bool = True,
        callbacks: Sequence[pl.Callback] = (),
        exit_on_error: bool = True,
    ) -> None:
        """``callbacks`` join the Trainer's (listeners among them hear the dream: the page's preview);
        without ``exit_on_error`` a bad option raises jsonargparse's ``ArgumentError`` instead of exiting."""
        super().__init__(
            DreamModule,
            pl.LightningDataModule,
            subclass_mode_data=True,
            save_config_callback=ConfigBesideDreams,
            parser_class=DreamerArgumentParser,
            seed_everything_default=False,  # all randomness is seeded per image by data.seed
            auto_configure_optimizers=False,  # the optimizer is model.optimizer, over the image only
            trainer_defaults={
                "max_epochs": 1,  # one epoch = every image dreamed through all its octaves
                "enable_checkpointing": False,
                "enable_model_summary": False,
                "num_sanity_val_steps": 0,
                "log_every_n_steps": 10,
                "callbacks": list(callbacks),  # not options: added to the Trainer, never to the saved config
            },
            parser_kwargs={
                "exit_on_error": exit_on_error,
                "description": "dreamer: DeepDream as a PyTorch Lightning program. `dreamer presets` lists "
                "the bundled presets; `dreamer fit --config quickstart` runs one.",
            },
            args=args,
            run=run,
        )


@dataclass
class Outcome:
    """What a run did with its inputs: the files it wrote, the inputs that failed, and how many were
    planned but not dreamed (the run stopped early)."""

    written: list[Path]  # the dreams, frames and videos of the data's writers
    also_written: list[Path]  # beside them: configs, contact sheets, lists
    sheets: list[Path]  # the atlas's contact sheets
    failed: list[str]  # "<file>: <reason>"
    notes: list[str]
    missing: int


def outcome(cli: DreamerCLI) -> Outcome:
    """Gather what the data's writers account for (``cli.wiring.declared``) and the data's plan."""
    summary = cli.datamodule.summary
    accounts = cli.wiring.declared
    writers = [c for c in accounts if not isinstance(c, ContactSheets)]
    sheets = [path for account in accounts if isinstance(account, ContactSheets) for path in account.also_written]
    return Outcome(
        written=[path for writer in writers for path in writer.written],
        also_written=[path for writer in writers for path in writer.also_written],
        sheets=sheets,
        failed=summary.failed + [message for account in accounts for message in account.failed],
        notes=list(summary.notes),
        missing=max(0, summary.planned - sum(account.accounted for account in accounts)),
    )


def report(cli: DreamerCLI) -> int:
    """Print, on rank 0, what happened to every input; the exit status is 1 when any input failed or
    was not dreamed (the run stopped early)."""
    done = outcome(cli)
    summary = cli.datamodule.summary
    if not cli.trainer.is_global_zero:
        return 1 if done.failed else 0  # rank 0 speaks for the run
    for message in done.notes:
        print(f"note: {message}")
    for message in done.failed:
        print(f"failed: {message}", file=sys.stderr)
    for path in summary.skipped[:10]:
        print(f"skipped: {path} exists (set --data.overwrite true to replace it)")
    if summary.skipped_count > 10:
        print(f"… and {summary.skipped_count - 10} more skipped")
    for path in done.sheets + (done.written + done.also_written)[:10]:
        print(f"written: {path}")
    if len(done.written) > 10:
        print(f"… and {len(done.written) - 10} more in {cli.datamodule.output}")
    metrics = cli.wiring.metrics.results if cli.wiring.metrics else {}
    if metrics:
        gain = f"; activation gain {metrics['gain']:.1f}x" if math.isfinite(metrics["gain"]) else ""
        print(f"dreams vs originals: PSNR {metrics['psnr']:.1f} dB, SSIM {metrics['ssim']:.3f}{gain}")
    for listener in cli.wiring.listeners:
        if isinstance(listener, Findings):
            for line in listener.findings():
                print(line)
    if done.missing:
        why = "was interrupted" if cli.trainer.interrupted else "stopped"
        print(f"{done.missing} not dreamed: the run {why} after {cli.trainer.global_step} steps", file=sys.stderr)
    print(f"{len(done.written)} dreamed, {summary.skipped_count} skipped, {len(done.failed)} failed")
    return 1 if done.failed or done.missing else 0


def user_error(error: BaseException) -> Optional[str]:
    """The one line to print for an error the user's settings caused, else ``None`` (a bug: traceback).

    dreamer's own errors may arrive wrapped by jsonargparse (a constructor's check, made while the
    config is turned into objects); Lightning's ``MisconfigurationException`` is a bad trainer option."""
    seen: set[int] = set()
    cause: Optional[BaseException] = error
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, DreamerError):
            return str(cause)
        if isinstance(cause, MisconfigurationException):
            if "No supported gpu backend" in str(cause):
                return "trainer.accelerator: gpu was asked for, but this machine has no GPU that torch can use"
            return f"trainer: {one_line(str(cause))}"
        cause = cause.__cause__ or cause.__context__
    return None


def leave_process_group() -> None:
    """Wait for every process, then close the process group: under ``torchrun`` the first node's
    agent hosts the rendezvous store and leaves with its process, so an earlier exit would abort the
    others mid-teardown."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def run(args: Optional[list[str]] = None) -> int:
    """One ``dreamer fit``: the exit status (0 all done, 1 some input failed or was not dreamed, 2 a
    bad option or config, printed as one line)."""
    # Everything imported so far lives as long as the process: keep garbage collections from walking it.
    gc.freeze()
    try:
        cli = DreamerCLI(args=args)
    except Exception as error:
        reason = user_error(error)
        if reason is None:
            raise
        print(f"dreamer: error: {reason}", file=sys.stderr)
        return 2
    status = report(cli)
    leave_process_group()
    return status
