"""The documentation cannot drift from the code: every ``dreamer`` command it shows is read by the
real parser, the site builds without a warning, and its generated pages come from the code."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from dreamer.command.configs import resolved_content
from dreamer.command.dry import asked
from dreamer.command.spec import spec_from, spec_of_content, with_flags
from dreamer.files.bundled import preset_names
from tests.conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
USERS_FILES = (".png", ".jpg", ".jpeg", ".mp4", ".yaml", ".yml", ".gif", ".webp")  # a reader's own config or dream


def shell_blocks(text: str) -> list[str]:
    """The text of every shell code block (``bash``, ``sh``, ``shell`` or no language) of a page."""
    blocks, lines, language = [], [], None
    for line in text.splitlines():
        if line.startswith("```"):
            if language is None:
                language = line[3:].strip()
                lines = []
            else:
                if language in ("bash", "sh", "shell", ""):
                    blocks.append("\n".join(lines))
                language = None
        elif language is not None:
            lines.append(line)
    return blocks


def shown_commands() -> list[tuple[str, list[str]]]:
    """Every ``dreamer fit|sweep|layers`` command in a shell block of the pages, as its arguments."""
    found = []
    for page in PAGES:
        for block in shell_blocks(page.read_text()):
            for line in block.replace("\\\n", " ").splitlines():  # continued lines joined
                line = line.split(" # ")[0].strip()
                if not re.match(r"^dreamer (fit|sweep|layers) ", line) or "<" in line or "…" in line:
                    continue
                found.append((f"{page.name}: {line}", shlex.split(line)[1:]))
    return found


COMMANDS = shown_commands()


def test_the_pages_show_commands():
    assert len(COMMANDS) >= 40
    assert {args[0] for _, args in COMMANDS} == {"fit", "sweep", "layers"}


GPU_ONLY = ("gpu", "cuda", "ddp_independent", "--trainer.devices")  # a CPU machine cannot build these Trainers
BUILT = [(line, args) for line, args in COMMANDS if args[0] == "fit" and "--help" not in args and not any(
    word in arg for arg in args for word in GPU_ONLY) and not any(arg.endswith(".help") for arg in args)]  # fmt: skip
PARSED = [(line, args) for line, args in COMMANDS if (line, args) not in BUILT]  # the rest: read, not built


@pytest.mark.parametrize("line, args", PARSED, ids=[line for line, _ in PARSED])
def test_every_command_a_cpu_cannot_build_is_read_by_the_real_parser(line, args):
    command, rest = args[0], args[1:]
    configs = [value for flag, value in zip(rest, rest[1:]) if flag in ("--config", "-c")]
    if any(Path(value).suffix.lower() in USERS_FILES for value in configs):
        rest = strip_config(rest)  # the reader's own file: its options are still read
    if "--help" in rest or any(arg.endswith(".help") for arg in rest):
        return
    if command == "fit":
        spec_from(asked(rest)[0])  # --dry_run is the command line's, not a setting
    elif command == "sweep":
        config = next(iter(configs), None)
        assert config is None or config in preset_names() or Path(config).suffix, line
        if config in preset_names():
            content = resolved_content(config, sweep=True)
            assert content.pop("sweep")
            with_flags(spec_of_content(content), sweep_flags(strip_config(rest)))
    else:
        assert any(arg.startswith("--model.") or arg in ("--config", "-c") for arg in rest), line


def sweep_flags(args: list[str]) -> list[str]:
    """``dreamer sweep``'s arguments without its own options (``--processes 4``, ``--tile-side 200``)."""
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in ("--processes", "--tile-side"):
            skip = True
        else:
            out.append(arg)
    return out


def strip_config(args: list[str]) -> list[str]:
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg in ("--config", "-c"):
            skip = True
            continue
        out.append(arg)
    return out


