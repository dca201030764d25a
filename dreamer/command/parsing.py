"""How a bad option or setting becomes one line: jsonargparse's many-line messages, and the errors
the user's settings cause anywhere in a run (dreamer's own, Lightning's misconfigurations)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Optional

from lightning.fabric.utilities.exceptions import MisconfigurationException

from dreamer.errors import DreamerError


def one_line(message: str) -> str:
    """jsonargparse's many-line message as one line: a union's first reason, whitespace collapsed."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    key = re.match(r'^Parser key "[^"]+":', lines[0]) if lines else None
    if "Errors:" in lines:
        reasons: list[list[str]] = []  # each reason with the lines that continue it
        given = ""
        for line in lines[lines.index("Errors:") + 1 :]:
            if line.startswith("Given value:"):
                given = line.removeprefix("Given value:").strip()
            if line.startswith("Given value"):
                continue
            if line.startswith("- "):
                reasons.append([line[2:]])
            elif reasons:
                reasons[-1].append(line)
        expected = [" ".join(r)[len("Expected a ") :] for r in reasons if " ".join(r).startswith("Expected a ")]
        if reasons and len(expected) == len(reasons):  # a union of simple types: name them all
            lines = [f"expected {' or '.join(expected)}, got {given}" if given else f"expected {' or '.join(expected)}"]
        else:
            lines = reasons[0] if reasons else lines[:1]
        if key:
            lines = [key.group(0), *lines]
    text = " ".join(" ".join(lines).split())
    text = re.sub(r'^Parser key "([^"]+)": ', r"\1: ", text)
    text = re.sub(r"typing\.Literal\[(.*?)\]", r"\1", text)
    return re.sub(r"<class '([\w.]+)'>", r"\1", text)


def user_error(error: BaseException) -> Optional[str]:
    """The one line to print for an error the user's settings caused, else ``None`` (a bug: traceback).

    dreamer's own errors may arrive wrapped by jsonargparse (a constructor's check, made while the
    config is turned into objects); Lightning's ``MisconfigurationException`` is a bad trainer option."""
    seen: set[int] = set()
    cause: Optional[BaseException] = error
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, DreamerError):
            return str(cause)
        if isinstance(cause, MisconfigurationException):
            if "No supported gpu backend" in str(cause):
                return "trainer.accelerator: gpu was asked for, but this machine has no GPU that torch can use"
            return f"trainer: {one_line(str(cause))}"
        cause = cause.__cause__ or cause.__context__
    return None


_MISSPELLED = (
    re.compile(r"unrecognized arguments: --(?P<option>[\w.]+)"),
    re.compile(r"Group '(?P<group>[\w.]+)' does not accept option '(?P<option>[\w.]+)'"),
    re.compile(r"^(?P<group>[\w.]+): Problem with given class_path .*Option '(?P<option>[\w.]+)' is not accepted"),
)


def closest_option(message: str, options: Sequence[str]) -> str:
    """``message`` (one line) with the closest of ``options`` (dotted names) to the option it
    names as unknown: ``…; closest: model.layers``."""
    for pattern in _MISSPELLED:
        found = pattern.search(message)
        if found is None:
            continue
        group = found.groupdict().get("group")
        option = f"{group}.{found['option']}" if group else found["option"]
        close = difflib.get_close_matches(option, options, n=2, cutoff=0.8)
        return f"{message}; closest: {', '.join('--' + name for name in close)}" if close else message
    return message
