"""The Live tab: the browser's camera dreamed as it films, through the command line's own engine.

Start holds the engine for the whole session (it is one long event of the page's one-at-a-time
queue, so a dream asked for elsewhere waits and says so) and runs ``dreamer fit`` of the live
preset (``live.data.LiveDataModule``), the session's camera handed to it. The camera's frames
come as stream events, which only drop the frame into the camera's one slot and send back the
newest dream with the frame rate and delay. Steps, step size, carry and size are taken at the next
frame; a new look, layer or channels restarts the run between two frames, going on from the dream
shown. Stop (or closing the tab) closes the camera.
"""

from __future__ import annotations

import collections
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Optional
from urllib.parse import quote

import cv2
import gradio as gr
import numpy as np
import torch
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from dreamer.app.form import channel_list, layer_choices
from dreamer.app.recipe import cli_text, preset
from dreamer.app.runs import Finished, PageRun
from dreamer.app.tabs import Session, ended
from dreamer.command.spec import RunSpec, spec_of_content
from dreamer.errors import ConfigError
from dreamer.live.auto import AutoSize
from dreamer.live.camera import Camera, Shown, Tuning

LIVE_PRESETS = ("live", "quickstart")  # the looks Live offers (their model settings)
SIZES = (160, 224, 320, 384, 512)
AUTO = "auto"  # the size control's choice of the largest size that holds AUTO_RATE frames/s
AUTO_RATE = 10.0
RESTART_WAIT = 0.2  # seconds between looks at the run (new settings, Stop)
SNAPSHOT_WAIT = 5.0  # seconds Snapshot waits for the running dream to write it
MAX_HOLD = 0.5  # seconds a camera frame's answer waits for a dream at most
EARLY = 0.02  # seconds before the running dream's expected end the next camera frame is to arrive
FRAME_BYTES = 8 << 20  # the largest camera frame the page may send (a JPEG)


def default_size(accelerator: Optional[str]) -> int:
    """The long side Live starts at (and "auto" starts from): 320 on a CPU, 512 where a GPU dreams."""
    on_gpu = accelerator in ("gpu", "cuda") or (accelerator in (None, "auto") and torch.cuda.is_available())
    return 512 if on_gpu else 320


@dataclass(frozen=True)
class LiveSettings:
    """What the Live tab's controls say."""

    look: str = "live"
    layer: str = "11"
    channels: str = ""
    steps: int = 2
    lr: float = 0.012
    carry: float = 0.9
    size: int = 320
    auto: bool = False  # the size chosen by the frame rate (AutoSize), starting from ``size``
    mirror: bool = True

    @property
    def tuning(self) -> Tuning:
        """What a running dream takes at its next frame, without a restart."""
        return Tuning(self.steps, self.lr, self.carry, self.size, self.mirror, self.layer, self.chosen_channels)

    @property
    def chosen_channels(self) -> Optional[tuple[int, ...]]:
        """The channels control as numbers (``None``: the whole layer)."""
        chosen = channel_list(self.channels)
        return tuple(chosen) if chosen else None

    def restarts(self, other: LiveSettings) -> bool:
        """Whether going from ``other`` to these settings needs a new run: a new look (its network);
        a new layer or channels is taken at the next frame (``live.layers.TakesLayers``)."""
        return self.look != other.look

    def spec(self, look: str, camera: Camera, output: Path, trainer: Sequence[str]) -> RunSpec:
        """The live run of these settings: ``look``'s model on the live preset, dreaming ``camera``
        (handed over, never named), recording into ``output``, with the page's Trainer options."""
        settings = {
            "data.output": str(output),
            "data.size": self.size,
            "data.carry": self.carry,
            "data.mirror": self.mirror,
            "data.frame_iterations": self.steps,
            "data.frame_lr": self.lr,
            "model.lr": self.lr,
            "model.layers": self.layer,  # the control's text, read as the flag's would be
            "model.channels": cli_text(channel_list(self.channels)),
            **dict(option.removeprefix("--").split("=", 1) for option in trainer),
        }
        return spec_of_content(live_config(look)).set(settings).with_runtime(camera=camera)


def settings_of(
    look: str, layer: str, channels: str, steps: float, lr: float, carry: float, size: str, mirror: bool,
    auto_size: int = SIZES[0],
) -> LiveSettings:  # fmt: skip
    """The controls' values as settings (an "auto" size starts at, or stays at, ``auto_size``)."""
    auto = str(size) == AUTO
    side = auto_size if auto else int(size)
    return LiveSettings(look, str(layer), channels or "", int(steps), float(lr), float(carry), side, auto, bool(mirror))


def live_config(look: str) -> dict[str, Any]:
    """The live preset with the model settings of ``look`` (a preset)."""
    config = preset("live")
    if look != "live":
        config["model"] = preset(look).get("model", {})
        config["model"].pop("tile_size", None)  # a live frame is never tiled
    return config


