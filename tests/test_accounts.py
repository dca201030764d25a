"""What callbacks report at a run's end: declared by type, gathered over processes by one helper."""

from __future__ import annotations

import os
from pathlib import Path

import torch.distributed as dist
import torch.multiprocessing as mp

from dreamer.engine.contract.accounts import Account, Findings
from dreamer.files.gather import everyone
from dreamer.motion.flicker import FlickerMeter
from dreamer.photos.writer import DreamWriter
from tests.helpers import free_port


def test_a_single_process_gathers_only_its_own_value():
    mine = {"written": [Path("a.png")]}
    assert everyone(mine, world_size=1) == [mine]


def _gather_in_process(rank: int, port: int, folder: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        parts = everyone((rank, [f"from {rank}"]), world_size=2)
        Path(folder, f"{rank}.txt").write_text(repr(parts))
    finally:
        dist.destroy_process_group()


def test_two_processes_each_gather_every_value_in_rank_order(tmp_path):
    mp.spawn(_gather_in_process, args=(free_port(), str(tmp_path)), nprocs=2)
    expected = repr([(0, ["from 0"]), (1, ["from 1"])])
    assert (tmp_path / "0.txt").read_text() == expected
    assert (tmp_path / "1.txt").read_text() == expected


def test_writers_declare_their_account_and_listeners_their_findings_by_type():
    writer = DreamWriter()
    assert isinstance(writer, Account)
    assert (writer.written, writer.also_written, writer.failed, writer.accounted) == ([], [], [], 0)
    assert isinstance(FlickerMeter(), Findings)
    assert FlickerMeter().findings() == []  # no video measured yet
