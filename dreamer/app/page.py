"""The page: its Gradio components, laid out tab by tab, and which handler each event calls
(``app.tabs``). One run at a time per device; the others wait in Gradio's queue, which tells each
page its place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from dreamer.app.form import TILES, form_values, network_choices, network_layers
from dreamer.app.live import AUTO, AUTO_RATE, LIVE_PRESETS, SIZES, LiveTab, default_size
from dreamer.app.recipe import photo_presets
from dreamer.app.tabs import VIDEO, ZOOM, DreamForm, DreamTab, ExploreTab, MotionTab, Page, Session, status_line
from dreamer.errors import ConfigError
from dreamer.files.bundled import SAMPLE_PHOTO

CSS = """
#webcam-view {height: 420px; background: #111; display: flex; align-items: center; justify-content: center}
#webcam-view img {width: 100%; height: 100%; object-fit: contain}
#webcam-view:fullscreen {background: #000}
#webcam-view:fullscreen img {position: fixed; inset: 0; width: 100vw; height: 100vh; max-height: none}
#webcam-camera video {display: none}  /* its dream shows it: a playing video costs a CPU a fifth of the frame rate */
#webcam-token {display: none}
"""  # a small live dream shown large; in fullscreen the dream alone, on black
DEVICE = "device"  # the concurrency group of every button that runs the engine: one run at a time
ENGINE: dict[str, Any] = dict(concurrency_id=DEVICE, concurrency_limit=1)

__all__ = ["Page", "build"]


def dream_fields(first: dict[str, Any]) -> dict[str, Any]:
    """The Dream tab's settings, by dotted key, at the first preset's values."""
    layer, network = first["model.layers"], first["model.backbone"]
    return {
        "model.backbone": gr.Dropdown(
            network_choices(network),
            value=network,
            label="Network (torchvision, timm:<name>, or clip:<name>/<tag> for a prompt)",
            allow_custom_value=True,
            elem_id="network",
        ),
        "model.layers": gr.Dropdown(layer["choices"], value=layer["value"], label="Layer", elem_id="layer"),
        "model.channels": gr.Textbox(
            first["model.channels"], label="Channels (empty: the whole layer; 7, or 3, 7, 12)", elem_id="channels"
        ),
        "prompt": gr.Textbox(
            first["prompt"],
            label="Prompt (a sentence to dream, through a clip: network; empty: the preset's objective)",
            placeholder="a city of glass",
            elem_id="prompt",
        ),
        "octaves.count": gr.Dropdown(["auto", *map(str, range(1, 13))], value=first["octaves.count"], label="Octaves"),
        "octaves.scale": gr.Slider(1.2, 2.0, value=first["octaves.scale"], step=0.05, label="Octave scale"),
        "octaves.iterations": gr.Slider(
            1, 100, value=first["octaves.iterations"], step=1, label="Steps per octave", elem_id="iterations"
        ),
        "model.lr": gr.Number(value=first["model.lr"], label="Step size", step=0.001),
        "octaves.alpha": gr.Slider(
            0.0, 1.0, value=first["octaves.alpha"], step=0.05, label="Alpha (photo kept per octave)"
        ),
        "model.jitter.roll": gr.Slider(0, 64, value=first["model.jitter.roll"], step=1, label="Jitter (px)"),
        "model.filters.laplacian_levels": gr.Slider(
            0, 8, value=first["model.filters.laplacian_levels"], step=1, label="Laplacian normalisation (levels)"
        ),
        "model.tile_size": gr.Dropdown(TILES, value=first["model.tile_size"], label="Tile size (big photos)"),
        "data.seed": gr.Number(value=first["data.seed"], precision=0, label="Seed"),
    }


@dataclass
class DreamPanel:
    """The Dream tab's components: the form, its buttons and what it shows."""

    form: DreamForm
    go: gr.Button
    stop: gr.Button
    status: gr.Markdown
    outputs: list[Any]  # status, live picture, before/after, downloads, command, recipe


