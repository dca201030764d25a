"""The page (``dreamer app``): its recipe, its uploads and folders without a browser, then the page
itself driven in headless Chromium: dream the photo and reproduce it from the recipe, a bad upload,
Stop, the queue, Explore and Motion."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import av
import numpy as np
import pytest
import yaml
from PIL import Image

from tests.conftest import SAMPLE
from tests.helpers import free_port

gradio = pytest.importorskip("gradio", reason="the page's extra is not installed: pip install -e '.[app]'")

from dreamer.app.form import form_settings, prompt_of  # noqa: E402
from dreamer.app.recipe import SETTINGS, Recipe, preset, preset_value, recipe_yaml  # noqa: E402
from dreamer.app.uploads import UploadError, take_photo, take_video  # noqa: E402
from dreamer.app.workspace import Workspace  # noqa: E402
from dreamer.errors import ConfigError  # noqa: E402
from dreamer.files.recipes import read_recipe  # noqa: E402

DREAMER = Path(sys.executable).with_name("dreamer")
CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser") if shutil.which(name)), None)


# --- without a browser -------------------------------------------------------------------------


def test_the_recipe_holds_only_what_the_form_changed():
    same = Recipe.from_form("quickstart", {"model.layers": "11", "model.lr": 0.012, "octaves.count": "auto"})
    assert same.settings == {}
    changed = Recipe.from_form("quickstart", {"model.layers": "14", "model.lr": 0.02, "model.channels": [3, 7]})
    assert changed.settings == {"model.layers": "14", "model.lr": 0.02, "model.channels": [3, 7]}
    command = changed.command({"data.images": "my photo.jpg", "data.output": "dream.png"})
    assert command == (
        "dreamer fit --config quickstart --model.layers=14 --model.lr=0.02 '--model.channels=[3, 7]' "
        "'--data.images=my photo.jpg' --data.output=dream.png"
    )


def test_the_recipe_yaml_names_the_downloads_not_the_session_folder():
    text = yaml.safe_dump(
        {
            "model": {"lr": 0.1},
            "data": {"images": "/tmp/x/photo.jpg", "output": "/tmp/x/dream.png"},
            "trainer": {"logger": False, "enable_progress_bar": False, "max_epochs": 1},
        }
    )
    recipe = yaml.safe_load(
        recipe_yaml(text, {"data.images": "photo.jpg", "data.output": "dream.png"}, ["--trainer.logger=false"])
    )
    assert recipe["data"] == {"images": "photo.jpg", "output": "dream.png"}
    assert "logger" not in recipe["trainer"]
    assert recipe["trainer"]["max_epochs"] == 1
    motion = yaml.safe_dump({"data": {"class_path": "ZoomDataModule", "init_args": {"images": "/s/photo.jpg"}}})
    assert (
        yaml.safe_load(recipe_yaml(motion, {"data.images": "photo.jpg"}))["data"]["init_args"]["images"] == "photo.jpg"
    )


def test_an_upload_is_checked_like_the_clis_photos_and_never_named_by_the_browser(tmp_path):
    upload = tmp_path / "cache" / "x"
    upload.parent.mkdir()
    shutil.copyfile(SAMPLE, upload)
    kept = take_photo(upload, "../../etc/evil name.jpeg", tmp_path / "session")
    assert kept == tmp_path / "session" / "photo.jpg"
    assert kept.read_bytes() == SAMPLE.read_bytes()
    text = tmp_path / "notes.txt"
    text.write_text("not a photo")
    with pytest.raises(UploadError, match=r"^notes\.txt: not a readable image") as caught:
        take_photo(text, "C:\\Users\\me\\notes.txt", tmp_path / "session")
    assert "\n" not in str(caught.value)
    assert str(tmp_path) not in str(caught.value)
    empty = tmp_path / "empty.png"
    empty.touch()
    with pytest.raises(UploadError, match=r"^empty\.png: the file is empty$"):
        take_photo(empty, "empty.png", tmp_path / "session")
    with pytest.raises(UploadError, match=r"^clip\.txt: not a video file"):
        take_video(text, "clip.txt", tmp_path / "session")
    with pytest.raises(UploadError, match=r"^clip\.mp4: "):
        take_video(text, "clip.mp4", tmp_path / "session")
    assert sorted(p.name for p in (tmp_path / "session").iterdir()) == ["photo.jpg"]


def test_sessions_have_their_own_folders_removed_when_they_close(tmp_path):
    workspace = Workspace(tmp_path)
    first, second = workspace.new_run("a/../../b", "dream"), workspace.new_run("c", "dream")
    assert first.parent != second.parent
    assert first.is_relative_to(workspace.root / "sessions")
    assert ".." not in first.parts
    workspace.close_session("a/../../b")
    assert not first.exists()
    assert second.exists()
    workspace.close()
    assert not workspace.root.exists()


def test_the_live_route_answers_a_running_lives_token_with_a_picture_and_nothing_else(tmp_path):
    import cv2

    from dreamer.app.live import FRAME_BYTES, LiveSettings, LiveState, LiveTab
    from dreamer.app.tabs import Page, Session
    from dreamer.live.camera import Camera, Shown

    tab = LiveTab(Session(Page(Workspace(tmp_path))))
    frame = cv2.imencode(".jpg", np.full((90, 160, 3), 99, np.uint8))[1].tobytes()
    assert tab.respond("a guess", frame).status_code == 404  # no Live runs with it
    camera = Camera()
    tab.tokens["token"], tab.lives["session"] = "session", LiveState(camera, LiveSettings())
    assert tab.respond("token", b"").status_code == 400
    assert tab.respond("token", b"not a picture").status_code == 400
    assert tab.respond("token", b"x" * (FRAME_BYTES + 1)).status_code == 413
    answer = tab.respond("token", frame)  # nothing dreamed yet: answered at once, with nothing
    assert answer.status_code == 204 and camera.take(timeout=0).picture.shape == (90, 160, 3)
    dream = np.zeros((90, 160, 3), np.uint8)
    camera.show(Shown(dream, dream, time.monotonic(), time.monotonic(), 0))
    answer = tab.respond("token", frame)
    assert answer.status_code == 200 and answer.media_type == "image/jpeg"
    assert cv2.imdecode(np.frombuffer(answer.body, np.uint8), cv2.IMREAD_COLOR).shape == (90, 160, 3)
    assert "px" in answer.headers["X-Dreamer-Stats"] or "starting" in answer.headers["X-Dreamer-Stats"]
    assert tab.respond("token", frame).status_code == 204  # that dream was sent: nothing new


def test_a_bad_option_of_dreamer_app_is_one_line_and_exit_2():
    result = subprocess.run([str(DREAMER), "app", "--port", "99999"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["dreamer app: error: --port: 99999 is not a port number (1-65535)"]


def test_the_page_is_an_extra_the_command_line_never_loads():
    code = "import sys, dreamer.cli; dreamer.cli.main(['presets']); print('gradio' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.split()[-1] == "False"
    gradio_needs = [need for need in metadata.requires("dreamer-deepdream") or [] if need.startswith("gradio")]
    assert gradio_needs, gradio_needs
    assert all('extra == "app"' in need.replace("'", '"') for need in gradio_needs), gradio_needs


# --- in a browser ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``dreamer app`` as a user starts it; yields (url, its folder); stopped politely after."""
    if CHROMIUM is None:
        pytest.skip("no Chromium: `apt-get install chromium` (.ci/run installs it)")
    pytest.importorskip("playwright", reason="Playwright is not installed: pip install -e '.[test]'")
    port = free_port()
    cwd = tmp_path_factory.mktemp("app")
    process = subprocess.Popen(
        [str(DREAMER), "app", "--no-browser", "--port", str(port), "--trainer.accelerator", "cpu"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    while not any("its files are in" in line for line in lines):
        line = process.stdout.readline()
        assert line, "dreamer app ended early:\n" + "".join(lines)
        lines.append(line)
    root = Path(re.search(r"its files are in (\S+),", lines[-1]).group(1))
    yield f"http://127.0.0.1:{port}", root
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    assert not root.exists(), "the page's folder outlived it"
    assert list(cwd.iterdir()) == [], "the page wrote where it was started"


@pytest.fixture(scope="module")
def playwright(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright):
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    yield chromium
    chromium.close()


@pytest.fixture
def page(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(server[0])
    page.wait_for_selector("#dream-button")
    yield page
    page.close()


def status(page, element: str = "#status") -> str:
    return page.inner_text(element).strip()


def wait_for_status(page, text: str, element: str = "#status", timeout: float = 180) -> str:
    page.wait_for_function(
        "([e, t]) => document.querySelector(e).innerText.includes(t)", arg=[element, text], timeout=timeout * 1000
    )
    return status(page, element)


def download(page, link) -> bytes:
    return page.request.get(link.get_attribute("href")).body()


def cli_time_to_first_octave(folder: Path) -> float:
    """The whole command, start-up included, stopped after the first octave's 10 steps."""
    started = time.perf_counter()
    subprocess.run(
        [
            str(DREAMER),
            "fit",
            "--config",
            "quickstart",
            "--trainer.max_steps",
            "10",
            "--trainer.logger",
            "false",
            "--trainer.enable_progress_bar",
            "false",
            "--data.output",
            str(folder / "first.png"),
        ],
        check=False,
        capture_output=True,
        timeout=300,
    )
    return time.perf_counter() - started


def test_the_page_dreams_the_photo_and_its_command_makes_the_same_pixels(page, server, tmp_path):
    page.set_input_files("#upload input[type=file]", str(SAMPLE))
    assert wait_for_status(page, "ready") == "Your photo is ready."
    before = page.eval_on_selector("#live img", "image => image.src")
    started = time.perf_counter()
    page.click("#dream-button")
    page.wait_for_function("old => document.querySelector('#live img').src !== old", arg=before, timeout=120_000)
    first_preview = time.perf_counter() - started
    assert "octave 1/4" in status(page)
    assert wait_for_status(page, "Dreamed in").startswith("Dreamed in")
    whole = time.perf_counter() - started
    command = page.inner_text("#command .cm-content")
    expected = (
        "dreamer fit --config quickstart --trainer.accelerator=cpu --data.images=photo.jpg --data.output=dream.png"
    )
    assert command == expected
    links = {link.get_attribute("download"): link for link in page.query_selector_all("#downloads a[download]")}
    assert {"dream.png", "recipe.yaml", "photo.jpg"} <= set(links), links
    for name in ("dream.png", "recipe.yaml", "photo.jpg"):
        (tmp_path / "page" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "page" / name).write_bytes(download(page, links[name]))
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(tmp_path / "page.png"))
    if os.environ.get("DREAMER_APP_SCREENSHOT"):
        shot = Image.open(tmp_path / "page.png").convert("RGB")
        shot.thumbnail((1120, 1120))
        shot.save(os.environ["DREAMER_APP_SCREENSHOT"], quality=82)

    dream = np.asarray(Image.open(tmp_path / "page" / "dream.png").convert("RGB"), dtype=np.int16)
    photo = np.asarray(Image.open(SAMPLE).convert("RGB"), dtype=np.int16)
    assert (tmp_path / "page" / "photo.jpg").read_bytes() == SAMPLE.read_bytes()
    assert dream.shape == photo.shape, "the dream is the photo"
    assert np.abs(dream - photo).mean() > 5, "the dream is the photo"

    # The command, as shown, beside the downloaded photo: the same pixels. So does the recipe file.
    cli = tmp_path / "cli"
    cli.mkdir()
    shutil.copyfile(tmp_path / "page" / "photo.jpg", cli / "photo.jpg")
    subprocess.run(command.split(), executable=str(DREAMER), cwd=cli, check=True, capture_output=True)
    again = np.asarray(Image.open(cli / "dream.png").convert("RGB"), dtype=np.int16)
    assert np.array_equal(again, dream), f"the command differs by {np.abs(again - dream).max()} levels"
    shutil.copyfile(tmp_path / "page" / "recipe.yaml", cli / "recipe.yaml")
    (cli / "dream.png").unlink()
    subprocess.run([str(DREAMER), "fit", "--config", "recipe.yaml"], cwd=cli, check=True, capture_output=True)
    assert np.array_equal(np.asarray(Image.open(cli / "dream.png").convert("RGB"), dtype=np.int16), dream)
    # So does the recipe inside the downloaded dream, which names the photo as it was downloaded.
    shutil.copyfile(tmp_path / "page" / "dream.png", cli / "downloaded.png")
    inside = ["fit", "--config", "downloaded.png", "--data.output", "inside.png"]
    subprocess.run([str(DREAMER), *inside], cwd=cli, check=True, capture_output=True)
    assert np.array_equal(np.asarray(Image.open(cli / "inside.png").convert("RGB"), dtype=np.int16), dream)

    # The first preview comes within 1.5x the command line's time to its first octave.
    cli_first = cli_time_to_first_octave(tmp_path)
    print(f"page: first preview {first_preview:.2f} s, whole {whole:.2f} s; CLI to its first octave {cli_first:.2f} s")
    assert first_preview <= 1.5 * cli_first


def test_a_text_file_upload_is_one_line_in_the_page(page, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("a shopping list, not a photo\n")
    page.set_input_files("#upload input[type=file]", str(notes))
    line = wait_for_status(page, "error")
    assert re.fullmatch(r"dreamer: error: notes\.txt: not a readable image \(.+\)", line), line
    assert "Traceback" not in page.content()
    assert str(tmp_path) not in line


def test_stop_really_stops_the_trainer(page):
    page.fill("#iterations input[type=number]", "100")
    page.press("#iterations input[type=number]", "Enter")
    page.click("#dream-button")
    page.wait_for_function("document.querySelector('#status').innerText.includes('octave')", timeout=120_000)
    page.click("#stop-button")
    line = wait_for_status(page, "Stopped at", timeout=60)
    assert re.match(r"Stopped at octave \d/4\.", line), line


@pytest.mark.slow  # the default suite keeps the dream, the bad upload and Stop
def test_a_second_page_waits_its_turn_and_says_so(browser, server):
    pages = [browser.new_page() for _ in range(2)]
    for each in pages:
        each.goto(server[0])
        each.wait_for_selector("#dream-button")
    for each in pages:
        each.click("#dream-button")
    line = wait_for_status(pages[1], "queue:", timeout=30)
    assert re.match(r"queue: 1/1", line), line  # Gradio's own line: first in the queue, of one
    for each in pages:
        wait_for_status(each, "Dreamed in")
        each.close()


@pytest.mark.slow  # the default suite keeps the dream, the bad upload and Stop
def test_explore_shows_the_channels_and_a_click_dreams_one(page):
    page.click("button[role=tab]:has-text('Explore a layer')")
    page.fill("#explore-channels textarea", "0-3")
    page.click("#explore-button")
    wait_for_status(page, "channels of layer 11", element="#explore-status", timeout=300)
    tiles = page.locator("#atlas .thumbnail-item")
    assert tiles.count() == 4
    assert page.locator("#sheets a[download]").first.get_attribute("download").endswith("-sheet1.png")
    tiles.nth(2).click()
    assert wait_for_status(page, "Dreamed in").startswith("Dreamed in")
    assert "'--model.channels=[2]'" in page.inner_text("#command .cm-content")


@pytest.mark.slow  # the default suite keeps the dream, the bad upload and Stop
def test_motion_zooms_into_the_photo_and_plays_the_mp4(page):
    page.click("button[role=tab]:has-text('Motion')")
    page.fill("#zoom-frames input[type=number]", "8")
    page.press("#zoom-frames input[type=number]", "Enter")
    page.click("#motion-button")
    line = wait_for_status(page, "Dreamed in", element="#motion-status", timeout=300)
    assert line.startswith("Dreamed in")
    source = page.get_attribute("#motion-video video", "src")
    assert source
    assert source.endswith(".mp4")
    assert len(page.request.get(source).body()) > 10_000


@pytest.mark.slow  # the default suite keeps the dream, the bad upload and Stop
def test_motion_dreams_an_uploaded_video(page, tmp_path):
    from tests.videos import make_video

    clip = make_video(tmp_path / "my clip.mp4", frames=6, size=(96, 128))
    page.click("button[role=tab]:has-text('Motion')")
    page.set_input_files("#video-upload input[type=file]", str(clip))
    wait_for_status(page, "Your video is ready.", element="#motion-status")
    page.click("#motion-kind label:has-text('Dream the video')")
    page.click("#motion-button")
    line = wait_for_status(page, "Dreamed in", element="#motion-status", timeout=300)
    assert line.startswith("Dreamed in")
    assert page.get_attribute("#motion-video video", "src").endswith("video.mp4")


def test_the_network_field_takes_torchvision_and_timm_names_only_and_lists_their_layers():
    from dreamer.app.form import network_choices, network_layers, page_network

    assert network_choices("mobilenet_v2")[:2] == ["mobilenet_v2", "vgg16"]
    assert "convnext_tiny" in network_choices("vgg16")
    layers, chosen = network_layers("resnet18")  # the names `dreamer layers` lists, maps only
    assert {"layer3.1.conv2", "layer3", "layer1.0.relu_1"} <= set(layers)
    assert "fc" not in layers  # logits are no map
    assert chosen in layers
    assert network_layers("mobilenet_v2") == ([str(i) for i in range(19)], "11")
    for own in ("nets.py:ShapesNet", "my_pkg.nets.ShapesNet"):
        with pytest.raises(ConfigError, match="the page takes torchvision, timm and clip names"):
            page_network(own)
    with pytest.raises(ConfigError, match="closest"):
        network_layers("resnet_18")


def test_a_network_changed_in_the_form_is_in_the_command():
    values = {key: preset_value(preset("quickstart"), key) for key in SETTINGS}
    values |= {"model.backbone": "resnet18", "model.layers": "layer3", "octaves.count": str(values["octaves.count"])}
    values["model.tile_size"] = str(values["model.tile_size"])
    recipe = Recipe.from_form("quickstart", form_settings(values))
    assert recipe.settings == {"model.backbone": "resnet18", "model.layers": "layer3"}
    assert "--model.backbone=resnet18 --model.layers=layer3" in recipe.command({})


def test_the_prompt_box_is_the_objective_and_empty_keeps_the_presets():
    values = {key: preset_value(preset("quickstart"), key) for key in SETTINGS}
    values |= {"octaves.count": str(values["octaves.count"]), "model.tile_size": str(values["model.tile_size"])}
    assert "model.objective" not in Recipe.from_form("quickstart", form_settings({**values, "prompt": "  "})).settings
    said = form_settings({**values, "prompt": "a city  of glass", "model.backbone": "clip:ViT-B-32/openai"})
    recipe = Recipe.from_form("quickstart", said)
    assert recipe.settings["model.objective"] == "text 'a city of glass'"
    assert "'--model.objective=text '\"'\"'a city of glass'\"'\"''" in recipe.command({})
    assert form_settings({**values, "prompt": "the cat's dream"})["model.objective"] == 'text "the cat\'s dream"'
    with pytest.raises(ConfigError, match="has both ' and \""):
        form_settings({**values, "prompt": 'the cat\'s "dream"'})
    assert prompt_of("text 'a city of glass'") == "a city of glass"
    assert prompt_of("mean_square + text 'a city'") == prompt_of("mean_square") == ""


def test_a_prompt_in_the_page_reaches_the_engine(page):
    page.fill("#prompt textarea", "a city of glass")
    page.click("#dream-button")
    line = wait_for_status(page, "error", timeout=120)
    assert "a text term reads a prompt through a text tower" in line and "clip:" in line, line
    assert "--model.objective=text " in page.inner_text("#command .cm-content")


def test_a_network_typed_in_the_page_lists_its_layers_and_a_file_is_refused(page):
    page.fill("#network input", "resnet18")
    page.press("#network input", "Enter")
    line = wait_for_status(page, "layers to dream", timeout=60)
    assert re.fullmatch(r"resnet18: \d+ layers to dream; \S+ chosen\.", line), line
    page.click("#layer input")
    options = page.locator("ul[role=listbox] li").all_inner_texts()
    assert {"layer3.1.conv2", "layer4"} <= {option.strip() for option in options}, options[:8]
    page.keyboard.press("Escape")
    page.fill("#network input", "nets.py:ShapesNet")
    page.press("#network input", "Enter")
    line = wait_for_status(page, "error", timeout=60)
    assert line.startswith("dreamer: error: model.backbone: the page takes torchvision, timm and clip names"), line


# --- Live, with Chromium's fake camera -----------------------------------------------------------


@pytest.fixture(scope="module")
def camera_browser(playwright, tmp_path_factory):
    """Chromium whose camera films at a webcam's size (640×360): a textured scene panning, its left
    third in shadow (so that a mirrored picture can be told from the camera's), granted without asking."""
    from tests.videos import make_y4m, scene, texture

    world = texture(360, 640 + 2 * 90, seed=3)
    world[:, : 640 // 3 + 180] //= 4  # the shadow moves with the scene: its left third stays dark
    pictures = [scene(world, index, 640) for index in range(90)]
    for picture in pictures:
        picture[:, : 640 // 3] = picture[:, : 640 // 3] // 4
    clip = make_y4m(tmp_path_factory.mktemp("camera") / "clip.y4m", pictures + pictures[::-1])
    flags = ["--no-sandbox", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
    flags.append(f"--use-file-for-fake-video-capture={clip}")
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=flags)
    yield chromium
    chromium.close()


STATS = re.compile(r"(\d+\.\d) frames/s · (\d+) ms · (\d+) px")
SHOWN_WIDTH = "() => document.querySelector('#webcam-view img').naturalWidth"
CAMERA_WIDTH = "() => document.querySelector('#webcam-camera video').videoWidth"
DARK_SIDE = """() => {  // which third of the shown dream is darkest: 'left' or 'right'
  const image = document.querySelector('#webcam-view img');
  if (!image?.complete || !image.naturalWidth) return null;  // the next one still loading
  const canvas = document.createElement('canvas');
  [canvas.width, canvas.height] = [image.naturalWidth, image.naturalHeight];
  const context = canvas.getContext('2d');
  context.drawImage(image, 0, 0);
  const mean = x => {
    const data = context.getImageData(x, 0, Math.floor(canvas.width / 3), canvas.height).data;
    let sum = 0;
    for (let i = 0; i < data.length; i += 4) sum += data[i] + data[i + 1] + data[i + 2];
    return sum / data.length;
  };
  return mean(0) < mean(canvas.width - Math.floor(canvas.width / 3)) ? 'left' : 'right';
}"""


COUNT_SHOWN = """() => {
  window.shown = 0;
  new MutationObserver(() => window.shown++).observe(
    document.querySelector('#webcam-view'), {subtree: true, attributes: true, attributeFilter: ['src']});
}"""


def choose(page, element: str, value: str) -> None:
    page.locator(f"{element} input").fill(value)
    page.keyboard.press("Enter")


def test_live_dreams_the_camera_records_it_holds_the_engine_and_stops(camera_browser, browser, server, tmp_path):
    context = camera_browser.new_context(permissions=["camera"], viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.goto(server[0])
    page.click("button[role=tab]:has-text('Live')")
    assert page.input_value("#webcam-size input") == "auto"  # the default: the frame rate chooses
    choose(page, "#webcam-size", "160")
    page.click("#webcam-start")
    page.wait_for_function("document.querySelector('#webcam-stats').innerText.includes('frames/s')", timeout=60_000)
    sources = set()
    for _ in range(8):  # the dream changes as the camera films
        sources.add(page.eval_on_selector("#webcam-view img", "image => image.src"))
        time.sleep(0.25)
    assert len(sources) >= 4
    rate, delay, side = STATS.search(status(page, "#webcam-stats")).groups()
    print(f"live in the test: {rate} frames/s, {delay} ms, {side} px")
    assert float(rate) > 0 and side == "160"
    page.wait_for_function(f"({CAMERA_WIDTH})() === 160", timeout=10_000)  # the browser sends 160 px, not 640

    # Mirrored by default: the camera's dark left is on the right; switched off, on the left.
    page.wait_for_function(f"({DARK_SIDE})() === 'right'", timeout=30_000)
    page.click("#webcam-mirror input")
    page.wait_for_function(f"({DARK_SIDE})() === 'left'", timeout=30_000)

    # Fullscreen: the dream alone, filling the screen.
    page.click("#webcam-fullscreen")
    page.wait_for_function("document.fullscreenElement?.id === 'webcam-view'", timeout=10_000)
    box = page.eval_on_selector("#webcam-view img", "image => image.getBoundingClientRect().toJSON()")
    assert (box["width"], box["height"]) == (1280, 1000)
    page.evaluate("document.exitFullscreen()")
    page.wait_for_function("document.fullscreenElement === null")

    # A snapshot: the shown dream as a PNG with the settings of that moment.
    page.click("#webcam-snapshot")
    page.wait_for_selector("#webcam-downloads a[download='live-snapshot-1.png']", timeout=30_000)
    link = page.query_selector("#webcam-downloads a[download='live-snapshot-1.png']")
    (tmp_path / "snapshot.png").write_bytes(download(page, link))
    with Image.open(tmp_path / "snapshot.png") as picture:
        assert max(picture.size) == 160
    recipe = yaml.safe_load(read_recipe(tmp_path / "snapshot.png").partition("\n")[2])
    assert (recipe["recipe"]["source"], recipe["recipe"]["mirror"]) == ("camera", False)
    assert recipe["data"]["init_args"]["size"] == 160

    # A new size is taken at the next frame; a new layer restarts the run, going on from the dream shown.
    page.wait_for_function(f"({SHOWN_WIDTH})() === 160", timeout=10_000)
    changed = time.perf_counter()
    choose(page, "#webcam-size", "224")
    page.wait_for_function(f"({SHOWN_WIDTH})() === 224", timeout=30_000)
    print(f"a new size shown {time.perf_counter() - changed:.2f} s after the change")
    page.wait_for_function(f"({CAMERA_WIDTH})() === 224", timeout=10_000)
    choose(page, "#webcam-size", "auto")
    page.wait_for_function("document.querySelector('#webcam-stats').innerText.includes('(auto)')", timeout=30_000)
    auto = int(STATS.search(status(page, "#webcam-stats")).group(3))
    assert auto in (160, 224, 320, 384, 512)
    choose(page, "#webcam-size", "160")
    page.wait_for_function(f"({SHOWN_WIDTH})() === 160", timeout=30_000)
    assert "· layer 11" in status(page, "#webcam-stats")
    changed = time.perf_counter()
    choose(page, "#webcam-layer", "7")
    wait_for_status(page, "· layer 7", element="#webcam-stats", timeout=30)  # the same run, the next frame
    print(f"a new layer shown {time.perf_counter() - changed:.2f} s after the change")
    assert "layer 11" in status(page, "#webcam-status")  # the run was not started again

    # Another page's dream waits while Live holds the engine, and says so.
    other = browser.new_page()
    other.goto(server[0])
    other.wait_for_selector("#dream-button")
    other.click("#dream-button")
    assert re.match(r"queue: 1/1", wait_for_status(other, "queue:", timeout=30))

    page.evaluate(COUNT_SHOWN)
    page.click("#webcam-record input")
    page.wait_for_function("window.shown >= 8", timeout=60_000)  # eight new dreams shown while recording
    page.click("#webcam-record input")
    page.wait_for_selector("#webcam-downloads a[download='live-1.mp4']", timeout=30_000)
    links = {link.get_attribute("download"): link for link in page.query_selector_all("#webcam-downloads a[download]")}
    assert set(links) == {"live-1.mp4", "live-1-camera.mp4", "live-snapshot-1.png"}
    (tmp_path / "live-1.mp4").write_bytes(download(page, links["live-1.mp4"]))
    with av.open(str(tmp_path / "live-1.mp4")) as video:
        frames = [frame.to_ndarray(format="rgb24") for frame in video.decode(video=0)]
    assert len(frames) >= 5
    assert frames[0].shape[:2] == (90, 160)  # the camera's 640 × 360 at a 160 px long side
    page.evaluate("window.scrollTo(0, 0)")
    if os.environ.get("DREAMER_LIVE_SCREENSHOT"):
        page.screenshot(path=os.environ["DREAMER_LIVE_SCREENSHOT"])

    started = time.perf_counter()
    page.click("#webcam-stop")
    wait_for_status(page, "Stopped.", element="#webcam-status", timeout=10)
    assert time.perf_counter() - started < 3  # the page says so at once (measured: well under 1 s)
    assert wait_for_status(other, "Dreamed in", timeout=180).startswith("Dreamed in")  # the engine is free again
    other.close()
    context.close()
