"""The page: Gradio components and what each button does. Every button runs the engine through
``PageRun`` (the command line's ``DreamerCLI``, module, callbacks and Trainer); one run at a time per
device, the others wait in Gradio's queue, which tells each page its place."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import gradio as gr

from dreamer.app.recipe import SETTINGS, Recipe, photo_presets, preset, preset_value, recipe_yaml
from dreamer.app.runs import Finished, PageRun, Preview, Progress, first_written
from dreamer.app.uploads import UploadError, take_photo, take_video
from dreamer.app.workspace import Workspace
from dreamer.command.api import cli_text
from dreamer.engine.backbones import backbone_spec
from dreamer.errors import ConfigError
from dreamer.files.bundled import SAMPLE_PHOTO

DEVICE = "device"  # the concurrency group of every button that runs the engine: one run at a time
QUIET = ["--trainer.logger=false", "--trainer.enable_progress_bar=false"]  # the page shows progress itself
PHOTO_NAME = "photo"  # the recipe's name for the photo: the downloads hold it, byte for byte
TILES = ["none", "256", "512", "1024", "2048"]
PROGRESS_EVERY = 0.5  # seconds between moves of the progress bar


@dataclass
class Page:
    """What every handler needs: the folders, and the Trainer options ``dreamer app`` was given."""

    workspace: Workspace
    trainer: tuple[str, ...] = ()


def layer_choices(config: dict[str, Any]) -> list[str]:
    """The documented layers of the preset's backbone, and the preset's own layer schedule."""
    backbone = preset_value(config, "model.backbone") or "vgg16"
    own = str(preset_value(config, "model.layers"))
    choices = list(backbone_spec(backbone).layers)
    return choices if own in choices else [own, *choices]


def form_values(name: str) -> list[Any]:
    """The form's fields at the preset's values (layer, channel, octaves … seed)."""
    config = preset(name)
    value = {key: preset_value(config, key) for key in SETTINGS}
    tile = value["model.tile_size"]
    return [
        gr.update(choices=layer_choices(config), value=str(value["model.layers"])),
        channels_text(value["model.channels"]),
        str(value["octaves.count"]),
        value["octaves.scale"],
        value["octaves.iterations"],
        value["model.lr"],
        value["octaves.alpha"],
        value["model.jitter.roll"],
        value["model.filters.laplacian_levels"],
        str(tile) if tile else "none",
        value["data.seed"],
    ]


def form_settings(values: list[Any]) -> dict[str, Any]:
    """The form's fields as settings by dotted key, typed as the command line takes them."""
    layer, channel, octaves, scale, iterations, lr, alpha, roll, laplacian, tile, seed = values
    return {
        "model.layers": layer,
        "model.channels": channel_list(channel),
        "octaves.count": octaves if octaves == "auto" else int(octaves),
        "octaves.scale": round(float(scale), 4),
        "octaves.iterations": int(iterations),
        "model.lr": float(lr),
        "octaves.alpha": round(float(alpha), 4),
        "model.jitter.roll": int(roll),
        "model.filters.laplacian_levels": int(laplacian),
        "model.tile_size": None if tile == "none" else int(tile),
        "data.seed": int(seed or 0),
    }


def channels_text(channels: Any) -> str:
    """A preset's channels as the form shows them: ``""`` (the whole layer), ``7`` or ``3, 7``."""
    if not isinstance(channels, list) or not channels or not all(isinstance(c, int) for c in channels):
        return "" if channels is None else str(channels)
    return ", ".join(map(str, channels))


