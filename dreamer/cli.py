"""``dreamer``: the command line (``dreamer fit --config quickstart``, ``dreamer sweep …``, ``dreamer presets``)."""

from __future__ import annotations

import sys
from typing import Optional

from dreamer import __version__
from dreamer.files.bundled import PRESETS, preset_names, preset_summary, weights_to_fetch


def list_presets() -> None:
    width = max(map(len, preset_names()))
    for name in preset_names():
        needs = weights_to_fetch(name)
        fetch = f" [downloads {needs}'s weights: dreamer weights fetch {needs}]" if needs else ""
        print(f"{name:<{width}}  {preset_summary(name)}{fetch}")
    print(f"\nRun one: dreamer fit --config <name> [--data.images <photos>]; they live in {PRESETS}")
    print("Those without [downloads …] run offline once the set-up command has run.")


USAGE = """usage: dreamer {fit,sweep,layers,weights,recipe,app,presets} …

  dreamer fit --config quickstart [--data.images photos/]   dream (dreamer fit --help: every option)
  dreamer fit … --dry_run                                   build it all, say if weights are here, dream nothing
  dreamer sweep --config sweep_seed                         a sheet of settings side by side
  dreamer layers --model.backbone resnet50                  every layer a network can be dreamed at
  dreamer weights [fetch vgg16 …]                           where pretrained weights are; fetch them
  dreamer recipe dream.png                                  the recipe inside a dream (--config dream.png runs it)
  dreamer app                                               the page, in a browser
  dreamer presets                                           the bundled presets"""


def print_recipe(args: list[str]) -> int:
    """``dreamer recipe FILE``: print the recipe a dream's file carries; 2 when it carries none."""
    from pathlib import Path

    from dreamer.errors import ConfigError
    from dreamer.files.recipes import read_recipe

    if len(args) != 1 or args[0].startswith("-"):
        print("usage: dreamer recipe FILE   (a PNG, JPEG, WebP, GIF or MP4 dreamer wrote)", file=sys.stderr)
        return 0 if args[:1] in (["-h"], ["--help"]) else 2
    path = Path(args[0]).expanduser()
    try:
        if not path.is_file():
            raise ConfigError(f"{path}: no such file")
        text = read_recipe(path)
    except ConfigError as error:
        print(f"dreamer: error: {error}", file=sys.stderr)
        return 2
    if text is None:
        print(f"dreamer: error: {path}: the file holds no dreamer recipe", file=sys.stderr)
        return 2
    print(text, end="")
    return 0


def main(args: Optional[list[str]] = None) -> int:
    """Run the CLI; errors caused by the user's input print one clear message, no traceback.
    torch and Lightning are imported only for the commands that dream."""
    given = sys.argv[1:] if args is None else args
    command, rest = (given[0], given[1:]) if given else ("", [])
    if command in ("-h", "--help"):
        print(USAGE)
        return 0
    if command in ("-V", "--version"):
        print(f"dreamer {__version__}")
        return 0
    if command == "presets":
        list_presets()
        return 0
    if command == "recipe":
        return print_recipe(rest)
    if command == "app":
        from dreamer.app.main import main as app

        return app(rest)
    if command not in ("fit", "sweep", "layers", "weights"):
        print(
            f"dreamer: error: {command or 'no command'}: expected fit, sweep, layers, weights, recipe, app or presets",
            file=sys.stderr,
        )
        return 2
    from dreamer.quiet import silence_known_noise

    silence_known_noise()
    if command == "sweep":
        from dreamer.command.sweep import main as sweep

        return sweep(rest)
    if command == "layers":
        from dreamer.command.layers import main as layers

        return layers(rest)
    if command == "weights":
        from dreamer.command.weights import main as weights

        return weights(rest)
    from dreamer.command.dry import asked, dry_run

    rest, dry = asked(rest)
    if dry:
        return dry_run(rest)
    from dreamer.command.runner import run

    return run(rest)


if __name__ == "__main__":
    sys.exit(main())
