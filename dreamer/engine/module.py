"""DeepDream as a LightningModule: the image is the only parameter, each training step one ascent step."""

from __future__ import annotations

import gc
from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from functools import partial
from typing import Any, Literal, Optional, Union

import lightning.pytorch as pl
import torch
from lightning.pytorch.cli import OptimizerCallable
from lightning.pytorch.strategies import DDPStrategy
from torch import Tensor, nn
from typing_extensions import override

from dreamer.engine.climb.guide import NO_GUIDE, Guide
from dreamer.engine.climb.objective import DreamObjective
from dreamer.engine.climb.objectives import Objective
from dreamer.engine.climb.schedule import ChannelSchedule, LayerSchedule
from dreamer.engine.contract.batch import DreamBatch
from dreamer.engine.contract.octaves import Octaves
from dreamer.engine.contract.outline import DreamOutline
from dreamer.engine.contract.step import NO_STEP, DreamStep
from dreamer.engine.image.filters import NO_FILTERS, StepFilters
from dreamer.engine.image.jitter import NO_JITTER, Jitter
from dreamer.engine.image.parametrisation import Parametrisation, ParametrisationName
from dreamer.engine.networks.backbones import IMAGENET
from dreamer.engine.networks.extractor import Compile
from dreamer.engine.networks.network import NETWORK_INPUT, Backbone, Input, build_network
from dreamer.engine.optim import NormalizedGD
from dreamer.engine.strategy import IndependentDDPStrategy
from dreamer.errors import ConfigError