def dream_panel(kept_photo: gr.State, presets: list[str], first: dict[str, Any]) -> tuple[DreamPanel, gr.File]:
    """The Dream tab (inside its ``gr.Tab``) at the first preset's values ``first``, and its upload field."""
    with gr.Column(scale=1):
        upload = gr.File(label="Your photo (empty: the sample)", type="filepath", elem_id="upload")
        config = gr.Dropdown(presets, value=presets[0], label="Preset", elem_id="preset")
        form = DreamForm(kept_photo, config, dream_fields(first))
        with gr.Row():
            go = gr.Button("Dream", variant="primary", elem_id="dream-button")
            stop = gr.Button("Stop", variant="stop", elem_id="stop-button")
    with gr.Column(scale=2):
        status = gr.Markdown("The bundled sample photo.", elem_id="status")
        live = gr.Image(value=str(SAMPLE_PHOTO), label="Dream", interactive=False, format="jpeg", elem_id="live")
        compare = gr.ImageSlider(label="Before / after", visible=False, elem_id="compare")
        downloads = gr.File(label="Downloads", file_count="multiple", elem_id="downloads")
        command = gr.Code(label="The same dream from the command line", language="shell", elem_id="command")
        with gr.Accordion("Recipe: the whole resolved config (recipe.yaml)", open=False):
            recipe = gr.Code(language="yaml", max_lines=24, elem_id="recipe", show_label=False)
    return DreamPanel(form, go, stop, status, [status, live, compare, downloads, command, recipe]), upload


@dataclass
class ExplorePanel:
    layer: gr.Dropdown
    inputs: list[Any]  # layer, channels, steps (after the preset)
    outputs: list[Any]  # status, gallery, its channels, contact sheets
    go: gr.Button
    stop: gr.Button


def explore_panel(first_layer: dict[str, Any], atlas_channels: gr.State) -> ExplorePanel:
    gr.Markdown("Each channel of a layer, dreamed from noise. Click one to dream it into your photo.")
    with gr.Row():
        layer = gr.Dropdown(first_layer["choices"], value=first_layer["value"], label="Layer", elem_id="explore-layer")
        channels = gr.Textbox("0-15", label="Channels (0-15, or 3, 7, 12)", elem_id="explore-channels")
        steps = gr.Slider(32, 512, value=128, step=32, label="Steps per channel")
    with gr.Row():
        go = gr.Button("Show the channels", variant="primary", elem_id="explore-button")
        stop = gr.Button("Stop", variant="stop")
    status = gr.Markdown("", elem_id="explore-status")
    sheet = gr.Gallery(label="Channels", columns=8, elem_id="atlas", allow_preview=False)
    sheets = gr.File(label="Contact sheets", file_count="multiple", elem_id="sheets")
    return ExplorePanel(layer, [layer, channels, steps], [status, sheet, atlas_channels, sheets], go, stop)


@dataclass
class MotionPanel:
    inputs: list[Any]  # what to dream, zoom frames (after the kept photo and video)
    outputs: list[Any]  # status, latest frame, video, downloads, command
    upload: gr.File
    go: gr.Button
    stop: gr.Button


def motion_panel() -> MotionPanel:
    gr.Markdown("A zoom into the photo of the first tab, or a short video of yours, dreamed frame by frame.")
    with gr.Row():
        with gr.Column(scale=1):
            kind = gr.Radio([ZOOM, VIDEO], value=ZOOM, label="What to dream", elem_id="motion-kind")
            frames = gr.Slider(8, 240, value=24, step=8, label="Zoom frames", elem_id="zoom-frames")
            upload = gr.File(label="Your video (MP4, MOV …)", type="filepath", elem_id="video-upload")
            with gr.Row():
                go = gr.Button("Dream", variant="primary", elem_id="motion-button")
                stop = gr.Button("Stop", variant="stop")
        with gr.Column(scale=2):
            status = gr.Markdown("", elem_id="motion-status")
            live = gr.Image(label="Latest frame", interactive=False, format="jpeg")
            video = gr.Video(label="Dream", elem_id="motion-video")
            files = gr.File(label="Downloads", file_count="multiple")
            command = gr.Code(label="The same from the command line", language="shell")
    return MotionPanel([kind, frames], [status, live, video, files, command], upload, go, stop)


