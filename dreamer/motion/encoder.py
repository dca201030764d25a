"""Encoding a finished video in a child process of its own (``files.children``): the job goes to
the child as JSON on its standard input; the child encodes the frame folder's pictures."""

from __future__ import annotations

import json
import sys
from fractions import Fraction
from pathlib import Path
from typing import Optional

from dreamer.files import children
from dreamer.motion.frames import video_pictures
from dreamer.motion.videoio import VideoError, encode_gif, encode_video


def encode_frames(
    folder: Path,
    frames: int,
    target: Path,
    fps: Fraction,
    audio_from: Optional[Path] = None,
    gif: Optional[Path] = None,
    recipe: Optional[str] = None,
) -> None:
    """``encode_video`` (and ``encode_gif`` beside it) of the ``video_pictures`` of ``folder``, in a
    process of its own: x264's output depends on the state of the process it runs in, so a fresh
    process makes the same MP4 from the same frames every time (a resumed run's video is the same as
    an uninterrupted one's), and an FFmpeg crash cannot take the dreaming process down with it."""
    job = {
        "folder": str(folder),
        "frames": frames,
        "target": str(target),
        "fps": str(fps),
        "audio_from": str(audio_from) if audio_from else None,
        "gif": str(gif) if gif else None,
        "recipe": recipe,
    }
    done = children.run("dreamer.motion.encoder:encode_job", input=json.dumps(job), capture_output=True, text=True)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"the encoder exited with status {done.returncode}"]
        raise VideoError(f"{target}: {lines[-1]}")
    for path in [target, *([gif] if gif else [])]:
        if not path.is_file():
            raise VideoError(f"{path}: the encoder ended without writing it")


def encode_job(args: list[str]) -> None:
    """A child's side of ``encode_frames``: the job comes as JSON on standard input."""
    job = json.loads(sys.stdin.read())
    folder, frames, target, fps = Path(job["folder"]), job["frames"], Path(job["target"]), Fraction(job["fps"])
    audio = Path(job["audio_from"]) if job["audio_from"] else None
    encode_video(video_pictures(folder, frames), target, fps, audio, recipe=job.get("recipe"))
    if job["gif"]:
        encode_gif(video_pictures(folder, frames), Path(job["gif"]), fps, recipe=job.get("recipe"))
