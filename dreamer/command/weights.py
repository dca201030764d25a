"""``dreamer weights``: where each known network's pretrained weights are, and fetching them.

    dreamer weights                                    # each network: found where, or missing
    dreamer weights fetch vgg16 googlenet              # into the torch hub cache (needs internet)
    dreamer weights fetch --all --dest weights/        # into a folder, to copy to an offline machine

Any torchvision classification model can be fetched by name. On the offline machine, copy the files
into ``$TORCH_HOME/hub/checkpoints/`` (default ``~/.cache/torch/hub/checkpoints/``), or pass one with
``--model.weights path.pth``. timm networks fetch through timm (the offline message says how);
``clip:ARCH/TAG`` (open_clip's) into the Hugging Face cache, as open_clip itself does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

import torch

from dreamer.engine.networks import clip
from dreamer.engine.networks.backbones import (
    BACKBONES,
    FLOW_NETWORKS,
    backbone_spec,
    hub_checkpoint_path,
    shipped_checkpoint_path,
)
from dreamer.engine.networks.clip import CLIP
from dreamer.errors import DreamerError

KNOWN = [*BACKBONES, *FLOW_NETWORKS]  # the documented backbones and the flow networks of videos


def found(name: str) -> Optional[Path]:
    """Where ``name``'s pretrained weights are on this machine (the hub cache, a package), or ``None``."""
    for path in (hub_checkpoint_path(name), shipped_checkpoint_path(name)):
        if path is not None and path.is_file():
            return path
    return None


def listing() -> int:
    width = max(map(len, KNOWN))
    for name in KNOWN:
        path = found(name)
        state = str(path) if path else f"missing ({backbone_spec(name).filename}; dreamer weights fetch {name})"
        print(f"{name:<{width}}  {state}")
    return 0


def fetch(names: list[str], dest: Optional[Path]) -> int:
    """Download each network's weights (torch hub checks the hash and writes through a temporary
    file); 1 when any could not be fetched, each said in one line."""
    failed = 0
    for name in names:
        if name.startswith(CLIP):
            try:
                clip.fetch(name)
            except Exception as error:  # open_clip's download, whatever fails in it  # noqa: BLE001
                print(f"{name}: could not download: {error}", file=sys.stderr)
                failed += 1
                continue
            print(f"{name}: saved in the Hugging Face cache")
            continue
        spec = backbone_spec(name)
        target = dest / spec.filename if dest else hub_checkpoint_path(name)
        if target.is_file():
            print(f"{name}: already there: {target}")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(spec.weights.url, str(target), hash_prefix=target.stem.split("-")[-1])
        except (OSError, RuntimeError) as error:
            print(f"{name}: could not download {spec.weights.url}: {error}", file=sys.stderr)
            failed += 1
            continue
        print(f"{name}: saved {target}")
    return 1 if failed else 0


def main(args: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="dreamer weights", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command")
    getting = commands.add_parser("fetch", help="download networks' pretrained weights")
    known = ", ".join(KNOWN)
    getting.add_argument("names", nargs="*", help=f"networks (any torchvision model, clip:ARCH/TAG; known: {known})")
    getting.add_argument("--all", action="store_true", help="every known network")
    getting.add_argument("--dest", type=Path, help="a folder to save into (default: the torch hub cache)")
    try:
        options = parser.parse_args(args)
    except SystemExit as exit:
        return 2 if exit.code else 0
    if options.command is None:
        return listing()
    names = KNOWN if options.all else options.names
    if not names:
        print("dreamer: error: dreamer weights fetch: name at least one network, or --all", file=sys.stderr)
        return 2
    try:
        for name in names:  # every name checked before any download
            clip.checked_name(name[len(CLIP) :]) if name.startswith(CLIP) else backbone_spec(name)
    except DreamerError as error:
        print(f"dreamer: error: {error}", file=sys.stderr)
        return 2
    return fetch(names, options.dest)
