"""Parameter sweeps: the same photos dreamed under every combination of some model and octave settings.

    dreamer sweep --config sweep_seed [--processes 2] [--data.images my.jpg] [--data.output sweeps/mine]

A sweep config is a dreamer config with a ``sweep:`` mapping of ``model.*`` and ``octaves.*`` keys
to lists of values. Every grid point is an ordinary ``dreamer fit`` run (same module, callbacks and Trainer) with those
values, writing to ``<data.output>/<point>/``; points are shared out over ``--processes`` worker
processes (one GPU each where there are enough). Then each photo gets a labelled sheet,
``<data.output>/<photo>-sweep.png``: rows are the first key's values, columns the other keys'.
"""

from __future__ import annotations

import argparse
import inspect
import itertools
import json
import os
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Optional

import torch
import yaml
from PIL import Image

from dreamer.command.configs import config_files, resolved_config
from dreamer.command.spec import RunSpec, spec_of_content, with_flags
from dreamer.command.trust import TRUST_NOTHING, Trust, trust_of
from dreamer.errors import ConfigError, DreamerError
from dreamer.explore.sheets import contact_sheet, save_sheet
from dreamer.files import children
from dreamer.files.sections import settings as settings_of


@dataclass(frozen=True)
class GridPoint:
    settings: dict[str, Any]  # {"octaves.scale": 1.4, "octaves.alpha": 0.2}

    @property
    def name(self) -> str:
        """The point's folder name: ``scale=1.4,alpha=0.2``."""
        return ",".join(f"{key.split('.', 1)[1]}={_text(value)}" for key, value in self.settings.items())

    @property
    def label(self) -> str:
        return " · ".join(f"{key.split('.', 1)[1]} {_text(value)}" for key, value in self.settings.items())


def _text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":")).strip('"')


def read_sweep(config: str, trust: Trust = TRUST_NOTHING) -> tuple[dict[str, Any], dict[str, list[Any]], Path]:
    """The config without its ``sweep`` (input paths resolved; a recipe through the gate, with what
    the command line says: ``trust``), the sweep, and its output folder."""
    content = yaml.safe_load(resolved_config(config, sweep=True, trust=trust))
    sweep = content.pop("sweep", None)
    if not isinstance(sweep, dict) or not sweep:
        raise ConfigError(f"--config {config}: no 'sweep:' mapping of model.* or octaves.* keys to lists of values")
    check_sweep(sweep)
    output = settings_of(content, "data").get("output", "dreams/sweep")
    return content, sweep, Path(output)


def check_sweep(sweep: dict[str, Any]) -> None:
    """Every key a ``model.*`` setting of DreamModule or an ``octaves.*`` one, every value a non-empty list."""
    from dreamer.engine.contract.octaves import Octaves
    from dreamer.engine.module import DreamModule

    known = {
        "model": [name for name in inspect.signature(DreamModule.__init__).parameters if name != "self"],
        "octaves": [field.name for field in fields(Octaves)],
    }
    for key, values in sweep.items():
        section, _, name = key.partition(".")
        if name.split(".")[0] not in known.get(section, []):  # or a member of a group: model.jitter.roll
            examples = ", ".join([*(f"octaves.{n}" for n in known["octaves"][:4]), "model.lr", "model.layers"])
            raise ConfigError(f"sweep: unknown key {key!r}; sweep model and octave settings, e.g. {examples}")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"sweep: {key} needs a non-empty list of values, got {values!r}")


def grid(sweep: dict[str, list[Any]]) -> list[GridPoint]:
    keys = list(sweep)
    return [GridPoint(dict(zip(keys, values))) for values in itertools.product(*(sweep[key] for key in keys))]


def run_points(
    base: RunSpec, points: list[GridPoint], output: Path, ran_configs: Optional[list[str]] = None
) -> list[str]:
    """Dream each point of ``base`` (the sweep's config and command line) in this process; the
    failures, one line each (the resolved config of each point that ran goes to ``ran_configs``)."""
    from dreamer.command.report import report
    from dreamer.command.runner import execute

    failed = []
    for point in points:
        print(f"sweep: {point.label}", flush=True)
        try:
            spec = base.copy().set({**point.settings, "data.output": str(output / point.name)})
        except ConfigError as error:
            failed.append(f"{point.name}: {error}")
            print(f"failed: {point.name}: {error}", file=sys.stderr)
            continue
        ran = execute(spec)
        if ran.error is not None or ran.cli is None:
            failed.append(f"{point.name}: {ran.error}")
            print(f"failed: {point.name}: {ran.error}", file=sys.stderr)
        elif report(ran.cli) != 0:
            failed.append(f"{point.name}: some images failed")
        if ran.config_text and ran_configs is not None:
            ran_configs.append(ran.config_text)
    return failed


