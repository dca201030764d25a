"""Make the small bundled assets the motion presets use (run from the repository root).

    python scripts/make_assets.py

- ``assets/chelsea_pan_mask.png``: the first-frame mask of ``video_masked`` for the bundled clip
  (white dreams; a black ellipse keeps the cat's nose and mouth as they are), carried along the flow.
- ``assets/beat.m4a``: 8 s of a synthesised 120 bpm beat (a kick and a click on every beat, a hum
  under them), the soundtrack ``zoom_keyframes`` pulses with.
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

ASSETS = Path(__file__).resolve().parents[1] / "dreamer" / "assets"
RATE = 44100


def make_mask(path: Path) -> None:
    mask = np.full((170, 256), 255, np.uint8)
    cv2.ellipse(mask, (176, 146), (40, 22), 0, 0, 360, 0, -1)
    Image.fromarray(mask).save(path, optimize=True)


def beat(seconds: float = 8.0, bpm: float = 120.0) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    signal = 0.05 * np.sin(2 * np.pi * 110 * t)
    kick_t = np.arange(int(0.25 * RATE)) / RATE
    kick = 0.7 * np.sin(2 * np.pi * (60 + 80 * np.exp(-kick_t * 30)) * kick_t) * np.exp(-kick_t * 12)
    click = 0.3 * np.sin(2 * np.pi * 2000 * kick_t) * np.exp(-kick_t * 80)
    for start in np.arange(0, seconds, 60 / bpm):
        first = int(start * RATE)
        piece = signal[first : first + kick.size]
        piece += (kick + click)[: piece.size]
    return np.clip(signal, -1, 1).astype(np.float32)


def make_beat(path: Path) -> None:
    samples = beat()
    with av.open(str(path), "w", format="mp4") as output:
        stream = output.add_stream("aac", rate=RATE, options={"b": "48k"})
        stream.layout = "mono"
        for start in range(0, samples.size, 1024):
            frame = av.AudioFrame.from_ndarray(samples[None, start : start + 1024], format="fltp", layout="mono")
            frame.sample_rate, frame.pts = RATE, start
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)


if __name__ == "__main__":
    make_mask(ASSETS / "chelsea_pan_mask.png")
    make_beat(ASSETS / "beat.m4a")
    print("written:", *(p.name for p in sorted(ASSETS.iterdir())))