class DreamModule(pl.LightningModule):
    """Gradient ascent on an image to excite chosen layers of a frozen ImageNet network.

    How a dream walks its pyramid (octaves, scale, steps per octave, the blend into the next octave)
    is the owner's (``engine.octaves.Octaves``, the config's ``octaves`` section), not the module's.

    Args:
        backbone: The network (``engine.network``): any torchvision classification model by name
            (vgg16, vgg19, googlenet, inception_v3, resnet50 and mobilenet_v2 have integer layer
            shortcuts; convnext_tiny, efficientnet_b0 … take layer names), ``timm:<name>``, or your
            own ``nn.Module``: ``my_pkg.nets.Net``, ``path/to/nets.py:Net``, or
            ``{class_path: …, init_args: {…}}``.
        weights: ``imagenet`` (torchvision's: hub cache, a package that ships them, then download;
            timm's: its own loading), a state dict (``.pth``, ``.pt``, ``.safetensors``), a Lightning
            ``.ckpt``, or ``null`` for random weights. Nothing is loaded in a way that runs code.
        input: How the network wants its pixels: ``{channels: 1, mean: [...], std: [...], size: 64}``
            (``network.Input``; ``null``: what the network says, else ImageNet's).
        layers: The layer to excite, or one entry per octave (smallest first); an entry may be a list
            of layers whose objectives are summed. Integers index ``features`` of VGG/MobileNet
            (``6`` is ``vgg16.features[6]``); names are module paths (``features.29``, ``inception4c``).
        channels: Restrict the objective to these channels: one list for all octaves or one per octave.
        objective: What to climb at the scheduled layers: ``mean_square`` (mean of squared
            activations, DeepDream's), ``mean`` (mean activation), or a sum of weighted terms such as
            ``channel 7 - channel 12``, ``neuron 7``, ``direction vector.npy`` (or a photo: where its
            activations point), ``caricature`` (more of what the network sees in the start photo);
            see ``dreamer.engine.climb.objectives``.
        diversity: Weight of Lucid's diversity term: images of a batch that climb the same channel
            are pushed apart in style (Gram matrices of the layer); 0 turns it off.
        parametrisation: The space the image is climbed in: ``pixel`` (DeepDream's), ``fft``
            (1/f-scaled Fourier coefficients), ``decorrelated`` (ImageNet's decorrelated colours) or
            ``fft+decorrelated`` (Lucid's). A photo start is the initial value in that space.
        lr: Step size. For the default naive GD, the step moves each pixel by ``lr`` on average
            (in [0, 1] units); for other optimisers it is their learning rate.
        optimizer: ``dreamer.engine.optim.NormalizedGD`` (original DeepDream) or any ``torch.optim`` class.
        jitter: Transformation robustness: what each image goes through before the network at every
            step, e.g. ``{pad: 12, roll: 16, rotate: 8, scale: 0.05, flip: true}``: a grey border of
            ``pad`` px, a turn by up to ± ``rotate`` degrees, a scale by up to 1 ± ``scale``, a
            left-right mirror half of the steps, a roll by up to ``roll`` px
            (``--model.jitter.roll 16``). Autograd undoes every transform on the gradient.
        filters: What filters each step: ``{grad_blur: 0.5, laplacian_levels: 4, image_blur: 0}``
            (``--model.filters.grad_blur 0.5``; ``engine.filters.StepFilters``).
        tile_size: Compute gradients tile by tile (tiles of at most this many px, randomly rolled
            each step so seams never stay put): peak memory is set by the tile, not the image.
            ``null``: whole images.
        channels_last: Run the backbone in channels-last memory format: ``auto`` (default) does where it
            measured faster for this backbone (all six on a CPU; on GPUs it is cuDNN's preferred layout for
            convolutions), ``true``/``false`` force it.
        guide: A guided dream: ``{image: guide.jpg, side: 320}`` (``--model.guide.image guide.jpg``):
            each position excites the guide's best-matching feature instead of the layer as a whole
            (``engine.guide.Guide``).
        compile: ``true``: ``torch.compile`` the backbone with dynamic shapes (octave sizes share
            compiled code; a recompile only when a size crosses a compiler shape guard, never per
            step). ``reduce-overhead``: compile each octave's size once and, on a GPU, replay the
            backbone's forward and backward as CUDA graphs, for small images where launching
            kernels takes longer than running them (on a CPU it compiles without graphs).
        animated_layers: Layer entries that keyframes cross-fade between (set from
            ``animation.keyframes`` by the command line; not given by hand).

    Raises:
        ConfigError: a setting out of range, settings that contradict each other, or an optimizer
            that refuses its settings (``WeightsNotFoundError``: pretrained weights that are not here).
    """

    def __init__(
        self,
        backbone: Backbone = "vgg16",
        weights: Optional[str] = IMAGENET,
        input: Input = NETWORK_INPUT,
        layers: LayerSchedule = 30,
        channels: ChannelSchedule = None,
        objective: Objective = "mean_square",
        diversity: float = 0.0,
        parametrisation: ParametrisationName = "pixel",
        lr: float = 0.2,
        optimizer: OptimizerCallable = NormalizedGD,
        jitter: Jitter = NO_JITTER,
        filters: StepFilters = NO_FILTERS,
        guide: Guide = NO_GUIDE,
        tile_size: Optional[int] = None,
        channels_last: Union[bool, Literal["auto"]] = "auto",
        compile: Compile = False,
        animated_layers: Optional[list[Any]] = None,
    ) -> None:
        super().__init__()
        if not lr > 0:
            raise ConfigError(f"model.lr must be > 0 (a step up the gradient), got {lr}")
        try:
            optimizer([nn.Parameter(torch.zeros(1))], lr=lr)  # its own checks of its settings, before any work
        except (TypeError, ValueError) as error:
            raise ConfigError(f"model.optimizer: {error}") from None
        # A group arrives as its dataclass (the command line) or as a mapping (a checkpoint, Python).
        self.jitter = jitter if isinstance(jitter, Jitter) else Jitter(**jitter)
        self.filters = filters if isinstance(filters, StepFilters) else StepFilters(**filters)
        guide = guide if isinstance(guide, Guide) else Guide(**guide)
        self.parametrisation = Parametrisation.named(parametrisation)
        if self.parametrisation.fft and self.filters != NO_FILTERS:
            raise ConfigError(
                "model.parametrisation fft climbs frequencies, not pixels: model.filters have nothing to "
                "filter there; leave them at 0 (the 1/f scaling does their job)"
            )
        given = input if isinstance(input, Input) else Input(**input)
        self.save_hyperparameters(ignore=["optimizer"])
        for name, group in (("jitter", self.jitter), ("filters", self.filters), ("guide", guide), ("input", given)):
            self.hparams[name] = asdict(group)  # plain values: a checkpoint loads with weights_only
        self.optimizer_factory = optimizer
        network = build_network(backbone, weights, given)
        self.grey = network.channels == 1  # a grey network: pictures are dreamed and written grey
        self.climbing = partial(  # the objective of any layers and channels, through this network
            DreamObjective,
            network,
            kind=objective,
            guide=guide,
            tile_size=tile_size,
            channels_last=DreamObjective.channels_last_for(network, channels_last),
            compile=compile,
            diversity=diversity,
        )
        self.objective = self.climbing(layers, channels, fades=animated_layers or [])
        gc.collect()  # tracing leaves reference cycles that would keep the unused layers (VGG-16: 470 MB) alive
        # The dream in its parametrisation; its shape changes with every octave (``picture``: its pixels).
        self.image = nn.Parameter(torch.zeros(1, 3, 1, 1))
        self.picture_size: tuple[int, int] = (1, 1)
        self.step: DreamStep = NO_STEP  # the step in progress, handed over by the dream's owner

    def outline(self, octaves: Octaves) -> DreamOutline:
        """What ``octaves`` and these settings say about any dream, for the data side (handed over
        by the command line).

        Raises:
            ConfigError: a per-octave layer or channel list with another number of entries than octaves.
        """
        self.objective.check_entries(octaves.count)
        hp, terms = self.hparams, self.objective.terms
        return DreamOutline(
            octaves,
            min_side=self.objective.min_side(-1, 1),
            layers=tuple(self.objective.schedule.layers),
            widths=self.objective.widths(),
            channels_set=hp.channels is not None,
            check_names=self.objective.check_names,
            own_class_at=terms.output if terms.own_class else None,
            categories=terms.categories,
            grey=self.grey,
        )

    def retarget(self, layers: LayerSchedule, channels: ChannelSchedule) -> None:
        """Climb ``layers`` and ``channels`` from the next step on, through the network already built
        (a live dream's new layer in a fraction of a second: nothing is loaded again).

        Raises:
            ConfigError: layers or channels that do not fit the network.
        """
        # Its tracing's reference cycles are left to Python's collector: a full collection here would
        # take 0.15 s in the page's process.
        self.objective = self.climbing(layers, channels).to(self.device)
        self.hparams.layers, self.hparams.channels = layers, channels

    def retune(self, values: Mapping[str, Any], adds: Mapping[str, float]) -> None:
        """Take a frame's animated settings (keyframes and audio, ``motion.timeline``) from now on:
        ``lr``, ``filters.grad_blur``, ``filters.image_blur``, ``jitter.*`` (a value, plus what audio adds) and the
        cross-fades of ``layers`` and ``channels`` (``[(weight, value), …]``). Others keep theirs."""
        hp = self.hparams

        def number(key: str, base: float) -> float:
            return float(values.get(key, base)) + adds.get(key, 0.0)

        blurs = ("filters.grad_blur", "filters.image_blur")
        if self.parametrisation.fft and any(values.get(k) or adds.get(k) for k in blurs):
            raise ConfigError("animation: model.filters blur pixels; model.parametrisation fft has none")
        if "lr" in values or "lr" in adds:
            self.set_lr(max(number("lr", hp.lr), 1e-8))
        base_jitter = Jitter(**hp.jitter)
        self.jitter = replace(
            base_jitter,
            roll=max(0, round(number("jitter.roll", base_jitter.roll))),
            rotate=max(0.0, number("jitter.rotate", base_jitter.rotate)),
            scale=max(0.0, number("jitter.scale", base_jitter.scale)),
        )
        base_filters = StepFilters(**hp.filters)
        self.filters = replace(
            base_filters,
            grad_blur=max(0.0, number("filters.grad_blur", base_filters.grad_blur)),
            image_blur=max(0.0, number("filters.image_blur", base_filters.image_blur)),
        )
        self.objective.cross_fade(values.get("layers"), values.get("channels"))

    # What the owner of the dream asks (``engine.step.Dreamable``) -------------------------------------

    @property
    def base_lr(self) -> float:
        return float(self.hparams.lr)

    @property
    def spatial(self) -> bool:
        return self.parametrisation.spatial

    def min_side(self, octave: int, levels: int) -> int:
        return self.objective.min_side(octave, levels)

    def noise(self, shape: torch.Size, seeds: Sequence[int]) -> Tensor:
        return self.parametrisation.noise(shape, seeds)

    def set_lr(self, lr: float) -> None:
        if self._trainer is None:
            return
        for optimizer in self.trainer.optimizers:
            for group in optimizer.param_groups:
                group["lr"] = lr

    def take(self, step: DreamStep) -> None:
        self.step = step

    def restart(self, start: Tensor, original: Optional[Tensor] = None) -> None:
        """The parameter keeps its identity and takes ``start`` in its parametrisation; an objective
        that refers to the photo (a caricature) takes ``original``, the photo at this level."""
        self.picture_size = (start.shape[-2], start.shape[-1])
        start = grey(start) if self.grey else start
        self.image.data = self.parametrisation.encode(start.to(self.image.dtype)).contiguous().clone()
        if original is not None and self.step.dreaming:
            self.objective.refer(original, self.step.octave, self.step.levels)

    def picture(self) -> Tensor:
        with torch.no_grad():
            pixels = self.parametrisation.decode(self.image.detach(), self.picture_size)
            return grey(pixels) if self.grey else pixels

    def gradient(self) -> Optional[Tensor]:
        return self.image.grad

    # The climb -----------------------------------------------------------------------------------

    @override
    def setup(self, stage: str) -> None:
        strategy = self.trainer.strategy
        synchronising = isinstance(strategy, DDPStrategy) or self.trainer.world_size > 1
        if synchronising and not isinstance(strategy, IndependentDDPStrategy):
            raise ConfigError(
                f"trainer.strategy: {type(strategy).__name__} would synchronise the images of all processes "
                "(one averaged dream, and a resized parameter it rejects); use --trainer.strategy ddp_independent"
            )

    @override
    def training_step(self, batch: DreamBatch, batch_idx: int) -> dict[str, Any]:
        step = self.step
        if not step.dreaming:
            # A level too small for its layer, or an idle/empty batch: a zero loss leaves the image as
            # it is (Lightning does not allow skipping a step in distributed runs).
            return {"loss": self.image.sum() * 0.0}
        tiled = self.objective.tiles(self.image)
        seam_roll = self.objective.tile_size // 2 if tiled and self.objective.tile_size else 0
        pictures = self.parametrisation.decode(self.image, self.picture_size)
        images = self.jitter(pictures, step.jitter, roll_at_least=seam_roll)
        per_layer: dict[str, Tensor] = {}
        if tiled:
            gradient, objective = self.objective.gradient(images.detach(), batch)
            loss = -(images * gradient).sum()  # its gradient is exactly −gradient, rolled back by autograd
        else:
            per_layer = self.objective.per_layer(images, batch)
            objective = torch.stack(list(per_layer.values())).sum(dim=0)
            loss = -objective.sum()  # summed: each image's gradient is exactly its own
        # Nothing is logged here: Lightning would read every logged value back from the device at
        # every step. The listeners log what they need at their own cadence (``watch.scalars``).
        layers = {name: value.detach() for name, value in per_layer.items()} if len(per_layer) > 1 else {}
        return {"loss": loss, "objective": objective.detach(), "layers": layers}

    @override
    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        if self.image.grad is not None and self.step.dreaming:
            if self.step.step_weights is not None:
                self.image.grad.mul_(self.step.step_weights)
            self.filters.gradient(self.image.grad)

    @override
    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        super().optimizer_step(*args, **kwargs)
        confined = self.step.confinement is not None
        if self.parametrisation.pixel:
            self.filters.image(self.image.data)
            self.step.confine(self.image.data)
        elif self.filters.image_blur or confined:  # these act on the picture
            pictures = self.picture()
            self.filters.image(pictures)
            self.step.confine(pictures)
            self.image.data = self.parametrisation.encode(pictures)

    @override
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["picture_size"] = list(self.picture_size)

    @override
    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.picture_size = tuple(checkpoint.get("picture_size", self.image.shape[-2:]))

    @override
    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory([self.image], lr=self.hparams.lr)

    @override
    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The image only: the frozen backbone is rebuilt from its weights, never checkpointed."""
        state = super().state_dict(*args, **kwargs)
        frozen = f"{kwargs.get('prefix', '')}objective."
        for key in [key for key in state if key.startswith(frozen)]:
            del state[key]
        return state

    @override
    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        """Load a checkpoint's image; the frozen backbone keeps the weights it was built with."""
        frozen = {key: value for key, value in nn.Module.state_dict(self).items() if key.startswith("objective.")}
        self.image.data = torch.empty_like(state_dict["image"], device=self.image.device)
        return super().load_state_dict({**frozen, **state_dict}, strict=strict, assign=assign)


def grey(pictures: Tensor) -> Tensor:
    """``[B, 3, H, W]`` with every pixel the mean of its colours (what a grey network sees)."""
    return pictures.mean(dim=1, keepdim=True).expand_as(pictures).contiguous()
