"""Where a run may write: inside its output folder, never over one of its inputs, never over an
existing file unless asked, and never leaving a half-written file behind.

Every output path a data module plans passes ``OutputRules.refusal``; every file is written under a
temporary name (``temporary_prefix``) and renamed into place, so a killed run leaves the old file or
the whole new one. The temporary names carry the writing process's id and host, so a later run on
the same host removes what a killed one left (``remove_leftovers``) without touching a live run's.
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from dreamer.files import children

_UMASK = os.umask(0)
os.umask(_UMASK)
_HOST = socket.gethostname().replace("/", "_")
_LEFTOVER = re.compile(r"^\..*\.dreamer-(?P<pid>\d+)@(?P<host>.+)\.[^.]+\.part$")


_NAME_MAX = 255  # bytes in one file name, on every common file system
_RANDOM = 8  # mkstemp's random part


def temporary_prefix(target: Path) -> str:
    """``mkstemp``'s prefix for a temporary file that becomes ``target`` (its suffix: ``.part``): the
    target's name, cut short where the whole temporary name would be longer than a file name may be
    (any name the file system takes for the output works)."""
    tail = f".dreamer-{os.getpid()}@{_HOST}."
    room = _NAME_MAX - len(tail.encode()) - _RANDOM - len(".part") - 1
    name = target.name.encode()[: max(room, 0)].decode(errors="ignore")
    return f".{name}{tail}"


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target`` to write to; renamed to ``target`` (with the usual file
    permissions) if the block succeeds, deleted if it fails, so ``target`` is never half-written.
    (No fsync: it would cost milliseconds per file for protection against power loss only.)"""
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(dir=target.parent, prefix=temporary_prefix(target), suffix=".part")
    os.close(descriptor)
    temporary = Path(name)
    try:
        yield temporary
        if children.orphaned():  # a child whose parent was killed: the parent's run is over
            raise OSError(f"{target}: not published, the process that asked for it is gone")
        os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the usual permissions
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def output_names(names: list[str], suffix: str) -> list[str]:
    """Each input name's output name with ``suffix`` (``a/b.jpg`` → ``a/b.png``); names that share a
    stem (``beach.jpg``, ``beach.png``) keep their whole name instead (``beach.jpg.png``,
    ``beach.png.png``), so no two inputs share an output."""
    stems = Counter(os.path.splitext(name)[0] for name in names)
    return [
        name + suffix if stems[os.path.splitext(name)[0]] > 1 else os.path.splitext(name)[0] + suffix for name in names
    ]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_leftovers(folders: Iterable[Path]) -> list[Path]:
    """Delete the temporary files in ``folders`` (not their sub-folders) that a process of this host
    which no longer runs left behind (``kill -9``); the files removed."""
    removed = []
    for folder in folders:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            match = _LEFTOVER.match(name)
            if match and match["host"] == _HOST and not _alive(int(match["pid"])):
                try:
                    (folder / name).unlink()
                    removed.append(folder / name)
                except OSError:
                    pass
    return removed


def identity(path: Path) -> Optional[tuple[int, int]]:
    """``(device, inode)`` of an existing file (the same for every name of it: links, ``..``), else ``None``."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_dev, status.st_ino


@dataclass
class OutputRules:
    """What a run may write.

    Args:
        folder: The output folder; every written path must resolve inside it.
        overwrite: Whether an existing output may be replaced (never an input).
        inputs: Every file the run reads (photos, videos, guides, configs, weights), by identity.
    """

    folder: Path
    overwrite: bool = False
    inputs: set[tuple[int, int]] = field(default_factory=set)
    _real: dict[Path, Path] = field(default_factory=dict, repr=False)

    def protect(self, paths: Iterable[Path]) -> None:
        """Add ``paths`` (files, or folders whose files are all protected) to the inputs."""
        for path in paths:
            if path.is_dir():
                self.protect(child for child in path.iterdir() if child.is_file())
            elif (key := identity(path)) is not None:
                self.inputs.add(key)

    def refusal(self, path: Path) -> Optional[str]:
        """Why ``path`` must not be written whatever the options (outside the folder, an input), else ``None``."""
        if not self._real_folder(path.parent).is_relative_to(self._real_folder(self.folder)):
            return f"{path} would lie outside data.output ({self.folder})"
        if identity(path) in self.inputs:
            return f"{path} is one of this run's inputs"
        return None

    def kept(self, path: Path) -> bool:
        """Whether ``path`` exists and stays as it is (no ``overwrite``)."""
        return not self.overwrite and os.path.lexists(path)

    def admit(self, source: Path, target: Path, failed: list[str], skipped: list[Path]) -> bool:
        """Whether ``source`` may be dreamed into ``target`` now; if not, ``failed`` (refused) or
        ``skipped`` (exists, no ``overwrite``) says so."""
        reason = self.refusal(target)
        if reason is not None:
            failed.append(f"{source}: not dreamed: its output {reason}; choose another data.output")
            return False
        if self.kept(target):
            skipped.append(target)
            return False
        return True

    def companion(self, target: Path, suffix: str, what: str, notes: list[str]) -> Optional[Path]:
        """Where a file that goes beside ``target`` goes (``<name><suffix>``: its config, its GIF), or
        ``None`` with a note in ``notes`` when it must not be written: an input, outside the folder,
        or an existing file without ``overwrite``."""
        path = target.with_suffix(suffix)
        reason = self.refusal(path)
        if reason is None and self.kept(path):
            reason = f"{path} exists (set --data.overwrite true to replace it)"
        if reason is not None:
            notes.append(f"{what} not saved beside {target.name}: {reason}")
            return None
        return path

    def _real_folder(self, folder: Path) -> Path:
        """``folder`` with every symlink resolved, once per folder (a plan has few)."""
        if folder not in self._real:
            self._real[folder] = Path(os.path.realpath(folder))
        return self._real[folder]
