"""Framework overhead in-process: dreamer's run against the reference loop, per step."""

from __future__ import annotations

from pathlib import Path

from scripts.benchmark.common import (
    dreamer_run,
    handwritten_run,
    interleaved_medians,
    model_for,
    photo,
    table,
)


def overhead(work: Path, smoke: bool, reps: int) -> str:
    cases = [("mobilenet_v2", 11, 64 if smoke else 224)] + ([] if smoke else [("vgg16", 22, 224)])
    rows = []
    for backbone, layer, side in cases:
        settings = dict(octaves=2 if smoke else 3, iterations=2 if smoke else 10)
        model = model_for(backbone, layer, **settings, channels_last=False)  # the same arithmetic as the loop
        image = photo(work / f"overhead-{side}.png", side)
        runs = {
            "lean": lambda: dreamer_run(model, image, work / "o.png"),
            "full": lambda: dreamer_run(model, image, work / "o.png", lean=False),
            "hand": lambda: handwritten_run(model, image, work / "h.png", scale=1.4, lr=0.01, jitter=8, **settings),
        }
        lean, full, hand = interleaved_medians(runs, reps).values()
        steps = settings["octaves"] * settings["iterations"]
        rows.append(
            [
                f"{backbone} `features.{layer}`",
                f"{side}²",
                steps,
                f"{hand * 1000 / steps:.1f}",
                f"{lean * 1000 / steps:.1f}",
                f"{full * 1000 / steps:.1f}",
                f"**{lean / hand:.3f}**",
                f"{full / hand:.3f}",
            ]
        )
    return (
        "## Framework overhead\n\nIn-process timings (a secondary view: the whole command is in *Whole process*). "
        "One whole dream (3 octaves of 1.4, 10 steps each, jitter 8; load, dream, write "
        "PNG). *lean*: no logger, no progress bar; *defaults*: TensorBoard logger and progress bar, as a user "
        "runs it. Both contiguous in memory, so that only the framing differs.\n\n"
        + table(
            rows,
            [
                "backbone",
                "image",
                "steps",
                "hand-written ms/step",
                "dreamer lean ms/step",
                "dreamer defaults ms/step",
                "dreamer / hand-written (lean)",
                "dreamer / hand-written (defaults)",
            ],
        )
        + "\n\n"
        + fixed_step_cost(work, smoke, reps)
    )


def fixed_step_cost(work: Path, smoke: bool, reps: int) -> str:
    """What a step costs beyond its arithmetic: a 32² image, where the network's work is tiny; the
    difference of a long and a short run, so loading and writing cancel out."""
    image = photo(work / "fixed-32.png", 32)
    short, long = (2, 6) if smoke else (20, 220)
    rows, cells = [], {}
    for steps in (short, long):
        settings = dict(octaves=1, iterations=steps)
        model = model_for("mobilenet_v2", 11, **settings, channels_last=False, jitter=0)
        runs = {
            "hand": lambda: handwritten_run(model, image, work / "h.png", scale=1.4, lr=0.01, jitter=0, **settings),
            "lean": lambda: dreamer_run(model, image, work / "o.png"),
            "full": lambda: dreamer_run(model, image, work / "o.png", lean=False),
        }
        cells[steps] = interleaved_medians(runs, reps)
    per_step = {k: (cells[long][k] - cells[short][k]) / (long - short) * 1000 for k in ("hand", "lean", "full")}
    rows.append(
        [
            "mobilenet_v2 `features.11`",
            "32²",
            f"{per_step['hand']:.2f}",
            f"{per_step['lean']:.2f}",
            f"{per_step['full']:.2f}",
            f"{per_step['lean'] - per_step['hand']:+.2f}",
        ]
    )
    return (
        f"Per step on a 32² image ({long}-step run less a {short}-step run, ÷ {long - short}), where the "
        "network's arithmetic is small and fixed per-step costs show:\n\n"
        + table(
            rows,
            [
                "backbone",
                "image",
                "hand-written ms/step",
                "dreamer lean ms/step",
                "dreamer defaults ms/step",
                "lean − hand-written",
            ],
        )
    )
