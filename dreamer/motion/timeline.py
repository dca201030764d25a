"""Settings that change over a sequence: keyframes over frames or seconds, and audio that drives them.

A ``Timeline`` is pure: ``at(frame, fps, envelopes)`` gives a frame's ``FrameSettings``. Numbers (and
lists of numbers, element by element) are interpolated between the keyframes that set them,
linearly or smoothly (ease in and out); layers and channels are cross-faded: between two keyframes
the dream climbs both, weighted by how near each keyframe is. Before the first keyframe and after the
last, a setting holds its value. An audio ``Drive`` then adds ``low + (high − low) · envelope`` to a
setting, on top of its keyframed (or configured) value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Union

from dreamer.errors import ConfigError

Ease = Literal["linear", "smooth"]
Envelope = Literal["loudness", "onsets"]

NUMBERS = {
    "model.lr",
    "model.filters.grad_blur",
    "model.filters.image_blur",
    "model.jitter.roll",
    "model.jitter.rotate",
    "model.jitter.scale",
    "data.zoom",
    "data.rotate",
    "data.translate",
    "data.carry",
    "data.keep_colors",
}
CHOICES = {"model.layers", "model.channels"}  # cross-faded, not interpolated
ANIMATABLE = NUMBERS | CHOICES
DRIVABLE = NUMBERS - {"data.translate"}

_SECONDS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*s\s*$")


@dataclass(frozen=True)
class Drive:
    """An audio envelope (``loudness`` or ``onsets``, in [0, 1]) added to ``setting`` as
    ``low + (high − low) · envelope``."""

    setting: str
    envelope: Envelope
    low: float
    high: float


@dataclass(frozen=True)
class FrameSettings:
    """A frame's animated settings: ``values`` (numbers, lists of numbers, or for layers and
    channels the cross-fade ``[(weight, value), …]``) and what audio ``adds`` to numbers."""

    values: Mapping[str, Any] = field(default_factory=dict)
    adds: Mapping[str, float] = field(default_factory=dict)

    def number(self, key: str, base: float) -> float:
        """``key``'s value at this frame (``base`` where nothing animates it)."""
        return float(self.values.get(key, base)) + self.adds.get(key, 0.0)

    def pair(self, key: str, base: Sequence[float]) -> tuple[float, float]:
        x, y = self.values.get(key, base)
        return float(x), float(y)

    def under(self, prefix: str) -> tuple[dict[str, Any], dict[str, float]]:
        """The values and audio additions of the settings under ``prefix`` (``model``), without it:
        ``({"lr": 0.01, "jitter.roll": 12}, {"lr": 0.002})``."""
        start = prefix + "."

        def strip(items: Mapping[str, Any]) -> dict[str, Any]:
            return {key[len(start) :]: value for key, value in items.items() if key.startswith(start)}

        return strip(self.values), strip(self.adds)

    def __bool__(self) -> bool:
        return bool(self.values or self.adds)


def frame_of(time: Union[int, float, str], fps: float) -> float:
    """A keyframe's time as a frame number: ``120`` (a frame) or ``"2.5s"`` (seconds)."""
    if isinstance(time, bool):
        raise ConfigError(f"keyframes: {time!r} is not a frame number or a time such as '2.5s'")
    if isinstance(time, (int, float)):
        if time < 0:
            raise ConfigError(f"keyframes: frame {time} is negative")
        return float(time)
    match = _SECONDS.match(str(time))
    if match:
        return float(match.group(1)) * fps
    if str(time).strip().isdigit():
        return float(str(time).strip())
    raise ConfigError(f"keyframes: {time!r} is not a frame number or a time such as '2.5s'")


def eased(t: float, ease: Ease) -> float:
    return t * t * (3 - 2 * t) if ease == "smooth" else t


def _lerp(a: Any, b: Any, t: float) -> Any:
    if isinstance(a, (list, tuple)):
        return [_lerp(x, y, t) for x, y in zip(a, b)]
    return a + (b - a) * t


def _check_number(setting: str, value: Any) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if setting == "data.translate":
        ok = isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)
    if not ok:
        what = "a pair of numbers [dx, dy]" if setting == "data.translate" else "a number"
        raise ConfigError(f"keyframes: {setting} must be {what}, got {value!r}")


