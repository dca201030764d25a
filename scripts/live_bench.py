"""Live, measured as a user sees it and part by part, with a camera of a webcam's size.

The camera is a clip made here: the bundled photo filmed by a 640×360 camera panning over it
(``--camera`` sets another size), played by headless Chromium's fake camera.

    python scripts/live_bench.py --page  [--sizes 160 320] [--seconds 30] [--before REV] [--rounds 2]
    python scripts/live_bench.py --parts [--sizes 160 320] [--frames 60]  [--before REV] [--rounds 2] [--strength]

``--page``: ``dreamer app`` served here, the Live tab at a fixed size (auto off), recorded throughout;
it prints, from the page's own stats line, the median frames/s and delay (a camera frame's arrival at
the server to its dream leaving for the page), the new pictures a second counted in the page itself,
the app's memory (resident set) after the first 5 s and at the end, how long Stop takes, the CPU the
app and the browser use (1 = one core), and the coherence: the recorded dreams' mean warping error
along the camera frames' flow (``motion.warp.mean_warping_error``) beside the camera's own.

``--parts``: the same live run in one process without the page (a thread puts the camera's frames,
decoded from JPEG as the page's are, 25 a second): a frame's time by part — decoding, resizing,
flow, carry, the steps (forward, backward and update), the shown picture's 8-bit copy, its JPEG for
the page, the recording — and the dream's strength (the activation gain per frame: the objective
of a continued frame's dream less that of its start, both without jitter, median), beside
each part's limit on this machine: the steps in a bare PyTorch loop
at Live's thread count (the best of contiguous, channels-last and ``torch.compile``), the flow alone,
the encoders alone.

``--before REV`` runs the same measurement on the code of git revision ``REV`` too (a worktree in a
temporary folder, imported first), alternating with this code for ``--rounds`` rounds.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import io
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
STATS = re.compile(r"(\d+\.\d) frames/s · (\d+) ms")
COUNT_CHANGES = """() => {
  window.changes = [];
  new MutationObserver(() => window.changes.push(performance.now()))
    .observe(document.querySelector('#webcam-view'), {subtree: true, attributes: true, attributeFilter: ['src']});
}"""
COUNT_SENT = """() => {
  window.sent = 0;
  const fetched = window.fetch;
  window.fetch = (...args) => {
    if (String(args[0]).includes('dreamer/live/')) window.sent++;
    return fetched(...args);
  };
}"""
STRIDE = 2  # --strength: every second camera frame, in lockstep (a camera filming at twice the dream's rate)
CAMERA_RATE = 25.0  # frames a second the page sends at most (its stream_every)


# --- the camera ----------------------------------------------------------------------------------


def camera_frames(width: int, height: int, count: int = 240) -> list[np.ndarray]:
    """A camera of ``width``×``height`` panning smoothly over the bundled photo, forwards then back."""
    import cv2
    from PIL import Image

    from dreamer.files.bundled import SAMPLE_PHOTO

    photo = np.asarray(Image.open(SAMPLE_PHOTO).convert("RGB"))
    world = cv2.resize(photo, (round(width * 1.5), round(height * 1.8)), interpolation=cv2.INTER_CUBIC)
    reach_x, reach_y = world.shape[1] - width, world.shape[0] - height
    frames = []
    for index in range(count // 2):
        x = round(reach_x * (0.5 + 0.5 * np.sin(index / 20)))
        y = round(reach_y * (0.5 + 0.5 * np.cos(index / 25)))
        frames.append(np.ascontiguousarray(world[y : y + height, x : x + width]))
    return frames + frames[::-1]


def y4m(path: Path, frames: list[np.ndarray]) -> Path:
    """``frames`` as the raw YUV4MPEG2 that Chromium's fake camera plays."""
    import cv2

    height, width = frames[0].shape[:2]
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            out.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


