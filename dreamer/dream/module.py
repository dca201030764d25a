"""DeepDream as a LightningModule: the image is the only parameter, each training step one ascent step."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Optional, Union

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.cli import OptimizerCallable
from lightning.pytorch.strategies import DDPStrategy
from torch import Tensor, nn
from typing_extensions import override

from dreamer.dream.backbones import IMAGENET, backbone_spec, build_backbone, node_name
from dreamer.dream.extractor import LayerExtractor
from dreamer.dream.guide import Guides, guided_objectives
from dreamer.dream.jitter import random_affine
from dreamer.dream.objectives import Objective, activation_objective
from dreamer.dream.optim import NormalizedGD
from dreamer.dream.pyramid import Blend, auto_octaves, blur, laplacian_normalize, stretched
from dreamer.dream.strategy import IndependentDDPStrategy
from dreamer.dream.tiling import tiled_gradient, tiled_objective
from dreamer.errors import ConfigError

Layer = Union[int, str]
LayerSchedule = Union[Layer, list[Union[Layer, list[Layer]]]]
ChannelSchedule = Optional[Union[list[int], list[Optional[list[int]]]]]


def per_octave(value: Any, octaves: int, what: str) -> list[Any]:
    """A setting given once or once per octave → one entry per octave (a 1-entry list applies to all)."""
    if not isinstance(value, list):
        return [value] * octaves
    if len(value) == 1:
        return value * octaves
    if len(value) != octaves:
        raise ConfigError(
            f"model.{what} has {len(value)} entries but there are {octaves} octaves; give one per octave or one for all"
        )
    return list(value)


def roll_each(images: Tensor, shifts: Sequence[tuple[int, int]]) -> Tensor:
    """Roll every image of ``[B, C, H, W]`` by its own ``(dy, dx)``; autograd rolls gradients back."""
    if all(shift == shifts[0] for shift in shifts):
        return torch.roll(images, shifts=shifts[0], dims=(-2, -1))
    return torch.stack([torch.roll(image, shifts=shift, dims=(-2, -1)) for image, shift in zip(images, shifts)])


class DreamModule(pl.LightningModule):
    """Gradient ascent on an image to excite chosen layers of a frozen ImageNet network.

    Args:
        backbone: torchvision network: vgg16, vgg19, googlenet, inception_v3, resnet50, mobilenet_v2.
        weights: ``imagenet`` (hub cache, a package that ships them, then download), a path to a
            ``.pth`` state dict, or ``null`` for random weights.
        layers: The layer to excite, or one entry per octave (smallest first); an entry may be a list
            of layers whose objectives are summed. Integers index ``features`` of VGG/MobileNet
            (``6`` is ``vgg16.features[6]``); names are module paths (``features.29``, ``inception4c``).
        channels: Restrict the objective to these channels: one list for all octaves or one per octave.
        objective: ``mean_square`` (mean of squared activations) or ``mean`` (mean activation).
        octaves: Pyramid levels, smallest first, the last at full size (the seed's ``times``); ``auto``:
            per photo, as many as make the smallest level's long side about ``smallest_octave`` px, so
            the dreamed forms have the same size on any photo; per-octave ``layers`` and ``channels``
            then stretch over the levels (first entry on the smallest, last on the full size).
        smallest_octave: With ``octaves: auto``, the long side of the smallest level, in pixels.
        scale: Size ratio between neighbouring levels (seed 1.8, Google 1.4).
        iterations: Gradient steps per octave (the seed's ``epochs``).
        lr: Step size. For the default naive GD, the step moves each pixel by ``lr`` on average
            (in [0, 1] units); for other optimisers it is their learning rate.
        optimizer: ``dreamer.dream.optim.NormalizedGD`` (original DeepDream) or any ``torch.optim`` class.
        alpha: At each new octave start from ``(1 - alpha) * photo + alpha * dream`` (``blend: alpha``).
        blend: ``alpha``, or ``detail`` to carry only the detail the dream added (Google's notebook).
        init: Start from the ``photo`` or from ``noise`` (shows what the layer/channel wants).
        jitter: Roll the image by up to this many pixels each step (rolled back after).
        jitter_rotate: Also turn each image by up to this many degrees each step (0: off).
        jitter_scale: Also scale each image by up to ``1 ± jitter_scale`` each step (0: off).
        jitter_flip: Also mirror each image left-right half of the steps. Like the roll, these
            transforms are undone on the gradient (autograd carries it back through them).
        grad_blur: Gaussian blur σ (px) of the gradient each step; 0 turns it off.
        laplacian_levels: Normalise the gradient band by band over a Laplacian pyramid of this many
            levels each step (TensorFlow's DeepDream ``lap_normalize``, 4 there), so that no scale of
            detail drowns the others at high resolutions; 0 turns it off.
        image_blur: Gaussian blur σ (px) of the image after each step; 0 turns it off.
        tile_size: Compute gradients tile by tile (tiles of at most this many px, randomly rolled
            each step so seams never stay put): peak memory is set by the tile, not the image.
            ``null``: whole images.
        channels_last: Run the backbone in channels-last memory format: ``auto`` (default) does where it
            measured faster for this backbone (all six on a CPU; on GPUs it is cuDNN's preferred layout for
            convolutions), ``true``/``false`` force it.
        guide: A guide image (or a folder with one per photo, ``<photo stem>.<suffix>``): each position
            then excites the guide's best-matching feature instead of the layer as a whole.
        guide_side: The guide's long side in pixels when its features are taken.
        compile: ``torch.compile`` the backbone with dynamic shapes: octave sizes share compiled code
            (a recompile only when a size crosses a compiler shape guard, never per step).

    Raises:
        ConfigError: a setting out of range, settings that contradict each other, or an optimizer
            that refuses its settings (``WeightsNotFoundError``: pretrained weights that are not here).
    """

    def __init__(
        self,
        backbone: str = "vgg16",
        weights: Optional[str] = IMAGENET,
        layers: LayerSchedule = 30,
        channels: ChannelSchedule = None,
        objective: Objective = "mean_square",
        octaves: Union[int, Literal["auto"]] = 8,
        smallest_octave: int = 160,
        scale: float = 1.8,
        iterations: int = 20,
        lr: float = 0.2,
        optimizer: OptimizerCallable = NormalizedGD,
        alpha: float = 0.2,
        blend: Blend = "alpha",
        init: Literal["photo", "noise"] = "photo",
        jitter: int = 0,
        jitter_rotate: float = 0.0,
        jitter_scale: float = 0.0,
        jitter_flip: bool = False,
        grad_blur: float = 0.0,
        laplacian_levels: int = 0,
        image_blur: float = 0.0,
        tile_size: Optional[int] = None,
        channels_last: Union[bool, Literal["auto"]] = "auto",
        guide: Optional[str] = None,
        guide_side: int = 320,
        compile: bool = False,
    ) -> None:
        super().__init__()
        if iterations < 1:
            raise ConfigError(f"model.iterations must be >= 1, got {iterations}")
        if octaves != "auto" and (not isinstance(octaves, int) or octaves < 1):
            raise ConfigError(f"model.octaves must be a number >= 1 or 'auto', got {octaves!r}")
        if smallest_octave < 8:
            raise ConfigError(f"model.smallest_octave must be at least 8 px, got {smallest_octave}")
        if laplacian_levels < 0:
            raise ConfigError(f"model.laplacian_levels must be >= 0, got {laplacian_levels}")
        if jitter < 0:
            raise ConfigError(f"model.jitter must be >= 0, got {jitter}")
        if jitter_rotate < 0 or not 0 <= jitter_scale < 1:
            raise ConfigError(
                "model.jitter_rotate must be >= 0 and model.jitter_scale within [0, 1), "
                f"got {jitter_rotate} and {jitter_scale}"
            )
        if tile_size is not None and tile_size < 16:
            raise ConfigError(f"model.tile_size must be at least 16 px, got {tile_size}")
        if guide is not None and channels is not None:
            raise ConfigError("model.guide and model.channels both choose what to excite; set one of them")
        if not lr > 0:
            raise ConfigError(f"model.lr must be > 0 (a step up the gradient), got {lr}")
        try:
            optimizer([nn.Parameter(torch.zeros(1))], lr=lr)  # its own checks of its settings, before any work
        except (TypeError, ValueError) as error:
            raise ConfigError(f"model.optimizer: {error}") from None
        self.save_hyperparameters(ignore=["optimizer"])
        self.guides = Guides(guide, guide_side) if guide is not None else None
        self.optimizer_factory = optimizer
        # Schedule entries: one per octave, or with ``auto`` as many as given, stretched over each photo's levels.
        entries = octaves if isinstance(octaves, int) else len(layers) if isinstance(layers, list) else 1
        self.layer_schedule: list[tuple[str, ...]] = [
            tuple(node_name(backbone, layer) for layer in (entry if isinstance(entry, list) else [entry]))
            for entry in per_octave(layers, entries, "layers")
        ]
        if channels_last == "auto":
            channels_last = backbone_spec(backbone).channels_last_faster
        self.extractor = LayerExtractor(build_backbone(backbone, weights), self.layer_schedule, channels_last, compile)
        gc.collect()  # tracing leaves reference cycles that would keep the unused layers (VGG-16: 470 MB) alive
        per_octave_lists = bool(channels) and any(c is None or isinstance(c, list) for c in channels or [])
        channel_schedule = channels if per_octave_lists else [channels]
        self.channel_schedule: list[Optional[list[int]]] = per_octave(channel_schedule, entries, "channels")
        self.levels = entries  # pyramid levels of the dream under way (``auto``: set per photo)
        # The dream itself. Its shape changes with every batch and octave (set by OctaveSchedule).
        self.image = nn.Parameter(torch.zeros(1, 3, 1, 1))
        self.octave = 0
        self.octave_active = True
        self._jitter_rngs: list[torch.Generator] = []
        self.image_channels: Optional[list[int]] = None  # per image of the batch, when each has its own
        self._guide_sources: list[Path] = []  # per image of the batch, with model.guide
        self.last_objective: Optional[Tensor] = None  # per image, at the latest step (for metrics)

    @override
    def setup(self, stage: str) -> None:
        strategy = self.trainer.strategy
        synchronising = isinstance(strategy, DDPStrategy) or self.trainer.world_size > 1
        if synchronising and not isinstance(strategy, IndependentDDPStrategy):
            raise ConfigError(
                f"trainer.strategy: {type(strategy).__name__} would synchronise the images of all processes "
                "(one averaged dream, and a resized parameter it rejects); use --trainer.strategy ddp_independent"
            )
        plan = getattr(getattr(self.trainer, "datamodule", None), "plan", None)
        if self.guides is not None and plan is not None:
            self.guides.check([job.name for job in plan.jobs])  # a missing or unreadable guide: before dreaming

    def levels_for(self, size: tuple[int, int]) -> int:
        """Pyramid levels of a dream of ``(height, width)``: ``model.octaves``, or with ``auto`` as many as
        make the smallest level about ``smallest_octave`` px."""
        hp = self.hparams
        return hp.octaves if hp.octaves != "auto" else auto_octaves(*size, hp.scale, hp.smallest_octave)

    def steps_for(self, size: tuple[int, int]) -> int:
        """Gradient steps of a whole dream of ``(height, width)``."""
        return self.levels_for(size) * self.hparams.iterations

    def entry(self, octave: int) -> int:
        """The layer/channel schedule entry of pyramid level ``octave`` of the dream under way (-1: the last)."""
        return stretched(octave, self.levels, len(self.layer_schedule))

    def min_input_size(self, octave: int) -> int:
        """The smallest image side the layers of ``octave`` can work on (-1: the full-size level's)."""
        return self.extractor.min_input_size(self.layer_schedule[self.entry(octave)])

    def start_dream(
        self,
        seeds: Sequence[int],
        channels: Optional[Sequence[int]] = None,
        names: Sequence[str] = (),
        levels: Optional[int] = None,
    ) -> None:
        """Seed each image's own jitter stream, so a dream never depends on its batch mates; ``channels``
        gives each image its own target channel (a channel atlas), else ``model.channels`` holds;
        ``names`` pick each image's guide (``model.guide``); ``levels`` is the dream's pyramid height."""
        self.levels = levels or self.levels
        self._jitter_rngs = [torch.Generator().manual_seed(seed) for seed in seeds]
        self.image_channels = list(channels) if channels is not None else None
        if self.guides is not None:
            self._guide_sources = [self.guides.source(name) for name in names]

    def layer_widths(self, octave: int) -> dict[str, int]:
        """Channels of each layer scheduled for ``octave``."""
        return self.extractor.widths(self.layer_schedule[self.entry(octave)])

    def layer_objectives(self, images: Tensor, octave: Optional[int] = None) -> dict[str, Tensor]:
        """Per-image objective ``[B]`` of each layer (and channels) scheduled for ``octave``."""
        octave = self.octave if octave is None else octave
        layers = self.layer_schedule[self.entry(octave)]
        activations = self.extractor(images, layers)
        if self.guides is not None:
            sources = self._guide_sources or [self.guides.source("")] * images.shape[0]
            guides = self.guides.features(
                sources, layers, lambda pixels: self.extractor(pixels.to(images.device), layers)
            )
            return {
                layer: guided_objectives(value, [guide[layer] for guide in guides])
                for layer, value in activations.items()
            }
        channels, kind = self.channel_schedule[self.entry(octave)], self.hparams.objective
        return {
            layer: activation_objective(value, channels, kind, self.image_channels)
            for layer, value in activations.items()
        }

    def objective(self, images: Tensor, octave: Optional[int] = None) -> Tensor:
        """The per-image objective ``[B]`` of ``octave``: its layers' objectives summed."""
        return torch.stack(list(self.layer_objectives(images, octave).values())).sum(dim=0)

    def measure(self, images: Tensor) -> Tensor:
        """The objective ``[B]`` of the last octave's layers, tile by tile when ``tile_size`` asks."""
        octave = self.levels - 1
        tile = self.hparams.tile_size
        if tile is not None and max(images.shape[-2:]) > tile:
            return tiled_objective(lambda piece: self.objective(piece, octave), images, tile)
        with torch.no_grad():
            return self.objective(images, octave)

    def _tiled(self) -> bool:
        tile = self.hparams.tile_size
        return tile is not None and max(self.image.shape[-2:]) > tile

    def _jittered(self, images: Tensor) -> Tensor:
        hp = self.hparams
        images = random_affine(images, self._jitter_rngs, hp.jitter_rotate, hp.jitter_scale, hp.jitter_flip)
        jitter = hp.jitter
        if self._tiled():  # roll by up to half a tile so that seams land somewhere new every step
            jitter = max(jitter, hp.tile_size // 2)
        if jitter == 0:
            return images
        shifts = [tuple(torch.randint(-jitter, jitter + 1, (2,), generator=rng).tolist()) for rng in self._jitter_rngs]
        return roll_each(images, shifts)

    @override
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        if not self.octave_active or self.image.shape[0] == 0:
            # A level too small for its layer, or an idle/empty batch: a zero loss leaves the image as
            # it is (Lightning does not allow skipping a step in distributed runs).
            return self.image.sum() * 0.0
        images = self._jittered(self.image)
        per_layer: dict[str, Tensor] = {}
        if self._tiled():
            gradient, objective = tiled_gradient(self.objective, images.detach(), self.hparams.tile_size)
            loss = -(images * gradient).sum()  # its gradient is exactly −gradient, rolled back by autograd
        else:
            per_layer = self.layer_objectives(images)
            objective = torch.stack(list(per_layer.values())).sum(dim=0)
            loss = -objective.sum()  # summed: each image's gradient is exactly its own
        self.last_objective = objective.detach()
        if self._logging_step():
            mean, size = self.last_objective.mean(), objective.shape[0]
            self.log("objective", mean, prog_bar=True, batch_size=size)
            scalars = {f"objective/octave{self.octave}": mean}
            scalars.update(
                {
                    f"objective/{layer}": value.detach().mean()
                    for layer, value in per_layer.items()
                    if len(per_layer) > 1
                }
            )
            self.log_dict(scalars, batch_size=size)
        return loss

    def _logging_step(self) -> bool:
        """Log only when the Trainer will write (``log_every_n_steps``), and only if anyone reads:
        ``self.log`` costs about a millisecond per call, as much as a small network's step."""
        trainer = self.trainer
        if not trainer.loggers and trainer.progress_bar_callback is None:
            return False
        return (trainer.global_step + 1) % trainer.log_every_n_steps == 0

    @override
    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        if self.image.grad is None or self.image.shape[0] == 0 or not self.octave_active:
            return
        if self.hparams.grad_blur > 0:
            self.image.grad.copy_(blur(self.image.grad, self.hparams.grad_blur))
        if self.hparams.laplacian_levels > 0:
            self.image.grad.copy_(laplacian_normalize(self.image.grad, self.hparams.laplacian_levels))
        if self._logging_step():
            grad_norm = self.image.grad.detach().flatten(1).norm(dim=1).mean()
            self.log_dict(
                {"grad_norm": grad_norm, "lr": float(optimizer.param_groups[0]["lr"])}, batch_size=self.image.shape[0]
            )

    @override
    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        super().optimizer_step(*args, **kwargs)
        with torch.no_grad():
            if self.hparams.image_blur > 0:
                self.image.copy_(blur(self.image, self.hparams.image_blur))
            self.image.clamp_(0, 1)

    @override
    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory([self.image], lr=self.hparams.lr)

    @override
    def configure_callbacks(self) -> list[pl.Callback]:
        from dreamer.dream.octaves import OctaveSchedule
        from dreamer.files.writer import DreamWriter
        from dreamer.watch.metrics import DreamMetrics
        from dreamer.watch.progress import DreamProgressBar

        hp = self.hparams
        # Data that carries one dream into the next (frames of a video) brings its own callbacks; they
        # run first, so OctaveSchedule sees each frame's start.
        data = getattr(self.trainer, "datamodule", None)
        callbacks = list(data.dream_callbacks()) if data is not None and hasattr(data, "dream_callbacks") else []
        callbacks += [OctaveSchedule(hp.scale, hp.iterations, hp.alpha, hp.blend, hp.init), DreamWriter()]
        if self.trainer.loggers:  # metrics cost an extra forward pass and SSIM: only when someone logs them
            callbacks.append(DreamMetrics())
        if type(self.trainer.progress_bar_callback) is TQDMProgressBar:  # extend the default bar, keep a chosen one
            callbacks.append(DreamProgressBar())
        return callbacks

    @override
    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The image only: the frozen backbone is rebuilt from its weights, never checkpointed."""
        state = super().state_dict(*args, **kwargs)
        frozen = f"{kwargs.get('prefix', '')}extractor."
        for key in [key for key in state if key.startswith(frozen)]:
            del state[key]
        return state

    @override
    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        """Load a checkpoint's image; the frozen backbone keeps the weights it was built with."""
        frozen = {key: value for key, value in nn.Module.state_dict(self).items() if key.startswith("extractor.")}
        self.image.data = torch.empty_like(state_dict["image"], device=self.image.device)
        return super().load_state_dict({**frozen, **state_dict}, strict=strict, assign=assign)