class Timeline:
    """Keyframes and audio drives of one run (see the module's docstring).

    Args:
        keyframes: ``{time: {setting: value}}``; a time is a frame number or seconds (``"2.5s"``),
            e.g. ``{0: {model.lr: 0.01, data.zoom: 1.02}, 120: {model.layers: 14, data.zoom: 1.05}}``.
            Numbers: model.lr, model.filters.grad_blur/image_blur, model.jitter.roll/rotate/scale,
            data.zoom, data.rotate, data.translate, data.carry, data.keep_colors; cross-faded:
            model.layers, model.channels (these then apply at every octave of a frame).
        ease: ``linear`` or ``smooth`` (ease in and out) between keyframes.
        audio: Settings that follow the audio (the video's own, or ``data.soundtrack``):
            ``[{setting: data.zoom, envelope: onsets, range: [0.0, 0.03]}]`` adds
            ``0.0 + 0.03 · envelope`` to the zoom at every frame; ``envelope`` is ``loudness`` or
            ``onsets`` (the beat: a pulse at each onset that falls away).

    Raises:
        ConfigError: a setting that cannot change over time, a time or value of the wrong kind.
    """

    def __init__(
        self,
        keyframes: Optional[Union[dict[Union[int, str], dict[str, Any]], str]] = None,
        ease: Ease = "linear",
        audio: Optional[list[dict[str, Any]]] = None,
    ) -> None:
        if ease not in ("linear", "smooth"):
            raise ConfigError(f"animation.ease must be 'linear' or 'smooth', got {ease!r}")
        self.ease, self.drives = ease, tuple(drives_of(audio))
        self.tracks: dict[str, list[tuple[Union[int, float, str], Any]]] = {}
        if isinstance(keyframes, str):  # what the parser could not read as a mapping
            raise ConfigError(
                f"animation.keyframes: expected {{time: {{setting: value}}}}, got {keyframes!r} "
                "(YAML wants a space after each colon: {0: {model.lr: 0.01}})"
            )
        for time, settings in (keyframes or {}).items():
            frame_of(time, 1.0)  # the time's form, checked before any work
            if not isinstance(settings, Mapping):
                raise ConfigError(f"keyframes: {time!r} must map settings to values, got {settings!r}")
            for setting, value in settings.items():
                if setting not in ANIMATABLE:
                    raise ConfigError(
                        f"keyframes: {setting!r} cannot change over time; these can: {', '.join(sorted(ANIMATABLE))}"
                    )
                if setting in NUMBERS:
                    _check_number(setting, value)
                self.tracks.setdefault(setting, []).append((time, value))
        for drive in self.drives:
            if drive.setting not in DRIVABLE:
                raise ConfigError(
                    f"animation.audio: {drive.setting!r} cannot follow the audio; these can: "
                    f"{', '.join(sorted(DRIVABLE))}"
                )

    def __bool__(self) -> bool:
        return bool(self.tracks or self.drives)

    @property
    def of_model(self) -> bool:
        """Whether the timeline changes model settings (then ``Retune`` applies them at each frame)."""
        return any(setting.startswith("model.") for setting in self.settings)

    @property
    def settings(self) -> set[str]:
        """Every setting this timeline changes."""
        return set(self.tracks) | {drive.setting for drive in self.drives}

    def at(self, frame: int, fps: float, envelopes: Optional[Mapping[str, Sequence[float]]] = None) -> FrameSettings:
        """The settings of ``frame`` of a sequence at ``fps`` frames per second; ``envelopes`` give
        each audio envelope's value per frame (frames past their end take 0)."""
        values: dict[str, Any] = {}
        for setting, track in self.tracks.items():
            points = sorted(((frame_of(time, fps), value) for time, value in track), key=lambda p: p[0])
            values[setting] = self._value(setting, points, frame)
        adds: dict[str, float] = {}
        for drive in self.drives:
            series = (envelopes or {}).get(drive.envelope, ())
            level = float(series[frame]) if frame < len(series) else 0.0
            adds[drive.setting] = adds.get(drive.setting, 0.0) + drive.low + (drive.high - drive.low) * level
        return FrameSettings(values, adds)

    def _value(self, setting: str, points: list[tuple[float, Any]], frame: int) -> Any:
        later = next((i for i, (time, _) in enumerate(points) if time > frame), len(points))
        if later == 0 or later == len(points):
            value = points[0][1] if later == 0 else points[-1][1]
            return [(1.0, value)] if setting in CHOICES else value
        (t0, v0), (t1, v1) = points[later - 1], points[later]
        t = eased((frame - t0) / (t1 - t0), self.ease) if not math.isclose(t1, t0) else 1.0
        if setting in CHOICES:
            terms = [(1.0 - t, v0), (t, v1)] if v0 != v1 else [(1.0, v0)]
            return [(weight, value) for weight, value in terms if weight > 0]
        return _lerp(v0, v1, t)


def drives_of(audio: Optional[Sequence[Mapping[str, Any]]]) -> list[Drive]:
    """``animation.audio`` entries ``{setting, envelope, range: [low, high]}`` → drives.

    Raises:
        ConfigError: an entry without its setting, an unknown envelope, a range that is not two numbers.
    """
    drives = []
    for entry in audio or []:
        if not isinstance(entry, Mapping) or "setting" not in entry:
            raise ConfigError(f"animation.audio: each entry needs a setting, got {entry!r}")
        envelope = entry.get("envelope", "onsets")
        if envelope not in ("loudness", "onsets"):
            raise ConfigError(f"animation.audio: envelope must be 'loudness' or 'onsets', got {envelope!r}")
        span = entry.get("range")
        if not (isinstance(span, (list, tuple)) and len(span) == 2 and all(isinstance(v, (int, float)) for v in span)):
            raise ConfigError(f"animation.audio: {entry['setting']}: range must be [low, high], got {span!r}")
        unknown = set(entry) - {"setting", "envelope", "range"}
        if unknown:
            raise ConfigError(f"animation.audio: unknown key(s) {sorted(unknown)}; give setting, envelope, range")
        drives.append(Drive(str(entry["setting"]), envelope, float(span[0]), float(span[1])))
    return drives


def fading_layers(keyframes: Any) -> Optional[list[Any]]:
    """The layer entries the model must be able to climb at once for ``keyframes``' cross-fades:
    each keyframed ``model.layers`` value, and each neighbouring pair joined (``None``: none)."""

    def as_list(value: Any) -> list[Any]:
        return list(value) if isinstance(value, list) else [value]

    if not isinstance(keyframes, Mapping):
        return None  # none, or text the parser could not read (``Timeline`` says so in one line)
    track = [
        settings["model.layers"]
        for _, settings in sorted(keyframes.items(), key=lambda kv: frame_of(kv[0], 1.0))
        if isinstance(settings, Mapping) and "model.layers" in settings
    ]
    if not track:
        return None
    pairs = [as_list(a) + [x for x in as_list(b) if x not in as_list(a)] for a, b in zip(track, track[1:])]
    return [as_list(value) for value in track] + pairs
