"""Child processes that run dreamer's own code.

A child imports the very ``dreamer`` its parent runs, never a ``dreamer/`` folder that happens to be
in the current directory: Python runs isolated (``-I``: neither the current folder, nor
``PYTHONPATH``, nor the user's site folder on ``sys.path``), with the folder the parent's ``dreamer``
came from appended. A child also never outlives its parent: it ends itself when the parent dies,
even by ``kill -9``, and publishes no file after that (``orphaned``, checked by ``atomic_path``).
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import dreamer

PACKAGE_HOME = str(Path(dreamer.__file__).resolve().parent.parent)

_BOOT = "import sys; sys.path.append(sys.argv[1]); from dreamer.files.children import child_main; child_main()"


def command(entry: str, *args: str) -> list[str]:
    """The command line of a child that calls ``entry`` (``"package.module:function"``) with ``args``
    as its list of arguments; the function's return value (an int, or ``None``) is the exit status."""
    return [sys.executable, "-I", "-c", _BOOT, PACKAGE_HOME, str(os.getpid()), entry, *args]


def run(entry: str, *args: str, **options: Any) -> subprocess.CompletedProcess:
    """``subprocess.run`` of ``command(entry, *args)``."""
    return subprocess.run(command(entry, *args), **options)


def popen(entry: str, *args: str, **options: Any) -> subprocess.Popen:
    """``subprocess.Popen`` of ``command(entry, *args)``."""
    return subprocess.Popen(command(entry, *args), **options)


_PARENT: int | None = None  # in a child: the process that started it


def orphaned() -> bool:
    """Whether this process is a child whose parent is gone: it must then publish nothing."""
    return _PARENT is not None and os.getppid() != _PARENT


def _follow_parent(parent: int) -> None:
    """End this process as soon as ``parent`` is gone (this process is then re-parented)."""
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(70)


def child_main() -> None:
    """Entry point of a child (``sys.argv``: ``-c``, home, parent pid, entry, arguments)."""
    global _PARENT
    parent, entry, args = int(sys.argv[2]), sys.argv[3], sys.argv[4:]
    _PARENT = parent
    if orphaned():
        os._exit(70)
    threading.Thread(target=_follow_parent, args=(parent,), daemon=True).start()
    module, _, function = entry.partition(":")
    sys.exit(getattr(importlib.import_module(module), function)(args))
