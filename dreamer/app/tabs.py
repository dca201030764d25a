"""The page's tabs: what each button does. Every button runs the engine through ``PageRun`` (the
command line's ``execute``: module, callbacks and Trainer), and every tab watches its run the same
way (``Tab.watch``)."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Optional

import gradio as gr

from dreamer.app.form import form_settings, page_network
from dreamer.app.recipe import Recipe, preset, preset_value, recipe_yaml
from dreamer.app.runs import Finished, PageRun, Preview, Progress, first_written
from dreamer.app.uploads import UploadError, take_photo, take_video
from dreamer.app.workspace import Workspace
from dreamer.command.spec import RunSpec
from dreamer.errors import ConfigError
from dreamer.files.bundled import SAMPLE_PHOTO
from dreamer.files.imageio import with_recipe
from dreamer.files.recipes import read_recipe, renamed_inputs

QUIET = {"trainer.logger": False, "trainer.enable_progress_bar": False}  # the page shows progress itself
PHOTO_NAME = "photo"  # the recipe's name for the photo: the downloads hold it, byte for byte
PROGRESS_EVERY = 0.5  # seconds between moves of the progress bar
ZOOM, VIDEO = "Zoom into the photo", "Dream the video"


@dataclass
class Page:
    """What every handler needs: the folders, and the Trainer options ``dreamer app`` was given."""

    workspace: Workspace
    trainer: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    routes: list[tuple[str, Any]] = field(default_factory=list)  # (path, handler): POST routes beside Gradio's

    @property
    def accelerator(self) -> Optional[str]:
        """The ``--trainer.accelerator`` the page was started with, if any."""
        given = [option.split("=", 1)[1] for option in self.trainer if option.startswith("--trainer.accelerator=")]
        return given[0] if given else None


@dataclass
class DreamForm:
    """The Dream tab's inputs: the kept photo, the preset, and the settings' fields by dotted key."""

    photo: gr.State
    preset: gr.Dropdown
    settings: dict[str, Any] = field(default_factory=dict)  # "model.layers" → its component

    def inputs(self) -> set[Any]:
        """Gradio hands a handler of a set of inputs one dict of their values, by component."""
        return {self.photo, self.preset, *self.settings.values()}

    def read(self, given: dict[Any, Any]) -> tuple[Optional[str], str, dict[str, Any]]:
        """The kept photo, the preset's name and the settings' values by key."""
        values = {key: given[component] for key, component in self.settings.items()}
        return given[self.photo], given[self.preset], values


def status_line(text: str, error: bool = False) -> str:
    return f"**dreamer: error:** {text}" if error else text


def follow(run: PageRun, progress: gr.Progress) -> Iterator[tuple[Optional[Preview], Optional[Finished], str]]:
    """The run's events as the page shows them: the newest picture of those that came together, the
    progress bar moved at most every ``PROGRESS_EVERY`` seconds (each move is a message to the
    browser, and the browser shares the machine with the dream), and the run's end."""
    shown, where = 0.0, ""
    for arrived in run.events():
        previews = [e for e in arrived if isinstance(e, Preview)]
        steps = [e for e in arrived if isinstance(e, Progress)]
        finished = arrived[-1] if isinstance(arrived[-1], Finished) else None
        if steps and time.monotonic() - shown >= PROGRESS_EVERY:
            progress(steps[-1].fraction, desc=steps[-1].where)
            shown = time.monotonic()
        where = previews[-1].where if previews else (steps[-1].where if steps else where)
        if previews or finished:
            yield (previews[-1] if previews else None), finished, where
        if finished:
            return


