"""Small test videos made on the spot with PyAV: a panning texture with a moving square, optional
tone, optional rotation metadata."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import av
import numpy as np


def texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth, detailed RGB texture ``uint8 [H, W, 3]`` (sums of sinusoids and blobs)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = []
    for _ in range(3):
        value = np.zeros((height, width), np.float32)
        for _ in range(6):
            fx, fy, phase = rng.uniform(0.02, 0.15, 2).tolist() + [rng.uniform(0, 6.28)]
            value += np.sin(fx * x + fy * y + phase)
        channels.append(value)
    picture = np.stack(channels, -1)
    picture = (picture - picture.min()) / (picture.max() - picture.min())
    return (picture * 220 + 20).astype(np.uint8)


def scene(world: np.ndarray, frame: int, width: int, pan: int = 2, square: int = 3) -> np.ndarray:
    """Frame ``frame``: a camera panning ``pan`` px per frame over ``world``, with a grey square
    moving ``square`` px per frame the other way (it hides and uncovers the background)."""
    height = world.shape[0]
    picture = world[:, pan * frame : pan * frame + width].copy()
    side = max(4, height // 4)
    left = (width - side - square * frame) % max(1, width - side)
    picture[height // 3 : height // 3 + side, left : left + side] = 128
    return picture


def make_video(
    path: Path,
    frames: int = 12,
    size: tuple[int, int] = (48, 64),
    fps: int = 12,
    audio: bool = False,
    rotation: Optional[int] = None,
    container: Optional[str] = None,
) -> Path:
    """Write ``frames`` frames of ``scene`` (``size`` = (height, width)) as H.264, with a 440 Hz AAC tone
    when ``audio`` and a display rotation (degrees counter-clockwise) when ``rotation``."""
    height, width = size
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format=container) as output:
        video = output.add_stream("libx264", rate=fps, options={"crf": "10"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if rotation is not None:
            video.set_display_rotation(rotation)
        tone = output.add_stream("aac", rate=44100) if audio else None
        if tone is not None:
            tone.layout = "mono"
        world = texture(height, width + 2 * frames + 2)
        for index in range(frames):
            output.mux(video.encode(av.VideoFrame.from_ndarray(scene(world, index, width), format="rgb24")))
        output.mux(video.encode())
        if tone is not None:
            samples = (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(44100 * frames / fps)) / 44100)).astype(np.float32)
            for start in range(0, samples.size, 1024):
                chunk = av.AudioFrame.from_ndarray(samples[None, start : start + 1024], format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts = 44100, start
                output.mux(tone.encode(chunk))
            output.mux(tone.encode())
    return path


def make_y4m(path: Path, pictures: list[np.ndarray]) -> Path:
    """``pictures`` (RGB, even sides) as a raw YUV4MPEG2 clip at 30 frames/s: what Chromium's fake camera plays."""
    import cv2

    height, width = pictures[0].shape[:2]
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode())
        for picture in pictures:
            out.write(b"FRAME\n" + cv2.cvtColor(picture, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path
