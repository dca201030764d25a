"""Video files with PyAV (FFmpeg inside its wheel): probing, streamed decoding, atomic H.264 encoding."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Optional

import av
import cv2
import numpy as np
from PIL import Image

from dreamer.errors import ImageError
from dreamer.files.outputs import atomic_path

VIDEO_SUFFIXES = {
    ".mp4",
    ".m4v",
    ".mov",
    ".mkv",
    ".webm",
    ".avi",
    ".mpg",
    ".mpeg",
    ".ts",
    ".mts",
    ".m2ts",
    ".flv",
    ".wmv",
    ".ogv",
    ".3gp",
    ".gif",
}
_MP4_AUDIO = {"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac"}  # audio codecs MP4 can hold as they are


def is_video(path: Path) -> bool:
    """Whether ``path`` is a video by its name."""
    return not path.name.startswith(".") and path.suffix.lower() in VIDEO_SUFFIXES


class VideoError(ImageError):
    """A video that cannot be read; the message names the file and what is wrong."""


@dataclass(frozen=True)
class VideoInfo:
    """What the header and a pass over the packets say about a video's picture stream."""

    frames: int  # packets that carry a picture: the frames a decode will give
    expected: int  # frames the header promises (0 when it does not say)
    fps: Fraction
    size: tuple[int, int]  # (height, width) as displayed, after the rotation
    rotation: int  # counter-clockwise degrees a player turns the stored picture by (0, 90, 180, 270)
    audio: bool
    damaged: bool = False  # fewer frames decode than the header promises, or the stream breaks off


def _error(path: Path, error: Exception) -> VideoError:
    return VideoError(f"{path}: {type(error).__name__}: {error}".replace(f": '{path}'", ""))