def channel_list(text: Optional[str]) -> Optional[list[int]]:
    """The form's channels (``7``, ``3, 7, 12``) as the command line takes them; empty: the whole layer."""
    text = (text or "").strip().strip("[]")
    if not text:
        return None
    try:
        channels = [int(part) for part in text.replace(",", " ").split()]
    except ValueError:
        raise ConfigError(f"model.channels: {text!r} is not a channel number (e.g. 7, or 3, 7, 12)") from None
    if any(channel < 0 for channel in channels):
        raise ConfigError(f"model.channels: {text!r}: channels are numbered from 0")
    return channels


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

    def start(self, request: gr.Request, arguments: list[str]) -> PageRun:
        run = PageRun(arguments + QUIET)
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
        arguments: list[str],
        progress: gr.Progress,
        width: int,
        made: Callable[[Finished], bool],
        finish: Callable[[Finished], tuple[Any, ...]],
    ) -> Iterator[tuple[Any, ...]]:
        """Run ``arguments``; while it grows yield (status, newest picture, the other ``width - 2``
        outputs unchanged); then ``finish``'s outputs if it ``made`` what it should, else the status
        line alone (a bad setting, a failed input, Stop)."""
        nothing = gr.update()
        run = self.session.start(request, arguments)
        try:
            for preview, finished, where in follow(run, progress):
                if finished is None:
                    yield f"Dreaming: {where}", preview.image if preview else nothing, *[nothing] * (width - 2)
                    continue
                problem = ended(finished, where)
                if problem or not made(finished):
                    yield problem or f"Stopped at {where}.", *[nothing] * (width - 1)
                    return
                yield finish(finished)
        finally:
            self.session.done(request)