class Session:
    """What the tabs share: the page's folders and options, the session's running run (for Stop)."""

    def __init__(self, page: Page) -> None:
        self.page = page

    def start(self, request: gr.Request, spec: Callable[[], RunSpec]) -> PageRun:
        """Start the run ``spec`` makes (quiet: the page shows its progress itself)."""
        run = PageRun(lambda: spec().set(QUIET))
        self.page.workspace.runs[request.session_hash or ""] = run.start()
        return run

    def done(self, request: gr.Request) -> None:
        self.page.workspace.runs.pop(request.session_hash or "", None)

    def folder(self, request: gr.Request, kind: str) -> Path:
        return self.page.workspace.new_run(request.session_hash or "", kind)

    def stop(self, request: gr.Request) -> str:
        run = self.page.workspace.runs.get(request.session_hash or "")
        if run is None:
            return "Nothing is running."
        run.stop.set()
        return "Stopping …"

    def photo(self, kept: Optional[str], folder: Path) -> Path:
        """The photo to dream, copied into the run's folder as ``photo.<ext>`` (the sample by default)."""
        source = Path(kept) if kept else SAMPLE_PHOTO
        target = folder / f"{PHOTO_NAME}{source.suffix.lower()}"
        shutil.copyfile(source, target)
        return target

    def take_photo(self, upload: Optional[str], request: gr.Request) -> tuple[Optional[str], Any, str]:
        """Check an upload and keep it in the session's folder; an empty upload means the sample."""
        if not upload:
            return None, str(SAMPLE_PHOTO), "The bundled sample photo."
        folder = self.page.workspace.session(request.session_hash or "")
        try:
            photo = take_photo(Path(upload), Path(upload).name, folder / "upload")
        except UploadError as error:
            return None, str(SAMPLE_PHOTO), status_line(str(error), error=True)
        return str(photo), str(photo), "Your photo is ready."

    def take_video(self, upload: Optional[str], request: gr.Request) -> tuple[Optional[str], str]:
        if not upload:
            return None, "No video: **Zoom** dreams into the photo of the first tab."
        folder = self.page.workspace.session(request.session_hash or "")
        try:
            video = take_video(Path(upload), Path(upload).name, folder / "upload")
        except UploadError as error:
            return None, status_line(str(error), error=True)
        return str(video), "Your video is ready."


def ended(finished: Finished, where: str) -> Optional[str]:
    """The status line of a run that made nothing to show (a bad setting, a failed input, Stop), else None."""
    if finished.error:
        return status_line(finished.error, error=True)
    done = finished.outcome
    if done is not None and done.failed:
        return status_line(done.failed[0], error=True)
    if finished.stopped or done is None or done.missing:
        return f"Stopped at {where or 'the start'}."
    return None


@dataclass
class Tab:
    """A tab of the page: its handlers, with the session's shared state."""

    session: Session

    def watch(
        self,
        request: gr.Request,
        spec: Callable[[], RunSpec],
        progress: gr.Progress,
        width: int,
        made: Callable[[Finished], bool],
        finish: Callable[[Finished], tuple[Any, ...]],
        doing: str = "Dreaming",
        live: bool = True,
        failed: Callable[[], None] = lambda: None,
    ) -> Iterator[tuple[Any, ...]]:
        """Run the spec ``spec`` makes; while it grows yield (``doing`` and where, the newest picture if the tab
        shows it ``live``, the other outputs unchanged); then ``finish``'s outputs if it ``made``
        what it should, else ``failed()`` and the status line alone (a bad setting, a failed input, Stop)."""
        nothing = gr.update()
        run = self.session.start(request, spec)
        try:
            for preview, finished, where in follow(run, progress):
                if finished is None:
                    picture = preview.image if preview and live else nothing
                    yield f"{doing}: {where}", picture, *[nothing] * (width - 2)
                    continue
                problem = ended(finished, where)
                if problem or not made(finished):
                    failed()
                    yield problem or f"Stopped at {where}.", *[nothing] * (width - 1)
                    return
                yield finish(finished)
        finally:
            self.session.done(request)


