"""Objectives: how strongly an image excites chosen activations, one number per image; the terms an
objective is made of (channels, neurons, directions, a caricature, DeepDream's whole layer) and
Lucid's diversity penalty between images of a batch."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

import numpy as np
import torch
from torch import Tensor

from dreamer.errors import ConfigError

Objective = str  # ``mean_square``, ``mean`` or weighted terms (``parse_objective``)


def activation_objective(
    activation: Tensor,
    channels: Optional[Sequence[int]] = None,
    kind: Objective = "mean_square",
    image_channels: Optional[Sequence[int]] = None,
) -> Tensor:
    """Per-image objective of one activation ``[B, C, …]`` → ``[B]``.

    ``mean_square`` (DeepDream's L2 objective) averages the squared activation, ``mean`` the raw one.
    ``channels`` restricts the average to those channels; ``image_channels`` gives each image its own
    one channel instead (a channel atlas: image ``b`` dreams of channel ``image_channels[b]``). Each
    image's value depends only on that image, so a batch dreams exactly as its images would alone.
    """
    if kind not in ("mean_square", "mean"):
        raise ConfigError(f"Unknown objective {kind!r}; use 'mean_square' or 'mean'")
    width = activation.shape[1]
    if image_channels is not None:
        if len(image_channels) != activation.shape[0] or not all(0 <= c < width for c in image_channels):
            raise ConfigError(
                f"channels {list(image_channels)} do not fit a batch of {activation.shape[0]} "
                f"images of a layer with {width} channels"
            )
        activation = activation[torch.arange(activation.shape[0]), list(image_channels)].unsqueeze(1)
    elif channels is not None:
        if not channels:
            raise ConfigError("channels must name at least one channel")
        if max(channels) >= width or min(channels) < -width:
            raise ConfigError(f"channels {list(channels)} out of range for a layer with {width} channels")
        activation = activation[:, list(channels)]
    activation = activation.float()  # reduce in fp32 under mixed precision
    values = activation.square() if kind == "mean_square" else activation
    return values.flatten(1).mean(dim=1)


TermKind = Literal["mean_square", "mean", "channel", "neuron", "direction", "caricature", "class", "text"]
_TERM = re.compile(
    r"\s*(?P<sign>[+-])?\s*(?P<weight>\d+(?:\.\d*)?(?:e-?\d+)?|\.\d+)?\s*\*?\s*"
    r"(?P<kind>mean_square|mean|channel|neuron|direction|caricature|class|text)\b"
    r"(?:\s+(?P<number>\d+)(?:\s*@\s*(?P<y>[\d.]+)\s*,\s*(?P<x>[\d.]+))?"
    r"|\s+(?P<quoted>'[^']+'|\"[^\"]+\")|\s+(?P<source>[^\s+]+))?"
)
VECTOR_SUFFIXES = (".npy", ".pt", ".txt", ".csv")


@dataclass(frozen=True)
class Term:
    """One weighted piece of an objective (``parse_objective``)."""

    weight: float
    kind: TermKind
    channel: Optional[int] = None  # channel, neuron
    at: Optional[tuple[float, float]] = None  # neuron: (row, column) as fractions of the map; None: centre
    source: Optional[Path] = None  # direction: a vector file, or a photo whose activations point the way
    label: Optional[str] = None  # class: a class by name, found among the weights' categories; text: the prompt

    @property
    def plain(self) -> bool:
        """DeepDream's whole-layer objective (the ``channels`` setting applies)."""
        return self.kind in ("mean_square", "mean")


def parse_objective(text: str) -> list[Term]:
    """``mean_square``, ``mean``, or weighted terms joined by ``+``/``-``: ``channel 7 - channel 12``,
    ``neuron 7`` (the centre of the map) or ``neuron 7@0.25,0.5`` (row, column as fractions),
    ``direction vector.npy`` (or a photo), ``caricature``, ``class 207`` or ``class 'tiger shark'``
    (the network's output logit for that class; a bare ``class``: each picture's own class, which
    the classes data gives), ``text 'a city of glass'`` (a CLIP-like network's cosine between the
    picture and the prompt), ``2*channel 3 + 0.5 mean``.

    Raises:
        ConfigError: text that is none of these, naming the first part that is not understood.
    """
    terms: list[Term] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TERM.match(text, position)
        if match is None or (terms and not match["sign"]):
            rest = text[position:].strip()
            raise ConfigError(
                f"model.objective: cannot read {rest!r}; write terms like 'channel 7 - channel 12', 'neuron 7', "
                "'direction vector.npy', 'caricature', 'class 207', \"text 'a city'\", 'mean_square' or 'mean', "
                "joined by + or -"
            )
        kind = match["kind"]
        if kind == "text":
            prompt = match["quoted"][1:-1].strip() if match["quoted"] else ""
            if not prompt:
                raise ConfigError(
                    f"model.objective: {match.group(0).strip()!r}: text takes a prompt in quotes, not empty: "
                    "text 'a city of glass'"
                )
            weight = float(match["weight"] or 1) * (-1 if match["sign"] == "-" else 1)
            terms.append(Term(weight, "text", label=prompt))
            position = match.end()
            continue
        if kind == "class":
            both = match["number"] is not None and match["quoted"] is not None
            if both or match["y"] is not None or match["source"] is not None:
                raise ConfigError(
                    f"model.objective: 'class' takes a class number or a quoted name: {match.group(0).strip()!r}"
                )
            weight = float(match["weight"] or 1) * (-1 if match["sign"] == "-" else 1)
            number = int(match["number"]) if match["number"] is not None else None
            label = match["quoted"][1:-1] if match["quoted"] else None
            terms.append(Term(weight, "class", number, label=label))
            position = match.end()
            continue
        if match["quoted"] is not None:
            raise ConfigError(f"model.objective: {kind!r} takes no name: {match.group(0).strip()!r}")
        needs_number, needs_source = kind in ("channel", "neuron"), kind == "direction"
        if needs_number != (match["number"] is not None) or needs_source != (match["source"] is not None):
            what = "a channel number" if needs_number else "a vector file or photo" if needs_source else "nothing"
            raise ConfigError(f"model.objective: {kind!r} takes {what}: {match.group(0).strip()!r}")
        at = (float(match["y"]), float(match["x"])) if match["y"] is not None else None
        if at is not None and not all(0 <= value <= 1 for value in at):
            raise ConfigError(f"model.objective: a neuron's position is (row, column) within [0, 1], got {at}")
        weight = float(match["weight"] or 1) * (-1 if match["sign"] == "-" else 1)
        source = Path(match["source"]).expanduser() if match["source"] else None
        if source is not None and not source.is_file():
            raise ConfigError(f"model.objective: {source} does not exist")
        number = int(match["number"]) if match["number"] is not None else None
        terms.append(Term(weight, kind, number, at, source))  # type: ignore[arg-type]
        position = match.end()
    if not terms:
        raise ConfigError("model.objective is empty")
    return terms


def direction_sources(text: str) -> list[str]:
    """The files ``text``'s direction terms read, as written (``direction v.npy`` → ``v.npy``)."""
    return [match["source"] for match in _TERM.finditer(text) if match["kind"] == "direction" and match["source"]]


def load_direction(path: Path) -> Tensor:
    """A direction vector ``[C]`` from ``.npy``, ``.pt`` or a text file of numbers."""
    try:
        if path.suffix.lower() == ".npy":
            values = torch.from_numpy(np.load(path, allow_pickle=False))
        elif path.suffix.lower() == ".pt":
            values = torch.load(path, map_location="cpu", weights_only=True)
        else:
            values = torch.from_numpy(np.loadtxt(path, delimiter="," if path.suffix.lower() == ".csv" else None))
    except (OSError, ValueError, RuntimeError) as error:
        raise ConfigError(f"model.objective: {path}: not a vector of numbers ({error})") from None
    if not isinstance(values, Tensor) or values.dim() != 1 or not torch.isfinite(values).all():
        raise ConfigError(f"model.objective: {path}: a direction must be one row of finite numbers")
    return values.float()


def term_objective(
    term: Term, activation: Tensor, direction: Optional[Tensor] = None, own: Optional[Sequence[int]] = None
) -> Tensor:
    """Per-image value ``[B]`` of one non-plain ``term`` at ``activation`` ``[B, C, h, w]``, unweighted
    (``direction``: the unit vector of a direction term; ``own``: each picture's class, for a bare class)."""
    activation = activation.float()
    if term.kind in ("channel", "class"):  # a class: its logit (a channel of the output)
        if term.channel is None:  # a bare class: each picture's own
            if own is None:
                raise ConfigError("model.objective: a bare 'class' climbs each picture's own class; name one")
            return activation[torch.arange(activation.shape[0]), list(own)].reshape(activation.shape[0], -1).mean(1)
        return activation[:, term.channel].reshape(activation.shape[0], -1).mean(dim=1)
    if term.kind == "neuron":
        height, width = activation.shape[-2:]
        row, column = term.at if term.at is not None else (0.5, 0.5)
        return activation[:, term.channel, round(row * (height - 1)), round(column * (width - 1))]
    if term.kind == "direction":
        assert direction is not None
        return torch.einsum("bchw,c->bhw", activation, direction.to(activation.device)).flatten(1).mean(dim=1)
    raise ValueError(f"{term.kind} is not a per-image term")


def caricature_objective(activation: Tensor, reference: Tensor) -> Tensor:
    """Per-image ``[B]``: how far ``activation`` goes along its own ``reference`` activation (the
    start photo's), position by position, times the cosine between them (Lucid's caricature
    ``dot_compare``, cosine power 1): more of what the network saw there, and nothing else."""
    height, width = min(activation.shape[-2], reference.shape[-2]), min(activation.shape[-1], reference.shape[-1])
    a = centre_crop(activation.float(), height, width).flatten(1)
    r = centre_crop(reference.float(), height, width).flatten(1)
    length = r.norm(dim=1).clamp_min(1e-6)
    along = (a * r).sum(dim=1) / length
    cosine = along / a.norm(dim=1).clamp_min(1e-6)
    return along * cosine.clamp_min(0) / a.shape[1] ** 0.5


def centre_crop(maps: Tensor, height: int, width: int) -> Tensor:
    """The central ``height × width`` of ``[B, C, H, W]`` (a padded image's map is larger)."""
    top, left = (maps.shape[-2] - height) // 2, (maps.shape[-1] - width) // 2
    return maps[..., top : top + height, left : left + width]


def diversity_penalty(activation: Tensor, groups: Optional[Sequence[int]] = None) -> Tensor:
    """Per-image ``[B]``: the summed cosine similarity of the image's Gram matrix with those of the
    other images of its group (``groups``: a label per image, e.g. its channel; ``None``: one
    group), divided by the batch size; summed over the batch it is Lucid's ``diversity``."""
    features = activation.float().flatten(2)  # [B, C, N]
    grams = torch.einsum("bcn,bdn->bcd", features, features).flatten(1)
    grams = grams / grams.norm(dim=1, keepdim=True).clamp_min(1e-10)
    similarity = grams @ grams.t()
    labels = torch.tensor(list(groups) if groups is not None else [0] * len(grams), device=grams.device)
    others = (labels[:, None] == labels[None, :]) & ~torch.eye(len(grams), dtype=torch.bool, device=grams.device)
    return (similarity * others).sum(dim=1) / len(grams)


def class_number(label: str, categories: Sequence[str], setting: str = "model.objective") -> int:
    """The number of the class called ``label``: matched case-insensitively, exactly or by a unique prefix.

    Raises:
        ConfigError: no class of that name (the closest named), or several that it begins.
    """
    wanted = label.strip().lower()
    names = [name.lower() for name in categories]
    if wanted in names:
        return names.index(wanted)
    starting = [index for index, name in enumerate(names) if name.startswith(wanted)]
    if len(starting) == 1:
        return starting[0]
    if starting:
        listed = ", ".join(f"{categories[i]!r} ({i})" for i in starting[:8])
        raise ConfigError(f"{setting}: class {label!r} is ambiguous: {listed}")
    import difflib

    close = difflib.get_close_matches(wanted, names, n=4)
    hint = ", ".join(f"{categories[names.index(n)]!r}" for n in close) or "none"
    raise ConfigError(f"{setting}: no class {label!r} among the weights' {len(names)} classes; closest: {hint}")
