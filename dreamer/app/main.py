"""``dreamer app``: serve the page on this machine (127.0.0.1 unless ``--host`` says otherwise)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import NoReturn, Optional


class OneLineParser(argparse.ArgumentParser):
    """A bad option is one line and exit status 2, as for ``dreamer fit``."""

    def error(self, message: str) -> NoReturn:
        print(f"dreamer app: error: {message}", file=sys.stderr)
        sys.exit(2)


def parser() -> argparse.ArgumentParser:
    options = OneLineParser(
        prog="dreamer app",
        description="A local web page: dream a photo, watch it grow, keep the recipe. Needs the app extra "
        "(pip install 'dreamer-deepdream[app]').",
    )
    options.add_argument("--host", default="127.0.0.1", help="address to serve on (0.0.0.0: every network)")
    options.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    options.add_argument("--trainer.accelerator", dest="accelerator", help="as for dreamer fit: cpu, gpu, auto")
    options.add_argument("--trainer.precision", dest="precision", help="as for dreamer fit: 32, bf16-mixed …")
    options.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    return options


def main(args: Optional[list[str]] = None) -> int:
    given = parser().parse_args(args)
    if not 0 < given.port < 65536:
        parser().error(f"--port: {given.port} is not a port number (1-65535)")
    try:
        import gradio  # noqa: F401
    except ImportError:
        print("dreamer app: error: the page needs its extra: pip install 'dreamer-deepdream[app]'", file=sys.stderr)
        return 2
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # nothing leaves this machine
    from dreamer.quiet import silence_known_noise

    silence_known_noise()
    from dreamer.app.page import Page, build
    from dreamer.app.uploads import VIDEO_LIMIT_MB
    from dreamer.app.workspace import Workspace
    from dreamer.files.bundled import SAMPLE_PHOTO

    workspace = Workspace()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # a polite stop cleans up, as Ctrl-C does
    os.environ["GRADIO_TEMP_DIR"] = str(workspace.root / "uploads")  # the browser's files: removed with the rest
    trainer = [f"--trainer.{key}={value}" for key in ("accelerator", "precision") if (value := getattr(given, key))]
    try:
        page = Page(workspace, tuple(trainer), given.host)
        blocks = build(page)
        print(f"dreamer app: serving on http://{given.host}:{given.port} (Ctrl-C stops it)", flush=True)
        print(f"dreamer app: its files are in {workspace.root}, removed when it stops", flush=True)
        app, *_ = blocks.queue(default_concurrency_limit=1).launch(
            server_name=given.host,
            server_port=given.port,
            share=False,
            inbrowser=not given.no_browser,
            max_file_size=f"{VIDEO_LIMIT_MB}mb",
            allowed_paths=[str(workspace.root), str(SAMPLE_PHOTO.parent)],  # the sample photo
            footer_links=[],
            quiet=True,
            prevent_thread_lock=True,
        )
        for path, handler in page.routes:
            app.add_api_route(path, handler, methods=["POST"])
        blocks.block_thread()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        for stop in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not cut the clean-up short
            signal.signal(stop, signal.SIG_IGN)
        workspace.close()
    return 0
