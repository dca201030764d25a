"""What a dream climbs: the scheduled layers' (or channels', or guides') activation, per image.

``DreamObjective`` puts together the pieces, each in a module of its own: the layer ``schedule``,
the objective's ``terms``, the guides (``guide``), keyframes' cross-fades (``fades``) and tiling."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional, Union

import torch
from torch import Tensor, nn

from dreamer.engine.climb.fades import CrossFade
from dreamer.engine.climb.guide import NO_GUIDE, Guide, Guides, guided_objectives
from dreamer.engine.climb.objectives import Objective
from dreamer.engine.climb.schedule import ChannelSchedule, LayerSchedule, Schedule, entry_list
from dreamer.engine.climb.terms import Terms
from dreamer.engine.climb.tiling import tiled_gradient, tiled_objective
from dreamer.engine.contract.batch import DreamBatch
from dreamer.engine.networks.clip import cutouts
from dreamer.engine.networks.extractor import Compile, LayerExtractor
from dreamer.engine.networks.network import Network
from dreamer.errors import ConfigError

TEXT_VIEWS = 8  # random views of a picture a text term is scored on, per step
TEXT_SIDE = 224  # their side, for a text tower that takes any size


class DreamObjective(nn.Module):
    """Per-image objective ``[B]`` of images ``[B, 3, H, W]`` at a step of their dream.

    The layer (and channel) ``schedule`` is stretched over a dream's levels (one entry per octave
    unless ``octaves.count`` is ``auto``). ``kind`` is DeepDream's whole-layer objective or a sum of
    terms (``objectives.parse_objective``), applied to each scheduled layer; ``diversity`` subtracts
    Lucid's diversity penalty. A batch may give each image its own channel (an atlas); with
    ``guide`` each position excites the guide's best-matching feature instead; keyframes may
    cross-fade layers and channels (``fades``, built into the extractor). Images longer than
    ``tile_size`` are measured tile by tile.

    Raises:
        ConfigError: layers or channels that do not fit the schedule or the network, or a guide
            that does not exist (``WeightsNotFoundError``: pretrained weights that are not here).
    """

    def __init__(
        self,
        network: Network,
        layers: LayerSchedule,
        channels: ChannelSchedule,
        kind: Objective,
        guide: Guide = NO_GUIDE,
        tile_size: Optional[int] = None,
        channels_last: bool = False,
        compile: Compile = False,
        fades: Sequence[Any] = (),
        diversity: float = 0.0,
    ) -> None:
        super().__init__()
        if tile_size is not None and tile_size < 16:
            raise ConfigError(f"model.tile_size must be at least 16 px, got {tile_size}")
        if guide.image is not None and channels is not None:
            raise ConfigError("model.guide and model.channels both choose what to excite; set one of them")
        self.terms = Terms(kind, diversity)
        if guide.image is not None and not self.terms.plain:
            raise ConfigError("model.guide and model.objective terms both choose what to excite; set one of them")
        if tile_size is not None and (self.terms.caricature or diversity):
            raise ConfigError(
                "model.tile_size: a caricature and the diversity term compare whole images; unset model.tile_size"
            )
        self.tile_size = tile_size
        self.guides = Guides(guide.image, guide.side) if guide.image is not None else None
        self.text = network.text if self.terms.prompts else None
        if self.terms.prompts and self.text is None:
            raise ConfigError(
                f"model.objective: a text term reads a prompt through a text tower, which {network.name} has not: "
                "use a CLIP-like network (clip:<open_clip model>/<pretrained tag>, or a model of yours with "
                "encode_image, encode_text and tokenize)"
            )
        self.views, self.view_side = TEXT_VIEWS, network.size or TEXT_SIDE
        self.generator = torch.Generator().manual_seed(0)  # where the views are cut: the same on every run
        if self.terms.classes or self.terms.prompts:  # both climb the network's output, whatever model.layers says
            output = self.terms.output = network.output
            if self.terms.classes:
                self.terms.name_classes(output, network.categories)
            only = all(term.kind in ("class", "text") for term in self.terms.terms)
            self.schedule = Schedule(network.layer, output if only else layers, None if only else channels)
            if self.terms.classes:  # the output beside each entry's layers (text terms see views instead)
                self.schedule.layers = [tuple(dict.fromkeys((*entry, output))) for entry in self.schedule.layers]
        else:
            self.schedule = Schedule(network.layer, layers, channels)
        fade_sets = [tuple(network.layer(layer) for layer in entry_list(entry)) for entry in fades]
        view_sets = [(network.output,)] if self.text is not None else []  # the views of text terms
        layer_sets = [*self.schedule.layers, *fade_sets, *view_sets]
        self.extractor = LayerExtractor(
            network.module,
            layer_sets,
            channels_last,
            compile,
            network.mean,
            network.std,
            network.tracer_kwargs,
            network.layout,
            network.size,
        )
        self.fade = CrossFade(network.layer)
        self.terms.check(self.widths())

    def refer(self, pictures: Tensor, octave: int, levels: int) -> None:
        """Take ``pictures`` (the start photos at this level) as what a caricature accentuates."""
        if self.terms.caricature:
            layers = self.schedule.layers[self.schedule.entry(octave, levels)]
            with torch.no_grad():
                self.terms.refer(self.extractor(pictures, layers))

    def layer_value(
        self,
        activation: Tensor,
        layer: str,
        channels: Optional[Sequence[int]],
        layers: tuple[str, ...],
        image_channels: Optional[Sequence[int]] = None,
    ) -> Tensor:
        """The objective's per-image value ``[B]`` at one layer's ``activation`` (of ``layers``)."""
        return self.terms.value(
            activation, layer, channels, image_channels, lambda pixels: self.extractor(pixels, layers)
        )

    def cross_fade(
        self, layers: Optional[Sequence[tuple[float, Any]]], channels: Optional[Sequence[tuple[float, Any]]]
    ) -> None:
        """Keyframes' cross-fades from now on (``fades.CrossFade.set``); ``None`` for both: the schedule."""
        self.fade.set(layers, channels)

    @staticmethod
    def channels_last_for(network: Network, channels_last: Union[bool, str]) -> bool:
        """``auto``: channels-last where it measured faster (all six documented networks on a CPU; it is
        the layout convolutions prefer on GPUs too, so any other network made of convolutions gets it;
        a transformer, whose activations are not maps of a convolution, does not)."""
        if channels_last != "auto":
            return bool(channels_last)
        if network.spec is not None:
            return network.spec.channels_last_faster
        convolutions = any(isinstance(module, nn.Conv2d) for module in network.module.modules())
        return convolutions and network.layout is None

    def check_entries(self, octaves: Union[int, str]) -> None:
        """The schedule has one entry per octave when ``octaves`` is a number (``Schedule.check_entries``)."""
        self.schedule.check_entries(octaves)

    def entry(self, octave: int, levels: int) -> int:
        """The schedule entry of level ``octave`` of a dream of ``levels`` levels (-1: the last)."""
        return self.schedule.entry(octave, levels)

    def min_side(self, octave: int, levels: int) -> int:
        """The smallest image side the layers of ``octave`` can work on."""
        return self.extractor.min_input_size(self.schedule.layers[self.entry(octave, levels)])

    def widths(self) -> dict[str, int]:
        """Channels of every scheduled layer."""
        return {name: width for layers in self.schedule.layers for name, width in self.extractor.widths(layers).items()}

    def check_names(self, names: Sequence[str]) -> None:
        """Every input has what the objective needs of it (its guide)."""
        if self.guides is not None:
            self.guides.check(names)

    def per_layer(self, images: Tensor, batch: DreamBatch, octave: Optional[int] = None) -> dict[str, Tensor]:
        """Per-image objective ``[B]`` of each layer scheduled for ``octave`` (default: the batch's)."""
        position = batch.position
        entry = self.entry(position.octave if octave is None else octave, position.levels)
        if self.fade.active and self.guides is None:
            return self.fade.objectives(images, entry, self.schedule, self.extractor, self.layer_value)
        layers = self.schedule.layers[entry]
        if self.text is not None and all(term.kind == "text" for term in self.terms.terms):
            return {"text": self.text_value(images)}  # prompts alone: the views are all the tower sees
        activations = self.extractor(images, layers)
        if self.guides is not None:
            names = batch.names or [""] * images.shape[0]
            guides = self.guides.features(
                [self.guides.source(name) for name in names],
                layers,
                lambda pixels: self.extractor(pixels.to(images.device), layers),
            )
            return {
                layer: guided_objectives(value, [guide[layer] for guide in guides])
                for layer, value in activations.items()
            }
        channels = self.schedule.channels[entry]
        values = {
            layer: self.layer_value(value, layer, channels, layers, batch.channels)
            for layer, value in activations.items()
        }
        if self.text is not None:
            values["text"] = self.text_value(images)
        return values

    def text_value(self, images: Tensor) -> Tensor:
        """Per-image ``[B]``: the text terms, scored on ``views`` random views of each picture."""
        tower = self.text
        assert tower is not None and self.terms.output is not None
        self.terms.embed(lambda prompts: tower.embed(prompts, images.device))
        views = cutouts(images, self.views, self.view_side, self.generator)
        embeddings = self.extractor(views, (self.terms.output,))[self.terms.output]
        return self.terms.text_value(embeddings, self.views)

    def forward(self, images: Tensor, batch: DreamBatch, octave: Optional[int] = None) -> Tensor:
        """The per-image objective ``[B]``: the layers' objectives summed."""
        return torch.stack(list(self.per_layer(images, batch, octave).values())).sum(dim=0)

    def tiles(self, images: Tensor) -> bool:
        """Whether ``images`` are measured tile by tile (never for a class or a prompt: they need the whole picture)."""
        whole = self.terms.classes or self.terms.prompts
        return self.tile_size is not None and max(images.shape[-2:]) > self.tile_size and not whole

    def gradient(self, images: Tensor, batch: DreamBatch) -> tuple[Tensor, Tensor]:
        """The objective's gradient and value ``[B]``, tile by tile (memory bounded by the tile)."""
        assert self.tile_size is not None
        return tiled_gradient(lambda piece: self(piece, batch), images, self.tile_size)

    def measure(self, images: Tensor, batch: DreamBatch) -> Tensor:
        """The objective ``[B]`` of the last octave's layers, without gradients."""
        octave = batch.position.levels - 1
        if self.tiles(images):
            assert self.tile_size is not None
            return tiled_objective(lambda piece: self(piece, batch, octave), images, self.tile_size)
        with torch.no_grad():
            return self(images, batch, octave)