class DreamTab(Tab):
    """Dream a photo: upload, a preset, the settings people turn, a live preview, the recipe."""

    def dream(
        self,
        kept: Optional[str],
        config: str,
        layer: str,
        channel: str,
        octaves: str,
        scale: float,
        iterations: float,
        lr: float,
        alpha: float,
        roll: float,
        laplacian: float,
        tile: str,
        seed: Optional[float],
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008  (Gradio's way: a default it replaces)
    ) -> Iterator[tuple[Any, ...]]:
        """Run the dream; yield the page's updates: status, live picture, before/after, downloads, command, recipe."""
        fields = [layer, channel, octaves, scale, iterations, lr, alpha, roll, laplacian, tile, seed]
        nothing = gr.update()
        try:
            recipe = Recipe.from_form(config, form_settings(fields), self.session.page.trainer)
        except ConfigError as error:
            yield status_line(str(error), error=True), *[nothing] * 5
            return
        folder = self.session.folder(request, "dream")
        photo, target = self.session.photo(kept, folder), folder / "dream.png"
        shown = {"data.images": photo.name, "data.output": target.name}
        yield "Starting …", gr.update(visible=True), gr.update(visible=False), None, recipe.command(shown), nothing

        def finish(finished: Finished) -> tuple[Any, ...]:
            recipe_file = folder / "recipe.yaml"
            text = recipe_yaml(finished.config_text, shown, drop=QUIET)
            recipe_file.write_text(text)
            return (
                f"Dreamed in {finished.seconds:.1f} s.",
                gr.update(value=str(target), visible=False),  # the before/after shows it now
                gr.update(value=(str(photo), str(target)), visible=True),
                [str(target), str(recipe_file), str(photo)],
                recipe.command(shown),
                text,
            )

        arguments = recipe.arguments({"data.images": str(photo), "data.output": str(target)})
        yield from self.watch(request, arguments, progress, 6, lambda _: target.is_file(), finish)


class ExploreTab(Tab):
    """A layer's channels, each dreamed from noise (the atlas preset, fewer steps), made once per
    layer and kept while the page runs; a click on a channel dreams it into the photo."""

    def atlas(
        self,
        config: str,
        layer: str,
        channels: str,
        steps: float,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> Iterator[tuple[Any, ...]]:
        """Yield status, the gallery of channels, the channel of each picture, and the contact sheets."""
        base = preset(config)
        backbone, weights = preset_value(base, "model.backbone") or "vgg16", preset_value(base, "model.weights")
        folder = self.session.page.workspace.atlas(backbone, weights, layer, channels, int(steps))
        made = atlas_pictures(folder)
        if made:
            yield f"{len(made)} channels of layer {layer} (made before).", *shown_atlas(folder, made)
            return
        arguments = [
            "--config=atlas",
            f"--model.backbone={backbone}",
            f"--model.weights={cli_text(weights)}",
            f"--model.layers={layer}",
            f"--octaves.iterations={int(steps)}",
            f"--data.channels={channels}",
            f"--data.output={folder / 'new'}",
            *self.session.page.trainer,
        ]
        run = self.session.start(request, arguments)
        try:
            for _, finished, where in follow(run, progress):
                if finished is None:
                    yield f"Dreaming the channels: {where}", *[gr.update()] * 3
                    continue
                problem = ended(finished, where)
                if problem:
                    shutil.rmtree(folder, ignore_errors=True)
                    yield problem, *[gr.update()] * 3
                    return
                (folder / "new").rename(folder / "done")  # only a finished atlas is kept
                made = atlas_pictures(folder)
                yield (
                    f"{len(made)} channels of layer {layer}: click one to dream it into your photo.",
                    *shown_atlas(folder, made),
                )
        finally:
            self.session.done(request)


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
            recipe_file.write_text(recipe_yaml(finished.config_text, shown, drop=QUIET))
            files = [str(video(finished)), str(recipe_file), str(source)]
            return f"Dreamed in {finished.seconds:.1f} s.", nothing, str(video(finished)), files, recipe.command(shown)

        arguments = recipe.arguments({key: str(source), "data.output": str(output)})
        yield from self.watch(request, arguments, progress, 5, lambda finished: video(finished) is not None, finish)


ZOOM, VIDEO = "Zoom into the photo", "Dream the video"


def build(page: Page) -> gr.Blocks:
    """The page's components and events."""
    session = Session(page)
    dream_tab, explore_tab, motion_tab = DreamTab(session), ExploreTab(session), MotionTab(session)
    presets = photo_presets()
    first = form_values(presets[0])
    engine: dict[str, Any] = dict(concurrency_id=DEVICE, concurrency_limit=1)
    with gr.Blocks(title="dreamer", analytics_enabled=False) as blocks:
        gr.Markdown("# dreamer\nDeepDream on your photo: pick a preset, press **Dream**, watch it grow.")
        kept_photo, kept_video, atlas_channels = gr.State(None), gr.State(None), gr.State([])
        with gr.Tabs() as tabs:
            with gr.Tab("Dream a photo", id="dream"), gr.Row():
                with gr.Column(scale=1):
                    upload = gr.File(label="Your photo (empty: the sample)", type="filepath", elem_id="upload")
                    config = gr.Dropdown(presets, value=presets[0], label="Preset", elem_id="preset")
                    layer = gr.Dropdown(first[0]["choices"], value=first[0]["value"], label="Layer", elem_id="layer")
                    channel = gr.Textbox(
                        first[1], label="Channels (empty: the whole layer; 7, or 3, 7, 12)", elem_id="channels"
                    )
                    octaves = gr.Dropdown(["auto", *map(str, range(1, 13))], value=first[2], label="Octaves")
                    scale = gr.Slider(1.2, 2.0, value=first[3], step=0.05, label="Octave scale")
                    iterations = gr.Slider(
                        1, 100, value=first[4], step=1, label="Steps per octave", elem_id="iterations"
                    )
                    lr = gr.Number(value=first[5], label="Step size", step=0.001)
                    alpha = gr.Slider(0.0, 1.0, value=first[6], step=0.05, label="Alpha (photo kept per octave)")
                    roll = gr.Slider(0, 64, value=first[7], step=1, label="Jitter (px)")
                    laplacian = gr.Slider(0, 8, value=first[8], step=1, label="Laplacian normalisation (levels)")
                    tile = gr.Dropdown(TILES, value=first[9], label="Tile size (big photos)")
                    seed = gr.Number(value=first[10], precision=0, label="Seed")
                    with gr.Row():
                        go = gr.Button("Dream", variant="primary", elem_id="dream-button")
                        stop = gr.Button("Stop", variant="stop", elem_id="stop-button")
                with gr.Column(scale=2):
                    status = gr.Markdown("The bundled sample photo.", elem_id="status")
                    live = gr.Image(
                        value=str(SAMPLE_PHOTO), label="Dream", interactive=False, format="jpeg", elem_id="live"
                    )
                    compare = gr.ImageSlider(label="Before / after", visible=False, elem_id="compare")
                    downloads = gr.File(label="Downloads", file_count="multiple", elem_id="downloads")
                    command = gr.Code(label="The same dream from the command line", language="shell", elem_id="command")
                    with gr.Accordion("Recipe: the whole resolved config (recipe.yaml)", open=False):
                        recipe = gr.Code(language="yaml", max_lines=24, elem_id="recipe", show_label=False)
            with gr.Tab("Explore a layer", id="explore"):
                gr.Markdown("Each channel of a layer, dreamed from noise. Click one to dream it into your photo.")
                with gr.Row():
                    explore_layer = gr.Dropdown(
                        first[0]["choices"], value=first[0]["value"], label="Layer", elem_id="explore-layer"
                    )
                    explore_channels = gr.Textbox(
                        "0-15", label="Channels (0-15, or 3, 7, 12)", elem_id="explore-channels"
                    )
                    explore_steps = gr.Slider(32, 512, value=128, step=32, label="Steps per channel")
                with gr.Row():
                    show = gr.Button("Show the channels", variant="primary", elem_id="explore-button")
                    explore_stop = gr.Button("Stop", variant="stop")
                explore_status = gr.Markdown("", elem_id="explore-status")
                sheet = gr.Gallery(label="Channels", columns=8, elem_id="atlas", allow_preview=False)
                sheet_files = gr.File(label="Contact sheets", file_count="multiple", elem_id="sheets")
            with gr.Tab("Motion", id="motion"):
                gr.Markdown(
                    "A zoom into the photo of the first tab, or a short video of yours, dreamed frame by frame."
                )
                with gr.Row():
                    with gr.Column(scale=1):
                        kind = gr.Radio([ZOOM, VIDEO], value=ZOOM, label="What to dream", elem_id="motion-kind")
                        frames = gr.Slider(8, 240, value=24, step=8, label="Zoom frames", elem_id="zoom-frames")
                        video_upload = gr.File(label="Your video (MP4, MOV …)", type="filepath", elem_id="video-upload")
                        with gr.Row():
                            motion_go = gr.Button("Dream", variant="primary", elem_id="motion-button")
                            motion_stop = gr.Button("Stop", variant="stop")
                    with gr.Column(scale=2):
                        motion_status = gr.Markdown("", elem_id="motion-status")
                        motion_live = gr.Image(label="Latest frame", interactive=False, format="jpeg")
                        motion_video = gr.Video(label="Dream", elem_id="motion-video")
                        motion_files = gr.File(label="Downloads", file_count="multiple")
                        motion_command = gr.Code(label="The same from the command line", language="shell")
        fields = [layer, channel, octaves, scale, iterations, lr, alpha, roll, laplacian, tile, seed]
        upload.change(session.take_photo, [upload], [kept_photo, live, status], queue=False)
        config.change(form_values, [config], fields, queue=False)
        config.change(lambda name: form_values(name)[0], [config], [explore_layer], queue=False)
        dream_outputs = [status, live, compare, downloads, command, recipe]
        go.click(dream_tab.dream, [kept_photo, config, *fields], dream_outputs, show_progress_on=[status], **engine)
        for button, shown in ((stop, status), (explore_stop, explore_status), (motion_stop, motion_status)):
            button.click(session.stop, None, [shown], queue=False)
        show.click(
            explore_tab.atlas,
            [config, explore_layer, explore_channels, explore_steps],
            [explore_status, sheet, atlas_channels, sheet_files],
            show_progress_on=[explore_status],
            **engine,
        )

        def chosen(channels: list[int], picked: str, event: gr.SelectData) -> tuple[Any, ...]:
            return picked, str(channels[event.index]), gr.Tabs(selected="dream")

        sheet.select(chosen, [atlas_channels, explore_layer], [layer, channel, tabs], queue=False).then(
            dream_tab.dream, [kept_photo, config, *fields], dream_outputs, show_progress_on=[status], **engine
        )
        video_upload.change(session.take_video, [video_upload], [kept_video, motion_status], queue=False)
        motion_go.click(
            motion_tab.motion,
            [kept_photo, kept_video, kind, frames],
            [motion_status, motion_live, motion_video, motion_files, motion_command],
            show_progress_on=[motion_status],
            **engine,
        )

        def closed(request: gr.Request) -> None:
            page.workspace.close_session(request.session_hash or "")

        blocks.unload(closed)
    return blocks