@dataclass
class DreamTab(Tab):
    """Dream a photo: upload, a preset, the settings people turn, a live preview, the recipe."""

    form: DreamForm

    def dream(
        self,
        given: dict[Any, Any],
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008  (Gradio's way: a default it replaces)
    ) -> Iterator[tuple[Any, ...]]:
        """Run the dream of the form's values (``given``, by component); yield the page's updates:
        status, live picture, before/after, downloads, command, recipe."""
        kept, config, values = self.form.read(given)
        nothing = gr.update()
        try:
            recipe = Recipe.from_form(config, form_settings(values), self.session.page.trainer)
        except ConfigError as error:
            yield status_line(str(error), error=True), *[nothing] * 5
            return
        folder = self.session.folder(request, "dream")
        photo, target = self.session.photo(kept, folder), folder / "dream.png"
        shown = {"data.images": photo.name, "data.output": target.name}
        yield "Starting …", gr.update(visible=True), gr.update(visible=False), None, recipe.command(shown), nothing

        def finish(finished: Finished) -> tuple[Any, ...]:
            recipe_file = folder / "recipe.yaml"
            text = recipe_yaml(finished.config_text, shown, drop=list(QUIET))
            recipe_file.write_text(text)
            inside = read_recipe(target)
            if inside is not None:  # the download's recipe names the photo as it is downloaded
                with_recipe(target, renamed_inputs(inside, {"data.images": photo.name}, drop=list(QUIET)))
            return (
                f"Dreamed in {finished.seconds:.1f} s.",
                gr.update(value=str(target), visible=False),  # the before/after shows it now
                gr.update(value=(str(photo), str(target)), visible=True),
                [str(target), str(recipe_file), str(photo)],
                recipe.command(shown),
                text,
            )

        spec = partial(recipe.spec, {"data.images": str(photo), "data.output": str(target)})
        yield from self.watch(request, spec, progress, 6, lambda _: target.is_file(), finish)


class ExploreTab(Tab):
    """A layer's channels, each dreamed from noise (the atlas preset, fewer steps), made once per
    layer and kept while the page runs; a click on a channel dreams it into the photo."""

    def atlas(
        self,
        config: str,
        network: str,
        layer: str,
        channels: str,
        steps: float,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> Iterator[tuple[Any, ...]]:
        """Yield status, the gallery of channels, the channel of each picture, and the contact sheets."""
        try:
            backbone, weights = page_network(network), preset_value(preset(config), "model.weights")
        except ConfigError as error:
            yield status_line(str(error), error=True), [], [], []
            return
        folder = self.session.page.workspace.atlas(backbone, weights, layer, channels, int(steps))
        made = atlas_pictures(folder)
        if made:
            yield f"{len(made)} channels of layer {layer} (made before).", *shown_atlas(folder, made)
            return
        settings = {"model.backbone": backbone, "model.weights": weights, "model.layers": layer}
        settings |= {"octaves.iterations": int(steps), "data.channels": channels}
        spec = partial(Recipe("atlas", settings, self.session.page.trainer).spec, {"data.output": str(folder / "new")})

        def finish(finished: Finished) -> tuple[Any, ...]:
            (folder / "new").rename(folder / "done")  # only a finished atlas is kept
            made = atlas_pictures(folder)
            status = f"{len(made)} channels of layer {layer}: click one to dream it into your photo."
            return status, *shown_atlas(folder, made)

        def forget() -> None:
            shutil.rmtree(folder, ignore_errors=True)

        doing = "Dreaming the channels"  # no live picture: the gallery fills when the atlas is done
        yield from self.watch(request, spec, progress, 4, lambda _: True, finish, doing, live=False, failed=forget)


def atlas_pictures(folder: Path) -> list[tuple[int, Path]]:
    """A finished atlas's pictures by channel (``<layer>-c0007.png`` is channel 7)."""
    found = []
    for path in sorted((folder / "done").glob("*/*-c[0-9]*.png")):
        match = re.search(r"-c(\d+)(?:-\d+)?\.png$", path.name)
        if match:
            found.append((int(match.group(1)), path))
    return found


def shown_atlas(folder: Path, made: list[tuple[int, Path]]) -> tuple[list[tuple[str, str]], list[int], list[str]]:
    """The gallery (each picture captioned with its channel), the channels in its order, the sheets."""
    sheets = sorted(str(path) for path in (folder / "done").glob("*-sheet*.png"))
    return [(str(path), f"channel {channel}") for channel, path in made], [c for c, _ in made], sheets


class MotionTab(Tab):
    """A zoom into the photo, or a short video dreamed frame by frame; the MP4 plays when done."""

    def motion(
        self,
        kept_photo: Optional[str],
        kept_video: Optional[str],
        kind: str,
        frames: float,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> Iterator[tuple[Any, ...]]:
        """Yield status, the newest frame, the video, downloads and the command."""
        nothing = gr.update()
        folder = self.session.folder(request, "motion")
        if kind == ZOOM:
            source = self.session.photo(kept_photo, folder)
            recipe = Recipe("zoom", {"data.frames": int(frames)}, self.session.page.trainer)
            key = "data.images"
        elif kept_video:
            source = folder / Path(kept_video).name
            shutil.copyfile(kept_video, source)
            recipe, key = Recipe("video", {}, self.session.page.trainer), "data.video"
        else:
            yield status_line("no video: upload one first (or choose the zoom)", error=True), *[nothing] * 4
            return
        output = folder / "motion"
        shown = {key: source.name, "data.output": output.name}
        yield "Starting …", nothing, None, None, recipe.command(shown)

        def video(finished: Finished) -> Optional[Path]:
            return first_written(finished.outcome, ".mp4") if finished.outcome else None

        def finish(finished: Finished) -> tuple[Any, ...]:
            recipe_file = folder / "recipe.yaml"
            recipe_file.write_text(recipe_yaml(finished.config_text, shown, drop=list(QUIET)))
            files = [str(video(finished)), str(recipe_file), str(source)]
            return f"Dreamed in {finished.seconds:.1f} s.", nothing, str(video(finished)), files, recipe.command(shown)

        spec = partial(recipe.spec, {key: str(source), "data.output": str(output)})
        yield from self.watch(request, spec, progress, 5, lambda finished: video(finished) is not None, finish)
