"""Live, measured as a user sees it: ``dreamer app`` served here, headless Chromium whose fake camera
plays the bundled clip (``assets/chelsea_pan.mp4``, 256×170, looped forwards and back), the Live tab
at its default settings for ``--seconds`` (60), recorded throughout.

    python scripts/live_bench.py [--seconds 60] [--size 160]

Prints, from the page's own stats line (dreams sent to the page per second; the delay from a camera
frame's arrival at the server to its dream leaving for the page), the medians over the run and the
frames counted in the page itself (changes of the shown picture per second); the app's memory
(resident set) after the first 5 s and at the end; how long Stop takes to end the run (click to
"Stopped."); and the coherence: the warping error of the recorded dreams along the camera frames'
flow (``motion.warp.mean_warping_error``), against the same camera frames each dreamed alone with
Live's settings for a first frame (``--octaves.count 2 --octaves.iterations 8``).
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

from dreamer.motion.videoio import read_frames
from dreamer.motion.warp import mean_warping_error

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "dreamer" / "assets" / "chelsea_pan.mp4"
CPU = ["--trainer.accelerator", "cpu"]
STATS = re.compile(r"(\d+\.\d) frames/s · (\d+) ms")
COUNT_CHANGES = """() => {
  window.changes = [];
  new MutationObserver(() => window.changes.push(performance.now()))
    .observe(document.querySelector('#webcam-view'), {subtree: true, attributes: true, attributeFilter: ['src']});
}"""


def y4m(path: Path) -> Path:
    """The bundled clip, forwards then back, as the raw YUV4MPEG2 that Chromium's fake camera plays."""
    frames = list(read_frames(CLIP, None))
    height, width = frames[0].shape[:2]
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames + frames[::-1]:
            out.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as video:
        return [frame.to_ndarray(format="rgb24") for frame in video.decode(video=0)]


def alone(sources: list[np.ndarray], folder: Path) -> list[np.ndarray]:
    """Each camera frame dreamed by itself, as Live dreams its first frame."""
    (folder / "frames").mkdir(parents=True)
    for number, picture in enumerate(sources):
        Image.fromarray(picture).save(folder / "frames" / f"{number:05d}.png")
    command = [
        sys.executable,
        "-m",
        "dreamer.cli",
        "fit",
        "--config",
        "quickstart",
        "--data.images",
        str(folder / "frames"),
    ]
    command += ["--data.output", str(folder / "alone"), "--octaves.count", "2", "--octaves.iterations", "8"]
    command += ["--model.jitter.roll", "8", "--trainer.enable_progress_bar", "false", "--trainer.logger", "false"]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return [np.asarray(Image.open(path).convert("RGB")) for path in sorted((folder / "alone").glob("*.png"))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--size", type=int, help="the Live size to choose (default: the page's)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="dreamer-live-bench-"))
    port = free_port()
    app = subprocess.Popen(
        [sys.executable, "-m", "dreamer.cli", "app", "--no-browser", "--port", str(port), *CPU],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=work,
    )  # fmt: skip
    try:
        assert app.stdout is not None
        for line in app.stdout:
            if "its files are in" in line:
                break
        flags = ["--no-sandbox", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
        flags.append(f"--use-file-for-fake-video-capture={y4m(work / 'clip.y4m')}")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=flags)
            page = browser.new_context(permissions=["camera"]).new_page()
            page.goto(f"http://127.0.0.1:{port}")
            page.click("button[role=tab]:has-text('Live')")
            if args.size:
                page.locator("#webcam-size input").fill(str(args.size))
                page.keyboard.press("Enter")
            page.click("#webcam-start")
            page.wait_for_function("document.querySelector('#webcam-stats').innerText.includes('frames/s')")
            time.sleep(5)
            page.evaluate(COUNT_CHANGES)
            page.click("#webcam-record input")
            memory_start, rates, delays = resident_mb(app.pid), [], []
            started = time.monotonic()
            while time.monotonic() - started < args.seconds:
                time.sleep(1)
                found = STATS.search(page.inner_text("#webcam-stats"))
                if found:
                    rates.append(float(found[1]))
                    delays.append(float(found[2]))
            memory_end = resident_mb(app.pid)
            changes = page.evaluate("window.changes.length")
            page.click("#webcam-record input")
            page.wait_for_selector("#webcam-downloads a[download]", timeout=60_000)
            for link in page.query_selector_all("#webcam-downloads a[download]"):
                (work / link.get_attribute("download")).write_bytes(page.request.get(link.get_attribute("href")).body())
            clicked = time.perf_counter()
            page.click("#webcam-stop")
            page.wait_for_function("document.querySelector('#webcam-status').innerText.includes('Stopped.')")
            stop = time.perf_counter() - clicked
            browser.close()
    finally:
        app.terminate()
        app.wait(timeout=60)
    dreams, sources = decoded(work / "live-1.mp4"), decoded(work / "live-1-camera.mp4")
    print(f"size {dreams[0].shape[1]}×{dreams[0].shape[0]}, {args.seconds:.0f} s")
    rate, delay = statistics.median(rates), statistics.median(delays)
    print(f"stats: {rate:.1f} frames/s (lowest {min(rates):.1f}), delay {delay:.0f} ms (highest {max(delays):.0f})")
    print(f"counted in the page: {changes / args.seconds:.1f} new pictures/s")
    grown = memory_end - memory_start
    print(f"memory: {memory_start:.0f} MB after 5 s, {memory_end:.0f} MB {args.seconds:.0f} s later ({grown:+.0f} MB)")
    print(f"Stop: {stop:.2f} s from the click to 'Stopped.'")
    carried = mean_warping_error(dreams, sources)
    each = mean_warping_error(alone(sources, work), sources)
    print(f"coherence, {len(dreams)} recorded frames: warping error {carried:.2f} carried, {each:.2f} each alone")
    print(f"  ratio {carried / each:.2f}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
