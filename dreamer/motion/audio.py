"""Audio envelopes, one value in [0, 1] per video frame: loudness and onset strength (the beat).

The audio is decoded with PyAV, mixed to mono at ``RATE`` Hz; the envelopes are plain numpy.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from dreamer.errors import ConfigError

RATE = 22050
WINDOW, HOP = 1024, 256  # the onset detector's spectrum: 46 ms windows every 12 ms
LOUDNESS_RANGE_DB = 40.0  # loudness 0 lies this far below the loudest frame
ONSET_HALF_LIFE = 0.1  # seconds for an onset's pulse to fall to half


def read_audio(path: Path) -> np.ndarray:
    """The first audio stream of ``path`` as mono ``float32`` samples at ``RATE`` Hz.

    Raises:
        ConfigError: no audio stream, or one that cannot be decoded (one line naming the file).
    """
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise ConfigError(f"{path}: has no audio to follow")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
            pieces = [
                converted.to_ndarray().reshape(-1)
                for frame in container.decode(audio=0)
                for converted in resampler.resample(frame)
            ]
            pieces += [converted.to_ndarray().reshape(-1) for converted in resampler.resample(None)]
    except ConfigError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as error:
        raise ConfigError(f"{path}: its audio cannot be decoded ({error})") from None
    return np.concatenate(pieces).astype(np.float32) if pieces else np.zeros(0, np.float32)


def check_audio(path: Path, setting: str) -> None:
    """One line (``ConfigError``) unless ``path`` opens and has an audio stream."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise ConfigError(f"{setting}: {path}: has no audio stream")
    except (av.error.FFmpegError, OSError) as error:
        raise ConfigError(f"{setting}: {path}: not an audio or video file FFmpeg can read ({error})") from None


def _per_frame(values: np.ndarray, times: np.ndarray, fps: float, frames: int) -> np.ndarray:
    """The largest of ``values`` (at ``times`` seconds) within each frame's time."""
    result = np.zeros(frames, np.float32)
    index = np.floor(times * fps).astype(np.int64)
    inside = (index >= 0) & (index < frames)
    np.maximum.at(result, index[inside], values[inside])
    return result


def loudness(samples: np.ndarray, fps: float, frames: int) -> np.ndarray:
    """RMS level of each frame's stretch of audio in dB, mapped so that the loudest frame is 1 and
    ``LOUDNESS_RANGE_DB`` below it (or silence) is 0."""
    per_frame = max(1, round(RATE / fps))
    level = np.zeros(frames, np.float32)
    for frame in range(frames):
        piece = samples[frame * per_frame : (frame + 1) * per_frame]
        if piece.size:
            level[frame] = np.sqrt(np.mean(np.square(piece, dtype=np.float64)))
    decibels = 20 * np.log10(np.maximum(level, 1e-6))
    top = decibels.max(initial=-120.0)
    return np.clip((decibels - (top - LOUDNESS_RANGE_DB)) / LOUDNESS_RANGE_DB, 0, 1).astype(np.float32)


def onset_strength(samples: np.ndarray, fps: float, frames: int) -> np.ndarray:
    """Spectral flux (the rise of log-magnitude spectra, summed over frequencies), the strongest in
    each frame, normalised by the 99th percentile and held with a decay of ``ONSET_HALF_LIFE``, so
    that each beat is a pulse that falls away."""
    if samples.size < WINDOW:
        return np.zeros(frames, np.float32)
    count = 1 + (samples.size - WINDOW) // HOP
    windows = np.lib.stride_tricks.as_strided(
        samples, shape=(count, WINDOW), strides=(samples.strides[0] * HOP, samples.strides[0])
    )
    spectra = np.log1p(100 * np.abs(np.fft.rfft(windows * np.hanning(WINDOW).astype(np.float32), axis=1)))
    flux = np.concatenate([[0.0], np.maximum(np.diff(spectra, axis=0), 0).sum(axis=1)])
    times = (np.arange(count) * HOP + WINDOW) / RATE  # a rise is heard once the window's end reaches it
    strength = _per_frame(flux.astype(np.float32), times, fps, frames)
    scale = np.percentile(strength, 99) if strength.any() else 1.0
    strength = np.clip(strength / max(scale, 1e-9), 0, 1)
    decay = 0.5 ** (1 / max(ONSET_HALF_LIFE * fps, 1e-9))
    held = np.zeros_like(strength)
    for frame in range(frames):
        held[frame] = max(strength[frame], held[frame - 1] * decay if frame else 0.0)
    return held.astype(np.float32)


def envelopes(path: Path, fps: float, frames: int) -> dict[str, np.ndarray]:
    """Both envelopes of ``path``'s audio for ``frames`` frames at ``fps``."""
    samples = read_audio(path)
    return {"loudness": loudness(samples, fps, frames), "onsets": onset_strength(samples, fps, frames)}
