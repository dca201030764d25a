"""Where the page writes: one temporary folder, a folder in it per browser session (removed when the
session's page closes), the atlas sheets it made once (kept while it runs), all removed when it stops."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Optional

from dreamer.app.runs import PageRun
from dreamer.live.camera import Camera


class Workspace:
    """The page's folders and the run each session has going (for its stop button)."""

    def __init__(self, root: Optional[Path] = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="dreamer-app-", dir=root))
        self.runs: dict[str, PageRun] = {}
        self.cameras: dict[str, Camera] = {}  # a session's Live camera, closed with the session
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    @staticmethod
    def _key(session: str) -> str:
        return hashlib.sha256(session.encode()).hexdigest()[:24]  # the browser's id never becomes a path

    def session(self, session: str) -> Path:
        folder = self.root / "sessions" / self._key(session)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def new_run(self, session: str, kind: str) -> Path:
        """A fresh folder for one run of this session: ``sessions/<id>/<kind>-<n>``."""
        with self._lock:
            count = self._counts[session] = self._counts.get(session, 0) + 1
        folder = self.session(session) / f"{kind}-{count:04d}"
        folder.mkdir()
        return folder

    def atlas(self, *key: object) -> Path:
        """The folder for one atlas (backbone, layer, channels, steps): shared by every session."""
        digest = hashlib.sha256(repr(key).encode()).hexdigest()[:16]
        return self.root / "atlas" / digest

    def close_session(self, session: str) -> None:
        run, camera = self.runs.pop(session, None), self.cameras.pop(session, None)
        if run is not None:
            run.stop.set()
        if camera is not None:
            camera.close()
        shutil.rmtree(self.root / "sessions" / self._key(session), ignore_errors=True)

    def close(self) -> None:
        for run in self.runs.values():
            run.stop.set()
        for camera in self.cameras.values():
            camera.close()
        shutil.rmtree(self.root, ignore_errors=True)
