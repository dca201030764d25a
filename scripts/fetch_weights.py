"""Download torchvision's ImageNet weights for dreamer's backbones (run where there is internet).

    python scripts/fetch_weights.py vgg16 googlenet            # into the torch hub cache
    python scripts/fetch_weights.py --all --dest weights/      # into a folder to copy elsewhere

Copy the files into ``$TORCH_HOME/hub/checkpoints/`` (default ``~/.cache/torch/hub/checkpoints/``)
on the offline machine, or pass one with ``--model.weights path.pth``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from dreamer.engine.backbones import BACKBONES, FLOW_NETWORKS, hub_checkpoint_path

NETWORKS = {**BACKBONES, **FLOW_NETWORKS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("backbones", nargs="*", help=f"networks to fetch: {', '.join(NETWORKS)}")
    parser.add_argument("--all", action="store_true", help="fetch every supported network")
    parser.add_argument("--dest", type=Path, help="folder to save into (default: the torch hub cache)")
    args = parser.parse_args(argv)
    names = list(NETWORKS) if args.all else args.backbones
    if not names:
        parser.error("name at least one backbone, or --all")
    unknown = sorted(set(names) - set(NETWORKS))
    if unknown:
        parser.error(f"unknown network(s) {', '.join(unknown)}; choose from {', '.join(NETWORKS)}")
    for name in names:
        spec = NETWORKS[name]
        target = (args.dest / spec.filename) if args.dest else hub_checkpoint_path(name)
        if target.is_file():
            print(f"{name}: already there: {target}")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        # torch.hub checks the hash prefix in the file name and writes through a temporary file.
        try:
            torch.hub.download_url_to_file(spec.weights.url, str(target), hash_prefix=target.stem.split("-")[-1])
        except (OSError, RuntimeError) as error:
            print(f"{name}: could not download {spec.weights.url}: {error}", file=sys.stderr)
            return 1
        print(f"{name}: saved {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