# --- the page --------------------------------------------------------------------------------------


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pids: list[int]) -> float:
    """The CPU time (user and system) the processes ``pids`` have used so far, in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def browser_pids() -> list[int]:
    """Every Chromium process on this machine (the bench's is the only one)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"chrom" in (entry / "cmdline").read_bytes().split(b"\0")[0]:
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def decoded(path: Path) -> list[np.ndarray]:
    """The frames of the video at ``path``, RGB."""
    import av

    with av.open(str(path)) as video:
        return [frame.to_ndarray(format="rgb24") for frame in video.decode(video=0)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def page_run(size: int, seconds: float, clip: Path, env: dict[str, str]) -> dict[str, float]:
    """One Live session in the page at ``size`` px; its figures."""
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="dreamer-live-bench-"))
    port = free_port()
    command = [sys.executable, "-m", "dreamer.cli", "app", "--no-browser", "--port", str(port)]
    app = subprocess.Popen(
        [*command, "--trainer.accelerator", "cpu"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=work, env=env,
    )  # fmt: skip
    try:
        assert app.stdout is not None
        for line in app.stdout:
            if "its files are in" in line:
                break
        flags = ["--no-sandbox", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
        flags.append(f"--use-file-for-fake-video-capture={clip}")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=flags)
            page = browser.new_context(permissions=["camera"]).new_page()
            page.goto(f"http://127.0.0.1:{port}")
            page.click("button[role=tab]:has-text('Live')")
            page.locator("#webcam-size input").fill(str(size))
            page.keyboard.press("Enter")
            page.click("#webcam-start")
            page.wait_for_function("document.querySelector('#webcam-stats').innerText.includes('frames/s')")
            time.sleep(5)
            page.evaluate(COUNT_CHANGES)
            page.evaluate(COUNT_SENT)
            page.click("#webcam-record input")
            memory_start, rates, delays = resident_mb(app.pid), [], []
            chromium = browser_pids()
            app_cpu, browser_cpu = cpu_seconds([app.pid]), cpu_seconds(chromium)
            started = time.monotonic()
            while time.monotonic() - started < seconds:
                time.sleep(1)
                found = STATS.search(page.inner_text("#webcam-stats"))
                if found:
                    rates.append(float(found[1]))
                    delays.append(float(found[2]))
            memory_end = resident_mb(app.pid)
            spent = time.monotonic() - started
            app_cpu = (cpu_seconds([app.pid]) - app_cpu) / spent
            browser_cpu = (cpu_seconds(chromium) - browser_cpu) / spent
            changes = page.evaluate("window.changes.length")
            sent = page.evaluate("window.sent")
            page.click("#webcam-record input")
            page.wait_for_selector("#webcam-downloads a[download='live-1-camera.mp4']", timeout=60_000)
            recorded = {}
            for name in ("live-1.mp4", "live-1-camera.mp4"):
                link = page.query_selector(f"#webcam-downloads a[download='{name}']")
                assert link is not None
                recorded[name] = work / name
                recorded[name].write_bytes(page.request.get(str(link.get_attribute("href"))).body())
            clicked = time.perf_counter()
            page.click("#webcam-stop")
            page.wait_for_function("document.querySelector('#webcam-status').innerText.includes('Stopped.')")
            stop = time.perf_counter() - clicked
            browser.close()
        dreams, sources = decoded(recorded["live-1.mp4"]), decoded(recorded["live-1-camera.mp4"])
    finally:
        app.terminate()
        app.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    from dreamer.motion.warp import mean_warping_error

    return {
        "flicker": mean_warping_error(dreams, sources),
        "camera's flicker": mean_warping_error(sources, sources),
        "frames/s": statistics.median(rates),
        "lowest": min(rates),
        "delay ms": statistics.median(delays),
        "highest delay": max(delays),
        "painted/s": changes / seconds,
        "sent/s": sent / seconds,  # camera frames the page sent (by Live's own route; 0: another transport)
        "memory MB": memory_end,
        "growth MB": memory_end - memory_start,
        "stop s": stop,
        "app cores": app_cpu,
        "browser cores": browser_cpu,
    }


# --- the parts -----------------------------------------------------------------------------------

PARTS = {  # part → (module, attribute) wrapped to time it, whichever the code has
    "resize": [("dreamer.live.data", "fitted")],
    "flow": [("dreamer.live.data", "motion"), ("dreamer.live.data", "dis_flow"), ("dreamer.live.data", "consistent")],
    "carry": [("dreamer.motion.carry", "FrameCarry.start")],
    "steps": [("dreamer.engine.module", "DreamModule.optimizer_step")],
    "8-bit copy": [("dreamer.live.view", "quantised")],
    "recording": [("dreamer.live.view", "Recording.add")],
}


def timed(times: dict[str, list[float]], part: str, module: str, attribute: str) -> None:
    import importlib

    owner: Any = importlib.import_module(module)
    *path, name = attribute.split(".")
    for step in path:
        owner = getattr(owner, step)
    original = getattr(owner, name, None)
    if original is None:
        return

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            times[part].append(time.perf_counter() - started)

    setattr(owner, name, wrapper)


def parts_run(size: int, frames: int, camera_size: tuple[int, int], strength: bool = False) -> dict[str, Any]:
    """One live run in this process at ``size`` px, the page's work done by a thread; its figures
    (``strength``: the activation gain per frame instead — the objective of a continued frame's dream
    less its start's, and less its camera frame's — measured with three more forward passes a
    frame, on every second camera frame put only once the one before is dreamed, so that any two
    codes dream the same frames; its frames/s are not the run's own; the camera unmirrored, as before
    the mirror)."""
    import torch
    from PIL import Image

    from dreamer.app.live import LiveSettings
    from dreamer.command.runner import execute
    from dreamer.live.camera import Camera

    times: dict[str, list[float]] = collections.defaultdict(list)
    for part, places in PARTS.items():
        for module, attribute in places:
            timed(times, part, module, attribute)
    gains: list[float] = []  # a continued frame's activation at its end less at its start, without jitter
    over_camera: list[float] = []  # … and less its camera frame's: how much more the dream shown excites the layer
    from dreamer.engine.module import DreamModule
    from dreamer.live.view import LiveView

    step, ended = DreamModule.training_step, LiveView.on_dream_end
    starts: dict[int, Any] = {}

    def watched(module: Any, batch: Any, index: int) -> Any:
        if batch.frame is not None and batch.frame.continues and batch.position.step == 0:
            with torch.no_grad():
                starts[batch.frame.number] = float(module.objective(module.picture(), batch).sum())
        return step(module, batch, index)

    def measured(view: Any, trainer: Any, dream: Any, images: Any) -> None:
        frame = dream.batch.frame
        if frame is not None and frame.number in starts:
            objective = trainer.lightning_module.objective
            with torch.no_grad():
                end = float(objective(images, dream.batch).sum())
                camera_frame = float(objective(dream.batch.pixels.to(images.device), dream.batch).sum())
            gains.append(end - starts.pop(frame.number))
            over_camera.append(end - camera_frame)
        ended(view, trainer, dream, images)

    if strength:
        DreamModule.training_step = watched  # type: ignore[method-assign]
        LiveView.on_dream_end = measured  # type: ignore[method-assign]
    jpegs = []
    for picture in camera_frames(*camera_size, count=120):
        buffer = io.BytesIO()
        Image.fromarray(picture).save(buffer, "JPEG", quality=92)  # what the browser sends
        jpegs.append(buffer.getvalue())
    camera = Camera()
    settings = LiveSettings(size=size)
    if strength and hasattr(settings, "mirror"):
        settings = dataclasses.replace(settings, mirror=False)  # the same pictures as the code before the mirror
    camera.tuning, camera.recording = settings.tuning, True
    folder = Path(tempfile.mkdtemp(prefix="dreamer-live-parts-"))
    quiet = ["--trainer.accelerator=cpu", "--trainer.enable_progress_bar=false"]
    spec = settings.spec("live", camera, folder, quiet)
    runner = threading.Thread(target=execute, args=(spec,))
    runner.start()
    shown: list[float] = []
    delays: list[float] = []
    last, index, warm = None, 0, 5
    while len(shown) < frames + warm:
        if not runner.is_alive():
            raise RuntimeError("the live run ended before its frames were counted")
        started = time.perf_counter()
        with Image.open(io.BytesIO(jpegs[index % len(jpegs)])) as picture:
            camera.put(np.asarray(picture.convert("RGB")))
        times["decoding (the page's)"].append(time.perf_counter() - started)
        index += STRIDE if strength else 1
        while strength and camera.shown is last and runner.is_alive():  # in lockstep: both codes see the same frames
            time.sleep(0.001)
        now = camera.shown
        if now is not None and now is not last:
            started = time.perf_counter()
            Image.fromarray(now.dream).save(io.BytesIO(), "JPEG", quality=75)
            times["JPEG for the page"].append(time.perf_counter() - started)
            last = now
            shown.append(time.monotonic())
            delays.append(now.finished - now.arrived)
        if not strength:
            time.sleep(1 / CAMERA_RATE)
    camera.close()
    runner.join()
    shutil.rmtree(folder, ignore_errors=True)
    counted = shown[warm:]
    rate = (len(counted) - 1) / (counted[-1] - counted[0])
    per_frame = {part: 1000 * sum(values) / len(shown) for part, values in times.items()}
    return {
        "frames/s": rate,
        "delay ms": 1000 * statistics.median(delays[warm:]),
        **({"gain per frame": statistics.median(gains[warm:])} if strength else {}),
        **({"gain over the camera": statistics.median(over_camera[warm:])} if strength else {}),
        "parts ms": per_frame,
    }


def limits(size: int, camera_size: tuple[int, int], threads: int) -> dict[str, float]:
    """Each part's limit on this machine, alone: ms per frame."""
    import av
    import cv2
    import torch
    import torchvision
    from PIL import Image

    from dreamer.live.data import FLOW_SIDE, fitted
    from dreamer.motion.warp import consistent, dis_flow

    torch.set_num_threads(threads)
    frames = [fitted(picture, size) for picture in camera_frames(*camera_size, count=40)]
    height, width = frames[0].shape[:2]
    network = torchvision.models.mobilenet_v2().features[:12].eval().requires_grad_(False)
    for module in network.modules():
        if hasattr(module, "inplace"):
            module.inplace = False

    def steps(model: Callable[[torch.Tensor], torch.Tensor], layout: torch.memory_format, count: int = 20) -> float:
        x = torch.rand(1, 3, height, width).to(memory_format=layout).requires_grad_(True)
        spent = []
        for _ in range(count):
            started = time.perf_counter()
            (gradient,) = torch.autograd.grad(model(x).square().mean(), x)
            with torch.no_grad():
                x += 0.01 * gradient / gradient.abs().mean()
            spent.append(time.perf_counter() - started)
        return 1000 * statistics.median(spent[3:] or spent)

    from torch.fx.experimental.optimization import fuse

    best = {"contiguous": steps(network, torch.contiguous_format)}
    network = fuse(network).requires_grad_(False)  # batch norms folded into convolutions, as dreamer does
    best["channels-last"] = steps(network.to(memory_format=torch.channels_last), torch.channels_last)
    network = network.to(memory_format=torch.contiguous_format)
    try:
        compiled = torch.compile(network)
        steps(compiled, torch.contiguous_format, 3)  # compiled on the first calls
        best["torch.compile"] = steps(compiled, torch.contiguous_format)
    except Exception as error:  # noqa: BLE001 (a compiler that cannot run here is reported, not fatal)
        print(f"  torch.compile: {type(error).__name__}")
    out: dict[str, float] = {f"one step ({name}{'' if name == 'contiguous' else ', BN folded'})": value
                             for name, value in best.items()}  # fmt: skip
    out["the steps (2, the best way)"] = 2 * min(best.values())

    def median_ms(work: Callable[[int], Any]) -> float:
        spent = []
        for index in range(1, len(frames)):
            started = time.perf_counter()
            work(index)
            spent.append(time.perf_counter() - started)
        return 1000 * statistics.median(spent)

    out["flow at the frame's size"] = median_ms(
        lambda i: consistent(dis_flow(frames[i], frames[i - 1]), dis_flow(frames[i - 1], frames[i]))
    )
    small = [fitted(frame, FLOW_SIDE) for frame in frames]
    out[f"flow at {FLOW_SIDE} px"] = median_ms(
        lambda i: consistent(dis_flow(small[i], small[i - 1]), dis_flow(small[i - 1], small[i]))
    )
    out["JPEG for the page"] = median_ms(lambda i: Image.fromarray(frames[i]).save(io.BytesIO(), "JPEG", quality=75))
    with av.open(io.BytesIO(), "w", format="mp4") as output:
        stream = output.add_stream("libx264", rate=30, options={"crf": "18", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        out["recording (2 streams)"] = 2 * median_ms(
            lambda i: output.mux(stream.encode(av.VideoFrame.from_ndarray(frames[i], format="rgb24")))
        )
    camera = camera_frames(*camera_size, count=10)[3]
    encoded = io.BytesIO()
    Image.fromarray(camera).save(encoded, "JPEG", quality=92)
    out["decoding a camera frame"] = median_ms(lambda i: Image.open(io.BytesIO(encoded.getvalue())).convert("RGB"))
    out["resize"] = median_ms(lambda i: cv2.resize(camera, (width, height), interpolation=cv2.INTER_AREA))
    return out


# --- alternation -------------------------------------------------------------------------------


def worktree(revision: str) -> Path:
    """The code of ``revision`` in a temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix="dreamer-before-"))
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), revision], check=True,
                   capture_output=True)  # fmt: skip
    return folder


def child(code: Path, args: list[str]) -> dict[str, Any]:
    """This script's one measurement (``args``) run on the code in ``code``; its figures."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    done = subprocess.run([sys.executable, __file__, "--one", *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--page", action="store_true")
    what.add_argument("--parts", action="store_true")
    parser.add_argument("--sizes", type=int, nargs="+", default=[160, 320])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--camera", default="640x360", help="the camera's width x height")
    parser.add_argument("--before", help="a git revision to measure beside this code, alternated")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--strength", action="store_true", help="with --parts: the activation gain per frame")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    camera_size = tuple(int(side) for side in args.camera.split("x"))
    if args.one:  # one measurement, in this process, on the code first on the path
        size = args.sizes[0]
        if args.page:
            clip = y4m(Path(tempfile.mkdtemp()) / "camera.y4m", camera_frames(*camera_size))
            figures: dict[str, Any] = page_run(size, args.seconds, clip, dict(os.environ))
            shutil.rmtree(clip.parent)
        else:
            figures = parts_run(size, args.frames, camera_size, args.strength)  # type: ignore[arg-type]
        print(json.dumps(figures))
        return 0
    codes = {"this code": ROOT}
    if args.before:
        codes[f"before ({args.before})"] = worktree(args.before)
    kind = ["--page", "--seconds", str(args.seconds)] if args.page else ["--parts", "--frames", str(args.frames)]
    kind += ["--strength"] if args.strength else []
    results: dict[tuple[str, int], list[dict[str, Any]]] = collections.defaultdict(list)
    try:
        for round_ in range(args.rounds):
            for size in args.sizes:
                for name, code in codes.items() if round_ % 2 == 0 else reversed(codes.items()):
                    figures = child(code, [*kind, "--sizes", str(size), "--camera", args.camera])
                    results[(name, size)].append(figures)
                    print(f"round {round_ + 1}, {size} px, {name}: {json.dumps(figures)}", flush=True)
    finally:
        for code in codes.values():
            if code != ROOT:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(code)], check=False)
    print(f"\ncamera {args.camera}; medians over {args.rounds} round(s), alternated")
    for (name, size), runs in results.items():
        keys = [key for key in runs[0] if key != "parts ms"]
        row = ", ".join(f"{key} {statistics.median(run[key] for run in runs):.4g}" for key in keys)
        print(f"{size} px, {name}: {row}")
        if "parts ms" in runs[0]:
            for part in runs[0]["parts ms"]:
                spent = statistics.median(run["parts ms"].get(part, 0.0) for run in runs)
                print(f"    {part:24s} {spent:6.1f} ms per frame")
    if args.parts and not args.strength:
        threads = max(1, (os.cpu_count() or 2) - 1)
        for size in args.sizes:
            print(f"\nlimits at {size} px, {threads} thread(s), each part alone (ms per frame):")
            for part, spent in limits(size, camera_size, threads).items():  # type: ignore[arg-type]
                print(f"    {part:28s} {spent:6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