# Clicks the camera component's own buttons: access to the camera (the browser asks only now), then
# its streaming. The handler gets the inputs as they are.
START_CAMERA = """(...values) => {
  // The camera, filmed at the size dreamed (the browser scales it), each frame sent as a JPEG to
  // /dreamer/live/<token> once the one before is answered; each answer is the newest dream.
  const live = window.dreamerLive = window.dreamerLive || {};
  const loop = live.loop = (live.loop || 0) + 1;
  const pause = ms => new Promise(done => setTimeout(done, ms));
  const stats = document.querySelector('#webcam-stats');
  const side = () => {
    const shown = (stats.innerText || '').match(/(\\d+) px/);
    return shown ? Number(shown[1]) : Number(document.querySelector('#webcam-size input')?.value) || 320;
  };
  (async () => {
    const video = document.querySelector('#webcam-camera video');
    try {
      video.srcObject = video.srcObject || await navigator.mediaDevices.getUserMedia({video: true, audio: false});
      await video.play();
    } catch (error) {
      stats.innerText = 'No camera: ' + error.message;
      return;
    }
    const track = video.srcObject.getVideoTracks()[0];
    const canvas = document.createElement('canvas');
    const shown = document.querySelector('#webcam-view img');
    let fitted = 0;
    while (live.loop === loop) {
      const token = document.querySelector('#webcam-token textarea, #webcam-token input')?.value;
      if (!token || !video.videoWidth) { await pause(50); continue; }
      if (side() !== fitted) {
        fitted = side();
        try {
          await track.applyConstraints({width: {max: fitted}, height: {max: fitted}, resizeMode: 'crop-and-scale'});
        } catch (error) {}  // a camera that cannot scale sends its own size: the server scales it
      }
      const mirror = document.querySelector('#webcam-mirror input')?.checked;
      video.style.transform = mirror ? 'scaleX(-1)' : '';
      [canvas.width, canvas.height] = [video.videoWidth, video.videoHeight];
      canvas.getContext('2d').drawImage(video, 0, 0);
      const frame = await new Promise(done => canvas.toBlob(done, 'image/jpeg', 0.9));
      let answer;
      try {
        answer = await fetch('dreamer/live/' + token, {method: 'POST', body: frame});
      } catch (error) { await pause(200); continue; }
      const said = answer.headers.get('X-Dreamer-Stats');
      if (said) stats.innerText = decodeURIComponent(said);
      const wait = Number(answer.headers.get('X-Dreamer-Next')) || 0;  // film the next frame just in time
      if (answer.status === 200) {
        const before = shown.src;
        shown.src = URL.createObjectURL(await answer.blob());
        if (before.startsWith('blob:')) URL.revokeObjectURL(before);
      } else if (answer.status !== 204) {
        await pause(100);  // between two runs (new settings), or stopped
      }
      if (wait > 0) await pause(wait);
    }
  })();
  return values;
}"""
FULLSCREEN = "() => { document.querySelector('#webcam-view')?.requestFullscreen(); }"
STOP_CAMERA = """(...values) => {
  const live = window.dreamerLive = window.dreamerLive || {};
  live.loop = (live.loop || 0) + 1;  // the running loop ends
  const video = document.querySelector('#webcam-camera video');
  video?.srcObject?.getTracks().forEach(track => track.stop());
  if (video) video.srcObject = null;
  return values;
}"""


@dataclass
class LivePanel:
    settings: list[Any]  # look, layer, channels, steps, step size, carry, size, mirror
    camera: gr.HTML
    view: gr.HTML
    stats: gr.Markdown
    status: gr.Markdown
    record: gr.Checkbox
    downloads: gr.File
    start: gr.Button
    stop: gr.Button
    fullscreen: gr.Button
    snapshot: gr.Button
    token: gr.Textbox  # where Start puts the token the page sends its frames with