@dataclass
class LiveState:
    """One session's Live: its camera, the settings asked for, what was recorded, the shown rate."""

    camera: Camera
    wanted: LiveSettings
    recordings: list[Path] = field(default_factory=list)
    sent: collections.deque[tuple[int, float]] = field(default_factory=lambda: collections.deque(maxlen=60))
    delays: collections.deque[float] = field(default_factory=lambda: collections.deque(maxlen=30))
    last_sent: Optional[Shown] = None
    auto: Optional[AutoSize] = None  # choosing the size, where the size control says "auto"
    answered: Optional[float] = None  # when the last camera frame was answered
    waited: float = 0.0  # how long the page was told to wait before its next frame (s)
    coming: collections.deque[float] = field(
        default_factory=lambda: collections.deque(maxlen=15)
    )  # answer → next frame

    def files(self) -> list[str]:
        """What to download: the recordings (each dream MP4 with its camera MP4) and the snapshots."""
        made = [*self.recordings, *self.camera.recordings, *self.camera.snapshots]
        return [str(path) for path in dict.fromkeys(made)]

    def stats(self) -> str:
        """``10.2 frames/s · 120 ms · 320 px · layer 11``: dreams sent per second over the last ones,
        their median delay (from the camera frame's arrival to its dream leaving for the page), the
        size they were dreamed at (``(auto)`` where the frame rate chooses it; the page fits its camera
        to it) and the layer they climbed."""
        if len(self.sent) < 2 or self.last_sent is None:
            return "starting …"
        span = self.sent[-1][1] - self.sent[0][1]
        rate = (len(self.sent) - 1) / span if span > 0 else 0.0
        side = f"{max(self.last_sent.dream.shape[:2])} px" + (" (auto)" if self.auto is not None else "")
        layer = f" · layer {self.last_sent.layer}" if self.last_sent.layer else ""
        return f"{rate:.1f} frames/s · {1000 * float(np.median(self.delays)):.0f} ms · {side}{layer}"