def test_the_site_builds_without_a_warning(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "docs", str(tmp_path / "html")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    options = (REPO / "docs" / "generated" / "options.md").read_text()
    assert "| `--model.layers` |" in options  # generated from the parser
    assert "## `--data VideoDataModule`" in options
    presets = (REPO / "docs" / "generated" / "presets.md").read_text()
    assert all(f"## {name}\n" in presets for name in preset_names())
    assert (tmp_path / "html" / "generated" / "tutorial.html").is_file()  # the notebook, from its outputs


def test_a_number_of_parameters_lines_or_files_the_pages_state_is_computed_here():
    import inspect

    from dreamer.engine.module import DreamModule

    taken = len(inspect.signature(DreamModule.__init__).parameters) - 1
    assert f"): {taken} parameters." in (REPO / "docs" / "architecture.md").read_text()
    computed = {f"{taken} parameters"}  # a new figure of this kind needs its computation here
    stated = {
        f"{number} {what}"
        for page in PAGES
        for number, what in re.findall(r"\b(\d[\d,]*) (parameters|lines|files)\b", page.read_text())
    }
    assert stated <= computed, stated - computed


def test_the_reference_lists_every_option_dreamer_fit_takes_each_with_a_type_a_default_and_what_it_does():
    import argparse

    from docs.generate import options_page
    from dreamer.command.spec import dream_parser, option_names

    page = options_page()
    rows = re.findall(r"^\| `--([\w.]+)` \| (.*?) \| (.*?) \| (.*?) \| (.*?) \|$", page, re.M)
    listed = {name for name, *_ in rows}
    sections = {"trainer", "model", "octaves", "image_logger", "animation"}  # each a config file's option
    sections |= {name.rsplit(".", 1)[0] for name in listed if name.count(".") >= 2}
    hidden = {a.option_strings[-1][2:] for a in dream_parser()._actions if a.help == argparse.SUPPRESS}
    assert set(option_names()) - sections - hidden <= listed  # a documented option renamed: missing here
    general = {"help", "config", "print_config"}
    assert not [name for name, kind, *_ in rows if not kind.strip() and name not in general]
    assert not [name for name, *_, what in rows if not what.strip()]
    chosen_by_name = {"data"}  # the data module: its class (DreamDataModule unless a config names another)
    assert not [name for name, _, default, *_ in rows if not default.strip() and name not in general | chosen_by_name]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """A folder holding a stand-in for every file the pages name."""
    from tests.standins import documented_world

    return documented_world(tmp_path_factory.mktemp("reader"))


def files_of(folder: Path) -> dict[str, int]:
    return {str(path.relative_to(folder)): path.stat().st_mtime_ns for path in folder.rglob("*")}


def test_every_command_a_cpu_can_run_is_dry_run_built():
    assert len(BUILT) >= 35  # all but --help and the GPU and many-device ones


@pytest.mark.parametrize("line, args", BUILT, ids=[line for line, _ in BUILT])
def test_every_documented_command_builds_in_a_dry_run_that_writes_nothing(line, args, world, monkeypatch, capsys):
    from dreamer.cli import main

    monkeypatch.chdir(world)
    monkeypatch.setenv("HOME", str(world / "home"))
    before = files_of(world)
    args = [os.path.expanduser(arg) if arg.startswith("~") else arg for arg in args]  # as the shell would
    assert main([*args, "--dry_run"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "nothing dreamed, nothing written" in out
    assert "weights: " in out  # present, missing (how to fetch them) or none needed
    assert files_of(world) == before


def test_every_code_block_closes_on_a_line_of_its_own():
    wrong = []
    for page in PAGES:
        open_block = False
        for number, line in enumerate(page.read_text().splitlines(), 1):
            if not line.lstrip().startswith("```"):
                continue
            rest = line.lstrip()[3:].strip()
            if open_block and rest:
                wrong.append(f"{page.name}:{number}: {line[:60]}")  # text on a closing fence
            if not open_block and rest and not re.fullmatch(r"[\w+-]+|\{[\w-]+\}.*", rest):
                wrong.append(f"{page.name}:{number}: {line[:60]}")
            open_block = not open_block
    assert not wrong