def live_panel(page: Page) -> LivePanel:
    """The Live tab: the camera, its dream, the settings turned while it runs."""
    served_here = page.host in ("127.0.0.1", "localhost", "::1")
    gr.Markdown(
        "Your camera, dreamed as it films: each frame continues the dream of the one before, carried "
        "along the motion. The frames go to this page's own server and nowhere else."
        + (
            ""
            if served_here
            else f"\n\n**Browsers give a camera only to pages on localhost or https:** this page is served on "
            f"{page.host}; open it on the machine that serves it (or through https) to use Live."
        )
    )
    looks = list(LIVE_PRESETS)
    first = preset_layers(looks[0])
    with gr.Row():
        with gr.Column(scale=1):
            camera = gr.HTML("<video muted playsinline></video>", elem_id="webcam-camera", container=False)
            look = gr.Dropdown(looks, value=looks[0], label="Preset", elem_id="webcam-preset")
            layer = gr.Dropdown(first["choices"], value=first["value"], label="Layer", elem_id="webcam-layer")
            channels = gr.Textbox("", label="Channels (empty: the whole layer)", elem_id="webcam-channels")
            steps = gr.Slider(1, 8, value=2, step=1, label="Steps per frame", elem_id="webcam-steps")
            lr = gr.Number(value=0.012, label="Step size", step=0.001, elem_id="webcam-lr")
            carry = gr.Slider(0.0, 1.0, value=0.9, step=0.05, label="Dream carried", elem_id="webcam-carry")
            size = gr.Dropdown(
                [AUTO, *(str(side) for side in SIZES)],
                value=AUTO,
                label=f"Size (long side, px; auto: the largest holding {AUTO_RATE:.0f} frames/s, "
                f"from {default_size(page.accelerator)})",
                elem_id="webcam-size",
            )
            mirror = gr.Checkbox(True, label="Mirror (left-right, as a mirror shows a room)", elem_id="webcam-mirror")
        with gr.Column(scale=2):
            view = gr.HTML('<img alt="">', label="Dream", elem_id="webcam-view")
            stats = gr.Markdown("", elem_id="webcam-stats")
            with gr.Row():
                start = gr.Button("Start", variant="primary", elem_id="webcam-start")
                stop = gr.Button("Stop", variant="stop", elem_id="webcam-stop")
                fullscreen = gr.Button("Fullscreen", elem_id="webcam-fullscreen")
                snapshot = gr.Button("Snapshot", elem_id="webcam-snapshot")
                record = gr.Checkbox(False, label="Record", elem_id="webcam-record")
            status = gr.Markdown("", elem_id="webcam-status")
            downloads = gr.File(label="Recordings", file_count="multiple", elem_id="webcam-downloads")
            token = gr.Textbox("", elem_id="webcam-token", show_label=False, container=False)
    settings = [look, layer, channels, steps, lr, carry, size, mirror]
    return LivePanel(settings, camera, view, stats, status, record, downloads, start, stop, fullscreen, snapshot, token)


def preset_layers(look: str) -> dict[str, Any]:
    update = LiveTab.layers(look)
    return {"choices": update["choices"], "value": update["value"]}


def connect_live(page: Page, tab: LiveTab, live: LivePanel) -> None:
    """Start holds the engine until Stop; the camera's frames come by a route of their own, past the
    queue; a change of settings is taken at the next frame."""
    inputs = [*live.settings, live.record]
    live.start.click(tab.start, inputs, [live.status, live.downloads, live.token], js=START_CAMERA, **ENGINE)
    live.stop.click(tab.stop, None, None, js=STOP_CAMERA, queue=False)  # Start's own event says "Stopped."
    page.routes.append(("/dreamer/live/{token}", tab.route))  # the camera's frames: beside the queue
    live.settings[0].change(tab.layers, [live.settings[0]], [live.settings[1]], queue=False)
    for control in live.settings:
        control.change(tab.change, live.settings, None, queue=False)
    live.record.change(tab.record, [live.record], [live.downloads], queue=False)
    live.fullscreen.click(None, None, None, js=FULLSCREEN)  # the browser's own fullscreen: the dream alone
    live.snapshot.click(tab.snapshot, None, [live.downloads], queue=False)


