"""What a run did with every input, as one line each: the files written, the inputs that failed,
and those the run never reached."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import lightning.pytorch as pl

from dreamer.command.wiring import Wiring
from dreamer.engine.contract.accounts import Findings
from dreamer.explore.sheets import ContactSheets


class Dreamed(Protocol):
    """What a run's report reads: its model, data (the plan's summary, the output), Trainer and wiring."""

    model: Any
    datamodule: Any
    trainer: pl.Trainer
    wiring: Wiring


@dataclass
class Outcome:
    """What a run did with its inputs: the files it wrote, the inputs that failed, and how many were
    planned but not dreamed (the run stopped early)."""

    written: list[Path]  # the dreams, frames and videos of the data's writers
    also_written: list[Path]  # beside them: configs, contact sheets, lists
    sheets: list[Path]  # the atlas's contact sheets
    failed: list[str]  # "<file>: <reason>"
    notes: list[str]
    missing: int


def outcome(cli: Dreamed) -> Outcome:
    """Gather what the data's writers account for (``cli.wiring.declared``) and the data's plan."""
    summary = cli.datamodule.summary
    accounts = cli.wiring.declared
    writers = [c for c in accounts if not isinstance(c, ContactSheets)]
    sheets = [path for account in accounts if isinstance(account, ContactSheets) for path in account.also_written]
    return Outcome(
        written=[path for writer in writers for path in writer.written],
        also_written=[path for writer in writers for path in writer.also_written],
        sheets=sheets,
        failed=summary.failed + [message for account in accounts for message in account.failed],
        notes=list(summary.notes),
        missing=max(0, summary.planned - sum(account.accounted for account in accounts)),
    )


def report(cli: Dreamed) -> int:
    """Print, on rank 0, what happened to every input; the exit status is 1 when any input failed or
    was not dreamed (the run stopped early)."""
    done = outcome(cli)
    summary = cli.datamodule.summary
    if not cli.trainer.is_global_zero:
        return 1 if done.failed else 0  # rank 0 speaks for the run
    if getattr(cli.model, "grey", False):
        print(f"note: {cli.model.hparams.backbone} sees one channel: pictures are dreamed and written grey")
    for message in done.notes:
        print(f"note: {message}")
    for message in done.failed:
        print(f"failed: {message}", file=sys.stderr)
    for path in summary.skipped[:10]:
        print(f"skipped: {path} exists (set --data.overwrite true to replace it)")
    if summary.skipped_count > 10:
        print(f"… and {summary.skipped_count - 10} more skipped")
    for path in done.sheets + (done.written + done.also_written)[:10]:
        print(f"written: {path}")
    if len(done.written) > 10:
        print(f"… and {len(done.written) - 10} more in {cli.datamodule.output}")
    metrics = cli.wiring.metrics.results if cli.wiring.metrics else {}
    if metrics:
        gain = f"; activation gain {metrics['gain']:.1f}x" if math.isfinite(metrics["gain"]) else ""
        print(f"dreams vs originals: PSNR {metrics['psnr']:.1f} dB, SSIM {metrics['ssim']:.3f}{gain}")
    for listener in cli.wiring.listeners:
        if isinstance(listener, Findings):
            for line in listener.findings():
                print(line)
    if done.missing:
        why = "was interrupted" if cli.trainer.interrupted else "stopped"
        print(f"{done.missing} not dreamed: the run {why} after {cli.trainer.global_step} steps", file=sys.stderr)
    print(f"{len(done.written)} dreamed, {summary.skipped_count} skipped, {len(done.failed)} failed")
    return 1 if done.failed or done.missing else 0
