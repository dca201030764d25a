"""``ddp_independent``: Lightning's DDP machinery for many processes that each dream their own images."""

from __future__ import annotations

from lightning.pytorch.strategies import DDPStrategy, StrategyRegistry
from typing_extensions import override


class IndependentDDPStrategy(DDPStrategy):
    """DDP's launcher, process group, barriers and broadcasts, but no ``DistributedDataParallel``.

    Plain DDP is wrong for DeepDream: it broadcasts rank 0's parameters (every rank would dream
    rank 0's image), all-reduces gradients (averaging the gradients of different images) and
    rejects a parameter whose shape changes between octaves. Here the module is left unwrapped,
    so each process optimises its own images; the data module shards them across processes.
    """

    strategy_name = "ddp_independent"

    @override
    def configure_ddp(self) -> None:
        # Deliberately no DistributedDataParallel wrapper: there is nothing to synchronise.
        pass


StrategyRegistry.register(
    "ddp_independent",
    IndependentDDPStrategy,
    description="DDP processes without gradient sync: each rank dreams its own share of the images",
    override=True,
)
