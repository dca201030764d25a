"""What an objective is made of at one layer: DeepDream's whole layer, channels, neurons, directions
(a file's vector, or where a photo's activations point), a caricature of the start photo, and
Lucid's diversity between the images of a batch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from dreamer.engine.climb.objectives import (
    VECTOR_SUFFIXES,
    Objective,
    Term,
    activation_objective,
    caricature_objective,
    class_number,
    diversity_penalty,
    load_direction,
    parse_objective,
    term_objective,
)
from dreamer.errors import ConfigError, ImageError
from dreamer.files.imageio import open_photo, to_tensor

Look = Callable[[Tensor], dict[str, Tensor]]  # a picture's activations at the layers being climbed


class Terms:
    """``model.objective`` parsed (``objectives.parse_objective``) and ``model.diversity``, with what
    the terms refer to: direction vectors (a file's, read before any dreaming; a photo's, on first
    use) and a caricature's references (the start photo's activations at this level).

    Raises:
        ConfigError: a terms text that does not parse, or a negative diversity.
    """

    def __init__(self, kind: Objective, diversity: float) -> None:
        if diversity < 0:
            raise ConfigError(f"model.diversity must be >= 0, got {diversity}")
        self.terms: list[Term] = parse_objective(kind)
        self.diversity = diversity
        self.plain = all(term.plain for term in self.terms)  # whole layers or channels only
        self.caricature = any(term.kind == "caricature" for term in self.terms)
        self.classes = any(term.kind == "class" for term in self.terms)
        self.own_class = any(term.kind == "class" and term.channel is term.label is None for term in self.terms)
        self.prompts = [term for term in self.terms if term.kind == "text"]  # climbed through a text tower
        self.embedded: dict[str, Tensor] = {}  # prompt → its unit text embedding
        self.output: Optional[str] = None  # the network's output, where class terms are climbed
        self.categories: tuple[str, ...] = ()  # the names of its classes, where the weights carry them
        self.references: dict[str, Tensor] = {}
        self.directions: dict[tuple[Path, str], Tensor] = {}

    def name_classes(self, output: str, categories: Optional[Sequence[str]]) -> None:
        """Climb class terms at ``output``, their names found among ``categories`` (the weights' classes).

        Raises:
            ConfigError: a class named where the weights carry no names, or a name none or several match.
        """
        self.output, self.categories = output, tuple(categories or ())
        named = []
        for term in self.terms:
            if term.kind == "class" and term.label is not None:
                if not categories:
                    raise ConfigError(
                        f"model.objective: class {term.label!r}: these weights carry no class names; give its number"
                    )
                term = replace(term, channel=class_number(term.label, categories))
            named.append(term)
        self.terms = named

    def check(self, widths: dict[str, int]) -> None:
        """Channels and direction files fit every layer of ``widths`` (its channels), before any dreaming.

        Raises:
            ConfigError: a channel past a layer's width, or a direction file of another length.
        """
        for name, width in widths.items():
            for term in self.terms:
                if (term.kind == "class") != (name == self.output):
                    continue  # class terms are climbed at the output, the others at the scheduled layers
                if term.kind == "class" and term.channel is not None and term.channel >= width:
                    raise ConfigError(f"model.objective: class {term.channel} is past the network's {width} classes")
                if term.channel is not None and term.channel >= width:
                    raise ConfigError(f"model.objective: channel {term.channel} is past {name}'s {width} channels")
                if term.source is not None and term.source.suffix.lower() in VECTOR_SUFFIXES:
                    vector = load_direction(term.source)
                    if len(vector) != width:
                        raise ConfigError(
                            f"model.objective: {term.source} has {len(vector)} numbers but {name} has {width} channels"
                        )
                    self.directions[term.source, name] = vector / vector.norm().clamp_min(1e-12)

    def embed(self, embed: Callable[[list[str]], Tensor]) -> None:
        """The prompts' text embeddings, once (``embed``: the network's text tower)."""
        missing = [term.label for term in self.prompts if term.label not in self.embedded]
        if missing:
            for prompt, vector in zip(missing, embed([str(prompt) for prompt in missing])):
                self.embedded[str(prompt)] = vector

    def text_value(self, embeddings: Tensor, views: int) -> Tensor:
        """Per-image ``[B]``: the prompts' weighted cosines with the pictures' image embeddings
        (``[views·B, D]``, view-major), averaged over the views.

        Raises:
            ConfigError: image and text embeddings of different widths.
        """
        pictures = F.normalize(embeddings.float().flatten(1), dim=-1)
        total = pictures.new_zeros(pictures.shape[0])
        for term in self.prompts:
            prompt = self.embedded[str(term.label)].to(pictures.device)
            if prompt.shape[-1] != pictures.shape[-1]:
                raise ConfigError(
                    f"model.objective: the text tower's embeddings have {prompt.shape[-1]} numbers, the image "
                    f"tower's {pictures.shape[-1]}: they are not one space"
                )
            total = total + term.weight * (pictures @ prompt)
        return total.view(views, -1).mean(dim=0)

    def refer(self, references: dict[str, Tensor]) -> None:
        """What a caricature accentuates from now on: the start photos' activations, by layer."""
        self.references = {name: value.detach() for name, value in references.items()}

    def value(
        self,
        activation: Tensor,
        layer: str,
        channels: Optional[Sequence[int]],
        image_channels: Optional[Sequence[int]],
        look: Look,
    ) -> Tensor:
        """The objective's per-image value ``[B]`` at one layer's ``activation``; ``look`` gives a
        photo's activations (for a ``direction`` of a photo)."""
        total: Optional[Tensor] = None
        for term in self.terms:
            if term.kind == "text" or (term.kind == "class") != (layer == self.output):
                continue  # class terms are climbed at the output, text terms on views, the others here
            if term.plain:  # with a bare class, the batch's numbers are classes, not this layer's channels
                own = None if self.own_class else image_channels
                value = activation_objective(activation, channels, term.kind, own)
            elif term.kind == "caricature":
                value = caricature_objective(activation, self.references[layer])
            else:
                direction = self._direction(term, layer, look, activation.device) if term.source else None
                value = term_objective(term, activation, direction, image_channels)
            total = term.weight * value if total is None else total + term.weight * value
        if total is None:  # the output, climbed for class terms only, is also a scheduled layer
            total = activation.new_zeros(activation.shape[0], dtype=torch.float32)
        if self.diversity and layer != self.output:
            total = total - self.diversity * diversity_penalty(activation, image_channels)
        return total

    def _direction(self, term: Term, layer: str, look: Look, device: torch.device) -> Tensor:
        """The unit direction of a ``direction`` term at ``layer``: its file's vector, or where the
        photo's activations point (their mean over positions)."""
        assert term.source is not None
        if (term.source, layer) not in self.directions:
            try:
                photo, _ = open_photo(term.source)
            except ImageError as error:
                raise ConfigError(f"model.objective: {error}") from None
            photo.thumbnail((448, 448))
            with torch.no_grad():
                activation = look(to_tensor(photo)[None].to(device))[layer]
            vector = activation.float().mean(dim=(0, 2, 3)).cpu()
            self.directions[term.source, layer] = vector / vector.norm().clamp_min(1e-12)
        return self.directions[term.source, layer]
