"""How well an atlas shows what each channel wants: the share of channels whose own image excites them
more than every other channel's image does.

    python scripts/atlas_check.py dreams/atlas --config atlas

It rebuilds the preset's model (backbone, weights, layer), reads every ``<layer>-c<k>.png`` of the
folder, measures each channel's mean activation on each image, and prints the share.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import torch
import yaml

from dreamer.engine.module import DreamModule
from dreamer.explore.probes import channel_means, self_excitation_share
from dreamer.files.bundled import config_path
from dreamer.files.imageio import open_photo, to_tensor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="the atlas output folder (data.output)")
    parser.add_argument("--config", default="atlas", help="the preset or config file that made it")
    args = parser.parse_args()
    settings = yaml.safe_load(config_path(args.config).read_text())["model"]
    model = DreamModule(**{k: settings[k] for k in ("backbone", "weights", "layers") if k in settings})
    (layer,) = model.objective.schedule.layers[0]
    files = sorted((args.folder / layer).glob(f"{layer}-c*.png"))
    channels = [int(re.search(r"-c(\d+)\.png$", f.name).group(1)) for f in files]
    images = torch.stack([to_tensor(open_photo(f)[0]) for f in files])
    share = self_excitation_share(channel_means(model.objective, images), channels)
    print(f"{layer}: {len(channels)} channels; own image excites the channel most for {100 * share:.1f} %")


if __name__ == "__main__":
    main()
