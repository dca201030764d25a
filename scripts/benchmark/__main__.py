"""Measure dreamer: the whole command against a plain script, many photos, framework overhead, batching, big images
with tiling, the Trainer's fast paths, the GPU, planning and motion.

    python -m scripts.benchmark                      # CPU sections (about 20 min on 2 cores); updates BENCHMARKS.md
    python -m scripts.benchmark  --sections whole     # one section; the file's other sections are kept
    python -m scripts.benchmark  --gpu                # the GPU section, on a machine with CUDA (a few minutes)
    python -m scripts.benchmark  --smoke              # tiny sizes: checks that every section runs
    python -m scripts.benchmark  --sections visual    # feature visualisation beside Lucent (about 25 min)
    python -m scripts.benchmark  --sections diversity # faces of a channel with the diversity term (about 5 min)
    python -m scripts.benchmark  --sections page      # the web page in headless Chromium against the CLI (about 5 min)

Every figure of one table comes from one run, on the same machine, image and settings; times are
medians of ``--reps`` repetitions after one warm-up, commands compared in alternation.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from dreamer.quiet import silence_known_noise
from scripts.benchmark import animated, batching, big, fast, gpu, many, motion, overhead, page, planning, visual, whole
from scripts.benchmark.common import ROOT, machine, peak_child

TITLES = {
    "whole": "Whole process",
    "many": "Many photos",
    "overhead": "Framework overhead",
    "batching": "Batching",
    "big": "Big images",
    "fast": "Fast paths",
    "gpu": "GPU",
    "planning": "Planning",
    "motion": "Motion",
    "animated": "Motion settings",
    "visual": "Feature visualisation",
    "diversity": "Diversity",
    "page": "Web page",
}


def merged(path: Path, made: list[str]) -> str:
    """The benchmark file with the sections just made replaced, the others kept as they were."""
    blocks: dict[str, str] = {}
    if path.exists():
        for block in path.read_text().split("\n## ")[1:]:
            blocks[block.split("\n", 1)[0].strip()] = "## " + block.strip()
    for text in made:
        blocks[text.split("\n", 1)[0][3:].strip()] = text.strip()
    order = list(TITLES.values())
    titles = sorted(blocks, key=lambda title: order.index(title) if title in order else len(order))
    head = f"# Benchmarks\n\nMachine: {machine()}. Each section names the command that made it."
    return head + "\n\n" + "\n\n".join(blocks[title] for title in titles) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one repetition: seconds")
    parser.add_argument("--reps", type=int, default=5, help="repetitions per timing (median reported)")
    parser.add_argument("--sections", default="whole,many,overhead,batching,big,fast,planning,motion,animated")
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--gpu", action="store_true", help="only the GPU section (same as --sections gpu)")
    parser.add_argument("--peak", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    silence_known_noise()
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # no per-fit banners in the tables
    if args.peak:
        side, tile, iterations = args.peak
        print(json.dumps(peak_child(side, tile or None, iterations)))
        return
    reps = 1 if args.smoke else args.reps
    if args.gpu:
        args.sections = "gpu"
    sections: dict[str, Callable[[Path, bool, int], str]] = {
        "whole": whole.whole,
        "many": many.many,
        "overhead": overhead.overhead,
        "batching": batching.batching,
        "big": big.big_images,
        "fast": fast.fast_paths,
        "gpu": gpu.gpu,
        "planning": planning.planning,
        "motion": motion.motion,
        "animated": animated.animated,
        "visual": visual.visual,
        "diversity": visual.diversity,
        "page": page.page_section,
    }
    command = "python -m scripts.benchmark " + " ".join(sys.argv[1:])
    stamp = f"_Made by `{command.strip()}` on {time.strftime('%Y-%m-%d')}; medians of {reps} runs._"
    made = []
    with tempfile.TemporaryDirectory(prefix="dreamer-bench-") as folder:
        for name in args.sections.split(","):
            started = time.perf_counter()
            made.append(sections[name](Path(folder), args.smoke, reps) + "\n\n" + stamp)
            print(made[-1] + f"\n\n({name}: {time.perf_counter() - started:.0f} s)\n", flush=True)
    args.output.write_text(merged(args.output, made))
    print(f"written {args.output}")


if __name__ == "__main__":
    main()