def probe(path: Path) -> VideoInfo:
    """Read ``path``'s header, count its picture packets and decode its first frame (which proves the
    codec is supported and gives the rotation). Any problem is a ``VideoError`` naming the file."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"{path}: has no video stream")
            stream = container.streams.video[0]
            fps = stream.average_rate or stream.guessed_rate or stream.base_rate
            if not fps:
                raise VideoError(f"{path}: its video stream has no frame rate")
            expected = stream.frames or (round(container.duration * fps / av.time_base) if container.duration else 0)
            audio = bool(container.streams.audio)
            frames, cut = 0, False
            try:
                for packet in container.demux(stream):
                    frames += bool(packet.size)
            except av.error.FFmpegError:
                cut = True  # damaged after some packets: what decodes before it is counted below
        if frames == 0:
            raise VideoError(f"{path}: has no frames")
        with av.open(str(path)) as container:
            first = next(container.decode(video=0), None)
        if first is None:
            raise VideoError(f"{path}: no frame could be decoded")
        damaged = cut or expected > frames + 1
        if damaged:  # the frames to dream are those that decode, not the packets
            frames = decodable_frames(path)
    except VideoError:
        raise
    except av.error.FileNotFoundError:
        raise VideoError(f"{path}: file not found") from None
    except (av.error.InvalidDataError, av.error.EOFError) as error:
        raise VideoError(f"{path}: not a video FFmpeg can read ({error.strerror})") from None
    except av.error.DecoderNotFoundError:
        raise VideoError(f"{path}: its video codec is not supported by this FFmpeg") from None
    except (av.error.FFmpegError, ValueError, OSError) as error:
        raise _error(path, error) from None
    rotation = round(first.rotation or 0) % 360
    height, width = (first.width, first.height) if rotation in (90, 270) else (first.height, first.width)
    return VideoInfo(frames, expected, Fraction(fps), (height, width), rotation, audio, damaged)


def decodable_frames(path: Path) -> int:
    """How many frames of ``path`` decode, up to the first damage."""
    count = 0
    try:
        with av.open(str(path)) as container:
            for _ in container.decode(video=0):
                count += 1
    except av.error.FFmpegError:
        pass
    return count


def upright(frame: np.ndarray, rotation: int) -> np.ndarray:
    """The stored picture ``[H, W, C]`` turned as a player shows it (``rotation`` counter-clockwise)."""
    return np.ascontiguousarray(np.rot90(frame, k=rotation // 90)) if rotation else frame


def read_frames(path: Path, size: Optional[tuple[int, int]] = None) -> Iterator[np.ndarray]:
    """Decode ``path`` one frame at a time: upright RGB ``uint8 [H, W, 3]``, resized to ``size``
    (height, width) when given. Memory holds a frame or two, however long the video.

    A damaged stream raises ``VideoError`` naming the file and the frame, after every frame before the
    damage has been given."""
    index = 0
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                picture = upright(frame.to_ndarray(format="rgb24"), round(frame.rotation or 0) % 360)
                if size is not None and picture.shape[:2] != tuple(size):
                    picture = cv2.resize(picture, (size[1], size[0]), interpolation=cv2.INTER_AREA)
                yield picture
                index += 1
    except av.error.FFmpegError as error:
        raise VideoError(f"{path}: damaged stream at frame {index + 1} ({error.strerror})") from None


def even(frame: np.ndarray) -> np.ndarray:
    """H.264 in yuv420p needs even sides: repeat the last row/column where a side is odd (the
    picture is never scaled, so nothing is distorted)."""
    height, width = frame.shape[:2]
    return np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge") if height % 2 or width % 2 else frame


def encode_video(
    frames: Iterable[np.ndarray],
    target: Path,
    fps: Fraction,
    audio_from: Optional[Path] = None,
    crf: int = 18,
    recipe: Optional[str] = None,
) -> None:
    """Write ``frames`` (RGB ``uint8``, one size) as an H.264 (yuv420p) MP4 that plays in a browser,
    at ``fps``, with the audio of ``audio_from`` copied as it is (re-encoded to AAC only where MP4
    cannot hold it).

    Written under a temporary name and renamed: a failed encode leaves no file at ``target``."""
    pictures = iter(frames)
    first = next(pictures, None)
    if first is None:
        raise ValueError(f"{target}: no frames to encode")
    with ExitStack() as stack:
        temporary = stack.enter_context(atomic_path(target))
        output = stack.enter_context(av.open(str(temporary), "w", format="mp4", options={"movflags": "+faststart"}))
        if recipe is not None:
            output.metadata["comment"] = recipe  # the recipe inside (``files.recipes``)
        video = output.add_stream("libx264", rate=fps, options={"crf": str(crf), "preset": "fast"})
        video.height, video.width = even(first).shape[:2]
        video.pix_fmt = "yuv420p"
        audio = _audio_track(output, stack.enter_context(av.open(str(audio_from)))) if audio_from else None
        for index, frame in enumerate(itertools.chain([first], pictures)):  # every stream exists before the first mux
            picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(even(frame)), format="rgb24")
            picture.pts = index
            output.mux(video.encode(picture))
        output.mux(video.encode())
        if audio is not None:
            audio()


def _audio_track(
    output: av.container.OutputContainer, source: av.container.InputContainer
) -> Optional[Callable[[], None]]:
    """Add ``source``'s first audio stream to ``output``: copied as it is where MP4 can hold its codec,
    else re-encoded to AAC. Returns the function that writes its packets, or ``None`` without audio."""
    if not source.streams.audio:
        return None
    audio = source.streams.audio[0]
    if audio.codec_context.name in _MP4_AUDIO:
        copy = output.add_stream_from_template(audio)

        def write_copy() -> None:
            for packet in source.demux(audio):
                if packet.dts is not None:
                    packet.stream = copy
                    output.mux(packet)

        return write_copy
    aac = output.add_stream("aac", rate=audio.codec_context.sample_rate or 48000)
    aac.layout = "stereo" if audio.codec_context.layout.nb_channels > 1 else "mono"

    def write_aac() -> None:
        for frame in source.decode(audio):
            frame.pts = None
            output.mux(aac.encode(frame))
        output.mux(aac.encode())

    return write_aac


def encode_gif(frames: Iterable[np.ndarray], target: Path, fps: Fraction, recipe: Optional[str] = None) -> None:
    """Write ``frames`` as a looping GIF (Pillow, adaptive palette per frame), atomically; ``recipe`` in its comment."""
    pictures = (Image.fromarray(frame).quantize(colors=255, method=Image.Quantize.MEDIANCUT) for frame in frames)
    first = next(pictures)
    with atomic_path(target) as temporary:
        extra = {"comment": recipe.encode("utf-8")} if recipe is not None else {}
        first.save(
            temporary, format="GIF", save_all=True, append_images=pictures, duration=round(1000 / fps), loop=0, **extra
        )