def sweep_recipe(config_text: str, sweep: dict[str, list[Any]]) -> str:
    """A sweep sheet's recipe: a point's resolved config with the sweep's grid (``dreamer sweep
    --config sheet.png`` sweeps it again), its photo's SHA-256 where it is one file."""
    from dreamer import __version__
    from dreamer.files.recipes import dream_recipe

    config = yaml.safe_load(config_text) or {}
    images = Path(str(settings_of(config, "data").get("images", "")))
    inputs = [("data.images", images)] if images.is_file() else []
    text = dream_recipe(f"# written by dreamer {__version__}\n{config_text}", __version__, inputs)
    header, _, body = text.partition("\n")
    content = yaml.safe_load(body)
    content["recipe"]["note"] = "a sweep's sheet: run it with dreamer sweep --config <this file>"
    return header + "\n" + yaml.safe_dump({**content, "sweep": sweep}, sort_keys=False)


def run_workers(config: str, processes: int, extra: list[str]) -> int:
    """``processes`` workers, each dreaming every ``processes``-th point (one GPU each where there are enough)."""
    gpus = torch.cuda.device_count()
    workers = []
    for index in range(processes):
        env = dict(os.environ)
        if gpus >= processes:
            env["CUDA_VISIBLE_DEVICES"] = str(index)
        else:  # share the cores: threads that outnumber them spin against each other (10x slower here)
            env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // processes)))
        share = ["--config", config, "--share", f"{index}/{processes}"]
        workers.append(children.popen("dreamer.cli:main", "sweep", *share, *extra, env=env))
    return max(worker.wait() for worker in workers)


def write_sheets(
    sweep: dict[str, list[Any]], points: list[GridPoint], output: Path, side: int, recipe: Optional[str] = None
) -> tuple[list[Path], list[str]]:
    """One sheet per dreamed photo: the first key's values down, the others' across. The sheets
    written, and a line for each that could not be (a full disk, a read-only folder)."""
    names = sorted({path.name for point in points for path in (output / point.name).glob("*.png")})
    columns = len(points) // len(next(iter(sweep.values())))
    keys = [key.split(".", 1)[1] for key in sweep]
    title_keys = f"{keys[0]} (rows)" + (f" x {', '.join(keys[1:])} (columns)" if len(keys) > 1 else "")
    written: list[Path] = []
    failed: list[str] = []
    for name in names:
        paths = [output / point.name / name for point in points]
        with Image.open(next(path for path in paths if path.is_file())) as first:
            size = first.size
        images = [read_rgb(path) if path.is_file() else Image.new("RGB", size, "grey") for path in paths]
        sheet = contact_sheet(images, [point.label for point in points], columns, side, f"{name}: {title_keys}")
        save_sheet(sheet, output / f"{Path(name).stem}-sweep.png", written, failed, recipe)
    return written, failed


def read_rgb(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="dreamer sweep", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", required=True, help="a sweep preset's name or a config file with a 'sweep:' key")
    parser.add_argument("--processes", type=int, default=1, help="worker processes sharing the points (default 1)")
    parser.add_argument("--tile-side", type=int, default=200, help="side of a tile on the sheets, in pixels")
    parser.add_argument("--data.output", dest="output", type=Path, help="the sweep's folder (default: the config's)")
    parser.add_argument("--share", help=argparse.SUPPRESS)  # "i/n": a worker's share of the points
    args, extra = parser.parse_known_args(argv)
    try:
        content, sweep, output = read_sweep(args.config, trust_of(extra)[1])
        output = args.output or output
        points = grid(sweep)
        if args.processes < 1:
            raise ConfigError(f"--processes must be >= 1, got {args.processes}")
        base = with_flags(spec_of_content(content, config_files(["--config", args.config])), extra)
    except DreamerError as error:
        print(f"dreamer: error: {error}", file=sys.stderr)
        return 2
    share: Optional[tuple[int, int]] = tuple(map(int, args.share.split("/"))) if args.share else None  # type: ignore[assignment]
    if share is not None:
        return 1 if run_points(base, points[share[0] :: share[1]], output) else 0
    ran_configs: list[str] = []
    if args.processes > 1:
        status = run_workers(args.config, args.processes, [*extra, "--data.output", str(output)])
    else:
        status = 1 if run_points(base, points, output, ran_configs) else 0
    embed = ran_configs and "embed_recipe: false" not in ran_configs[0]
    recipe = sweep_recipe(ran_configs[0], sweep) if embed else None
    sheets, failed = write_sheets(sweep, points, output, args.tile_side, recipe)
    for sheet in sheets:
        print(f"written: {sheet}")
    for message in failed:
        print(f"failed: {message}", file=sys.stderr)
    print(f"{len(points)} settings swept; dreams in {output}/<setting>/")
    return 1 if failed else status
