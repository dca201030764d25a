"""``dreamer``: the command line (``dreamer fit --config quickstart``, ``dreamer sweep …``, ``dreamer presets``)."""

from __future__ import annotations

import sys
from typing import Optional

from dreamer import __version__
from dreamer.files.bundled import PRESETS, preset_names, preset_summary


def list_presets() -> None:
    width = max(map(len, preset_names()))
    for name in preset_names():
        print(f"{name:<{width}}  {preset_summary(name)}")
    print(f"\nRun one: dreamer fit --config <name> [--data.images <photos>]; they live in {PRESETS}")


def main(args: Optional[list[str]] = None) -> int:
    """Run the CLI; errors caused by the user's input print one clear message, no traceback.
    torch and Lightning are imported only for the commands that dream."""
    given = sys.argv[1:] if args is None else args
    if given[:1] == ["presets"]:
        list_presets()
        return 0
    if given[:1] in (["--version"], ["-V"]):
        print(f"dreamer {__version__}")
        return 0
    if given[:1] == ["app"]:
        from dreamer.app.main import main as app

        return app(given[1:])
    from dreamer.quiet import silence_known_noise

    silence_known_noise()
    if given[:1] == ["sweep"]:
        from dreamer.command.sweep import main as sweep

        return sweep(given[1:])
    from dreamer.command.runner import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