def connect_dream(tab: DreamTab, dreaming: DreamPanel, exploring: ExplorePanel, tabs: gr.Tabs) -> None:
    """A preset fills the form (and the Explore tab's layer); Dream runs it; a channel clicked in the
    Explore tab is dreamed into the photo."""
    form = dreaming.form
    fields = list(form.settings.values())

    def filled(name: str) -> list[Any]:
        values = form_values(name)
        return [values[key] for key in form.settings]

    form.preset.change(filled, [form.preset], fields, queue=False)
    form.preset.change(lambda name: form_values(name)["model.layers"], [form.preset], [exploring.layer], queue=False)

    def layers_of(network: str) -> tuple[Any, ...]:
        try:
            layers, chosen = network_layers(network)
        except ConfigError as error:
            return gr.update(), gr.update(), status_line(str(error), error=True)
        listed = gr.update(choices=layers, value=chosen)
        return listed, listed, f"{network}: {len(layers)} layers to dream; {chosen} chosen."

    network = form.settings["model.backbone"]
    layer_fields = [form.settings["model.layers"], exploring.layer, dreaming.status]
    network.input(layers_of, [network], layer_fields, show_progress_on=[dreaming.status], **ENGINE)
    run: dict[str, Any] = dict(show_progress_on=[dreaming.status], **ENGINE)
    dreaming.go.click(tab.dream, form.inputs(), dreaming.outputs, **run)

    def chosen(channels: list[int], picked: str, event: gr.SelectData) -> tuple[Any, ...]:
        return picked, str(channels[event.index]), gr.Tabs(selected="dream")

    picked = [form.settings["model.layers"], form.settings["model.channels"], tabs]
    atlas, channels = exploring.outputs[1], exploring.outputs[2]
    atlas.select(chosen, [channels, exploring.layer], picked, queue=False).then(
        tab.dream, form.inputs(), dreaming.outputs, **run
    )


def connect_explore(tab: ExploreTab, dreaming: DreamPanel, exploring: ExplorePanel) -> None:
    status = exploring.outputs[0]
    inputs = [dreaming.form.preset, dreaming.form.settings["model.backbone"], *exploring.inputs]
    exploring.go.click(tab.atlas, inputs, exploring.outputs, show_progress_on=[status], **ENGINE)


def connect_motion(tab: MotionTab, moving: MotionPanel, kept_photo: gr.State, kept_video: gr.State) -> None:
    status = moving.outputs[0]
    moving.upload.change(tab.session.take_video, [moving.upload], [kept_video, status], queue=False)
    inputs = [kept_photo, kept_video, *moving.inputs]
    moving.go.click(tab.motion, inputs, moving.outputs, show_progress_on=[status], **ENGINE)


def build(page: Page) -> gr.Blocks:
    """The page's components and events."""
    session = Session(page)
    presets = photo_presets()
    first = form_values(presets[0])
    with gr.Blocks(title="dreamer", analytics_enabled=False, css=CSS) as blocks:
        gr.Markdown("# dreamer\nDeepDream on your photo: pick a preset, press **Dream**, watch it grow.")
        kept_photo, kept_video, atlas_channels = gr.State(None), gr.State(None), gr.State([])
        with gr.Tabs() as tabs:
            with gr.Tab("Dream a photo", id="dream"), gr.Row():
                dreaming, upload = dream_panel(kept_photo, presets, first)
            with gr.Tab("Explore a layer", id="explore"):
                exploring = explore_panel(first["model.layers"], atlas_channels)
            with gr.Tab("Motion", id="motion"):
                moving = motion_panel()
            with gr.Tab("Live: your camera", id="webcam"):
                living = live_panel(page)
        upload.change(session.take_photo, [upload], [kept_photo, dreaming.outputs[1], dreaming.status], queue=False)
        connect_dream(DreamTab(session, dreaming.form), dreaming, exploring, tabs)
        connect_explore(ExploreTab(session), dreaming, exploring)
        connect_motion(MotionTab(session), moving, kept_photo, kept_video)
        connect_live(page, LiveTab(session), living)
        for button, status in ((dreaming.stop, dreaming.status), (exploring.stop, exploring.outputs[0])):
            button.click(session.stop, None, [status], queue=False)
        moving.stop.click(session.stop, None, [moving.outputs[0]], queue=False)

        def closed(request: gr.Request) -> None:
            page.workspace.close_session(request.session_hash or "")

        blocks.unload(closed)
    return blocks