class LiveTab:
    """Start, Stop, Record, the settings, and each camera frame."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.lives: dict[str, LiveState] = {}
        self.tokens: dict[str, str] = {}  # a running Live's token → its page session
        self.auto_start = default_size(session.page.accelerator)  # where an "auto" size begins

    def key(self, request: gr.Request) -> str:
        return request.session_hash or ""

    def start(
        self, look: str, layer: str, channels: str, steps: float, lr: float, carry: float, size: str,
        mirror: bool, recording: bool, request: gr.Request,
    ) -> Iterator[tuple[Any, ...]]:  # fmt: skip
        """Run Live until Stop or the tab closes; yield the status line, the recordings, and the
        token the page sends its camera frames with (``answer``)."""
        key = self.key(request)
        settings = settings_of(look, layer, channels, steps, lr, carry, size, mirror, self.auto_start)
        camera = Camera()
        camera.recording, camera.tuning = bool(recording), settings.tuning
        self.session.page.workspace.cameras[key] = camera
        state = self.lives[key] = LiveState(camera, settings)
        state.auto = AutoSize(SIZES, AUTO_RATE, settings.size) if settings.auto else None
        token = secrets.token_urlsafe(16)
        self.tokens[token] = key
        folder = self.session.folder(request, "live")
        try:
            while not camera.closed:
                running = state.wanted
                trainer = self.session.page.trainer
                spec = partial(running.spec, running.look, camera, folder / "recordings", trainer)
                run = self.session.start(request, spec)
                side = "auto size" if running.auto else f"{running.size} px"
                yield f"Live: {running.look}, layer {running.layer}, {side}.", state.files(), token
                finished = self.follow(run, state, running)
                failed = finished.error or (finished.outcome is not None and finished.outcome.failed)
                problem = ended(finished, "") if failed else None
                if problem:
                    yield problem, state.files(), ""
                    return
            yield "Stopped.", state.files(), ""
        finally:
            camera.close()
            self.tokens.pop(token, None)
            self.lives.pop(key, None)
            self.session.page.workspace.cameras.pop(key, None)
            self.session.done(request)

    def follow(self, run: PageRun, state: LiveState, running: LiveSettings) -> Finished:
        """Wait for ``run`` to end, stopping it when the settings change (it is restarted) or Live stops."""
        for arrived in run.events():  # the last list ends with Finished
            if isinstance(arrived[-1], Finished):
                finished = arrived[-1]
                if finished.outcome is not None:
                    state.recordings.extend(finished.outcome.written + finished.outcome.also_written)
                return finished
            if state.wanted.restarts(running) or state.camera.closed:
                run.stop.set()
        raise RuntimeError("a page run ended without saying so")

    def answer(self, token: str, picture: np.ndarray) -> tuple[Optional[np.ndarray], str, float]:
        """A camera frame sent with ``token`` (``route``): into the camera's slot; back, the newest
        dream (``None``: none new within ``MAX_HOLD``), the stats, and how long the page should wait
        before it films the next frame (s).

        The answer waits for the running dream and leaves the moment it is shown; the wait it names
        is the next dream's expected time less the time a frame takes to come from the page, so the
        next frame arrives just as the dream before it ends: one frame sent per dream, never much
        older than the dream's start.

        Raises:
            KeyError: no Live runs with ``token``.
        """
        state = self.lives[self.tokens[token]]
        arrived = time.monotonic()
        if state.answered is not None:
            state.coming.append(max(0.0, arrived - state.answered - state.waited))
        state.camera.put(picture)
        shown = state.camera.wait_shown(state.last_sent, arrived + MAX_HOLD)
        state.answered = now = time.monotonic()
        due = state.camera.due()
        coming = float(np.percentile(state.coming, 75)) if state.coming else 0.0  # rather early than late
        state.waited = max(0.0, due - now - coming - EARLY) if due is not None else 0.0
        if shown is None or shown is state.last_sent:
            return None, state.stats(), state.waited
        state.last_sent = shown
        state.sent.append((shown.number, now))
        state.delays.append(now - shown.arrived)
        if state.auto is not None:
            side = state.auto.shown(max(shown.dream.shape[:2]), now)
            if side != state.wanted.size:
                state.wanted = replace(state.wanted, size=side)
                state.camera.tuning = state.wanted.tuning
        return shown.dream, state.stats(), state.waited

    async def route(self, token: str, request: Request) -> Response:
        """``POST /dreamer/live/<token>``: a camera frame (a JPEG, as the page's canvas makes it) in;
        the newest dream out (a JPEG; 204 when none is new), the stats in ``X-Dreamer-Stats`` and the
        wait before the next frame in ``X-Dreamer-Next`` (ms). A
        plain request beside Gradio's queue: a frame costs a JPEG each way and nothing else."""
        return await run_in_threadpool(self.respond, token, await request.body())

    def respond(self, token: str, body: bytes) -> Response:
        """The answer to a camera frame ``body`` sent with ``token``."""
        if token not in self.tokens:
            return Response(status_code=404)
        if not body or len(body) > FRAME_BYTES:
            return Response(status_code=413 if body else 400)
        picture = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
        if picture is None:
            return Response(status_code=400)
        try:
            dream, stats, wait = self.answer(token, cv2.cvtColor(picture, cv2.COLOR_BGR2RGB))
        except KeyError:  # Live stopped while the frame came
            return Response(status_code=404)
        headers = {"X-Dreamer-Stats": quote(stats), "X-Dreamer-Next": f"{1000 * wait:.0f}", "Cache-Control": "no-store"}
        if dream is None:
            return Response(status_code=204, headers=headers)
        encoded = cv2.imencode(".jpg", cv2.cvtColor(dream, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])[1]
        return Response(encoded.tobytes(), media_type="image/jpeg", headers=headers)

    def stop(self, request: gr.Request) -> None:
        """Close the camera: the run ends, and Start's event says "Stopped." (this one says nothing, so
        that its answer can never arrive after that line and hide it)."""
        state = self.lives.get(self.key(request))
        if state is not None:
            state.camera.close()

    def change(self, look: str, layer: str, channels: str, steps: float, lr: float, carry: float, size: str,
               mirror: bool, request: gr.Request) -> None:  # fmt: skip
        """New settings: taken at the next frame (a new layer or channels through the network already
        built; a new look: the running Live restarts with it between two frames)."""
        state = self.lives.get(self.key(request))
        if state is not None:
            wanted = settings_of(look, layer, channels, steps, lr, carry, size, mirror, state.wanted.size)
            try:
                wanted.chosen_channels  # noqa: B018 (checked here: a running dream takes only good settings)
            except ConfigError as error:
                raise gr.Error(str(error)) from None
            if wanted.auto and state.auto is None:
                state.auto = AutoSize(SIZES, AUTO_RATE, wanted.size)
            elif not wanted.auto:
                state.auto = None
            state.wanted = wanted
            state.camera.tuning = state.wanted.tuning

    def snapshot(self, request: gr.Request) -> Any:
        """Write the dream shown in the page as a PNG with its recipe (the settings of this moment),
        and offer it for download with the recordings."""
        state = self.lives.get(self.key(request))
        if state is None or state.last_sent is None:
            return gr.skip()
        before = state.camera.ask_snapshot(state.last_sent)
        state.camera.wait_snapshot(before, timeout=SNAPSHOT_WAIT)  # written at the end of the next frame
        return state.files()

    def record(self, recording: bool, request: gr.Request) -> Any:
        """Record from the next frame on, or finish the recording and offer it (with its camera frames)."""
        state = self.lives.get(self.key(request))
        if state is None:
            return gr.skip()
        state.camera.recording = bool(recording)
        if recording:
            return gr.skip()
        state.camera.wait_recorded(timeout=3.0)  # a recording is finished at the end of the next frame
        return state.files()

    @staticmethod
    def layers(look: str) -> Any:
        """The layer list of a look's network, at its own layer."""
        config = preset(look)
        own = str(config.get("model", {}).get("layers", "11"))
        return gr.update(choices=layer_choices(config), value=own)
