"""Render the README's motion strips from the bundled photo, clip and soundtrack (offline, CPU).

    python scripts/motion_strips.py                 # all of them (about 8 minutes on 2 CPU cores)
    python scripts/motion_strips.py --only masked   # one: drift, keyframes, masked

- ``docs/motion_drift.jpg``: frames of a 240-frame zoom without colour anchoring
  (``--data.keep_colors 0``) and with it (the preset's ``keep_colors: 1``).
- ``docs/motion_keyframes.jpg``: frames of ``--config zoom_keyframes`` above the curve its zoom
  follows (keyframes, smoothly eased, plus the soundtrack's beat).
- ``docs/motion_masked.jpg``: source frames and ``--config video_masked``'s dream of them, the
  carried mask's edge drawn in.
"""

from __future__ import annotations

import argparse
import tempfile
from functools import partial
from pathlib import Path

import numpy as np
import yaml
from PIL import Image, ImageDraw

from dreamer.cli import main as dreamer_main
from dreamer.files.masks import read_mask
from dreamer.motion.audio import envelopes
from dreamer.motion.timeline import Timeline
from dreamer.motion.tracks import SourceTrack
from dreamer.motion.videoio import read_frames
from dreamer.motion.warp import consistent, dis_flow, warp

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
QUIET = ["--trainer.enable_progress_bar=false", "--trainer.logger=false"]
HEIGHT = 150  # of each panel


def dream(config: str, out: Path, *extra: str) -> None:
    code = dreamer_main(["fit", "--config", config, f"--data.output={out}", *QUIET, *extra])
    if code != 0:
        raise SystemExit(f"dreamer fit --config {config} failed ({code})")


def frame(folder: Path, number: int) -> Image.Image:
    return Image.open(folder / f"{number:06d}.png").convert("RGB")


def panel(image: Image.Image, caption: str) -> Image.Image:
    width = round(image.width * HEIGHT / image.height)
    out = Image.new("RGB", (width, HEIGHT + 18), "white")
    out.paste(image.resize((width, HEIGHT), Image.Resampling.LANCZOS), (0, 18))
    ImageDraw.Draw(out).text((4, 3), caption, fill="black")
    return out


def row(panels: list[Image.Image], label: str = "") -> Image.Image:
    margin = 110 if label else 0
    width = margin + sum(p.width for p in panels) + 4 * (len(panels) - 1)
    out = Image.new("RGB", (width, panels[0].height), "white")
    ImageDraw.Draw(out).text((4, panels[0].height // 2), label, fill="black")
    x = margin
    for piece in panels:
        out.paste(piece, (x, 0))
        x += piece.width + 4
    return out


def stack(rows: list[Image.Image]) -> Image.Image:
    out = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows) + 6 * len(rows)), "white")
    y = 0
    for piece in rows:
        out.paste(piece, (0, y))
        y += piece.height + 6
    return out


def save(image: Image.Image, name: str) -> None:
    DOCS.mkdir(exist_ok=True)
    image.save(DOCS / name, quality=85, optimize=True)
    print(f"written: docs/{name}")


def drift_strip(work: Path) -> None:
    frames, shown = 240, [0, 60, 120, 180, 239]
    rows = []
    for label, extra in (("keep_colors 0", ["--data.keep_colors=0"]), ("keep_colors 1", [])):
        out = work / label.replace(" ", "_")
        dream("zoom", out, f"--data.frames={frames}", "--data.gif=false", *extra)
        rows.append(row([panel(frame(out / "chelsea.frames", n), f"frame {n}") for n in shown], label))
    save(stack(rows), "motion_drift.jpg")


def curve(values: list[float], beats: np.ndarray, width: int, height: int = 90) -> Image.Image:
    out = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(out)
    low, high = min(values), max(values)
    points = [
        (4 + i * (width - 8) / (len(values) - 1), height - 12 - (v - low) / max(high - low, 1e-9) * (height - 24))
        for i, v in enumerate(values)
    ]
    for i, level in enumerate(beats):
        x = 4 + i * (width - 8) / (len(values) - 1)
        draw.line([(x, height - 2), (x, height - 2 - 10 * level)], fill=(200, 120, 0))
    draw.line(points, fill=(0, 60, 200), width=2)
    draw.text((6, 2), f"data.zoom per frame: {low:.3f} to {high:.3f} (orange: the soundtrack's onsets)", fill="black")
    return out


def keyframes_strip(work: Path) -> None:
    preset = yaml.safe_load((ROOT / "configs" / "zoom_keyframes.yaml").read_text())
    settings = preset["data"]["init_args"]
    out = work / "keyframes"
    dream("zoom_keyframes", out)
    frames = settings["frames"]
    shown = [0, frames // 4, frames // 2, 3 * frames // 4, frames - 1]
    strip = row([panel(frame(out / "chelsea.frames", n), f"frame {n}") for n in shown])
    timeline = Timeline(**preset["animation"])
    curves = envelopes(ROOT / "assets" / "beat.m4a", settings["fps"], frames)
    zoom = [timeline.at(n, settings["fps"], curves).number("data.zoom", settings["zoom"]) for n in range(frames)]
    save(stack([strip, curve(zoom, curves["onsets"], strip.width)]), "motion_keyframes.jpg")


def masked_strip(work: Path) -> None:
    preset = yaml.safe_load((ROOT / "configs" / "video_masked.yaml").read_text())["data"]["init_args"]
    out = work / "masked"
    dream("video_masked", out)
    clip, shown = ROOT / "assets" / "chelsea_pan.mp4", [0, 16, 32, 47]
    sources = list(read_frames(clip))
    size = (
        np.asarray(frame(out / "chelsea_pan.frames", 0)).shape[0],
        np.asarray(frame(out / "chelsea_pan.frames", 0)).shape[1],
    )
    sources = [np.asarray(Image.fromarray(s).resize(size[::-1], Image.Resampling.BILINEAR)) for s in sources]
    track = SourceTrack(size, mask=read_mask(ROOT / "assets" / "chelsea_pan_mask.png", size))
    edges = []
    for number, picture in enumerate(sources):
        if number:
            backward = dis_flow(picture, sources[number - 1])
            track.advance(partial(warp, flow=backward), consistent(backward, dis_flow(sources[number - 1], picture)))
        else:
            track.advance(None, None)
        edges.append(track.mask())
    top, bottom = [], []
    for n in shown:
        dreamed = frame(out / "chelsea_pan.frames", n)
        outline = (np.abs(np.gradient(edges[n])[0]) + np.abs(np.gradient(edges[n])[1])) > 0.08
        marked = np.asarray(dreamed).copy()
        marked[outline] = (255, 255, 0)
        top.append(panel(Image.fromarray(sources[n]), f"source {n}"))
        bottom.append(panel(Image.fromarray(marked), f"dream {n} (mask edge)"))
    save(stack([row(top), row(bottom)]), "motion_masked.jpg")
    del preset


STRIPS = {"drift": drift_strip, "keyframes": keyframes_strip, "masked": masked_strip}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=sorted(STRIPS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dreamer-strips-") as folder:
        for name, render in STRIPS.items():
            if args.only in (None, name):
                render(Path(folder))


if __name__ == "__main__":
    main()
