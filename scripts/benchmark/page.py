"""The web page against the command line: the quickstart on the bundled photo, the page driven in
headless Chromium (a page loaded fresh each round, Dream pressed, the first preview and the result
seen in the browser) against ``dreamer fit`` as a fresh process."""

from __future__ import annotations

import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from scripts.benchmark.common import ROOT, process, table

QUICKSTART = ["fit", "--config", "quickstart"]
ENGINE_ONLY = """
import sys, time
from dreamer.app.recipe import Recipe
from dreamer.app.page import QUIET
from dreamer.app.runs import Finished, PageRun
seconds = []
for index in range(2):
    arguments = Recipe("quickstart").arguments({"data.output": f"{sys.argv[1]}/plain-{time.time_ns()}.png"})
    for events in PageRun(arguments + QUIET).start().events():
        seconds += [event.seconds for event in events if isinstance(event, Finished)]
print(seconds[-1])
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stopped_early(command: list[str]) -> float:
    """Seconds of a command that stops at ``--trainer.max_steps`` (it exits 1: the dream is unfinished)."""
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 1 or "not dreamed" not in done.stderr:
        raise RuntimeError(f"{' '.join(command[:4])} … did not stop early as asked:\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


def page_section(folder: Path, smoke: bool, reps: int) -> str:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return "## Web page\n\nNot measured: no Chromium on this machine (`apt-get install chromium`)."
    from playwright.sync_api import sync_playwright

    dreamer = str(Path(sys.executable).with_name("dreamer"))
    port = _free_port()
    server = subprocess.Popen(
        [dreamer, "app", "--no-browser", "--port", str(port)], cwd=folder, stdout=subprocess.PIPE, text=True
    )
    while "its files are in" not in (server.stdout.readline() if server.stdout else "its files are in"):
        pass
    url = f"http://127.0.0.1:{port}"
    cli_first = [dreamer, *QUICKSTART, "--trainer.max_steps", "10", "--data.output", str(folder / "first.png")]
    cli_whole = [dreamer, *QUICKSTART, "--data.output", str(folder / "whole.png"), "--data.overwrite", "true"]
    engine = [sys.executable, "-c", ENGINE_ONLY, str(folder)]
    rounds: dict[str, list[float]] = {k: [] for k in ("cli_first", "cli_whole", "load", "first", "whole", "engine")}
    rounds["plain_engine"] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])

            def on_page() -> tuple[float, float, float, float]:
                page = browser.new_page(viewport={"width": 1400, "height": 1100})
                started = time.perf_counter()
                page.goto(url)
                page.wait_for_selector("#dream-button")
                loaded = time.perf_counter() - started
                before = page.eval_on_selector("#live img", "image => image.src")
                started = time.perf_counter()
                page.click("#dream-button")
                page.wait_for_function("old => document.querySelector('#live img').src !== old", arg=before)
                first = time.perf_counter() - started
                page.wait_for_function("document.querySelector('#status').innerText.includes('Dreamed in')")
                whole = time.perf_counter() - started
                engine_seconds = float(re.search(r"Dreamed in ([\d.]+) s", page.inner_text("#status")).group(1))
                page.close()
                return loaded, first, whole, engine_seconds

            on_page()  # warm-up: disk caches, the server's first run
            process(cli_whole)
            for _ in range(reps):
                rounds["cli_first"].append(_stopped_early(cli_first))
                loaded, first, whole, engine_seconds = on_page()
                rounds["load"].append(loaded)
                rounds["first"].append(first)
                rounds["whole"].append(whole)
                rounds["engine"].append(engine_seconds)
                rounds["cli_whole"].append(process(cli_whole)[0])
                plain = subprocess.run(engine, capture_output=True, text=True, cwd=ROOT, check=True)
                rounds["plain_engine"].append(float(plain.stdout.split()[-1]))
            browser.close()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)

    def med(key: str) -> float:
        return statistics.median(rounds[key])

    def paired(a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(rounds[a], rounds[b]))

    rows = [
        [
            "first preview (click → octave 1 in the browser) vs CLI to its first octave (whole process)",
            f"{med('first'):.2f} s",
            f"{med('cli_first'):.2f} s",
            f"{paired('first', 'cli_first'):.2f}×",
        ],
        [
            "whole dream (click → result shown) vs CLI whole command",
            f"{med('whole'):.2f} s",
            f"{med('cli_whole'):.2f} s",
            f"{paired('whole', 'cli_whole'):.2f}×",
        ],
        [
            'the run itself ("Dreamed in") vs the same run in a plain process (its second)',
            f"{med('engine'):.2f} s",
            f"{med('plain_engine'):.2f} s",
            f"{paired('engine', 'plain_engine'):.2f}×",
        ],
        ["page load (fresh tab → ready)", f"{med('load'):.2f} s", "—", "—"],
    ]
    text = table(rows, ["measure", "page", "command line / plain", "ratio (paired median)"])
    return (
        "## Web page\n\nThe quickstart preset on the bundled photo. The page (`dreamer app`, already running) is "
        "driven in headless Chromium on the same machine; each round loads a fresh tab. The command line is a "
        'fresh process each time, start-up included; "to its first octave" is the quickstart stopped after '
        "the first octave's 10 steps. Rounds alternate page, command line and the plain process.\n\n" + text
    )
