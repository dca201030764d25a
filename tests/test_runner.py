"""``execute``: the one way a dream runs (the command line, ``dream()``, sweeps and the page)."""

from __future__ import annotations

import pytest

from dreamer import dream
from dreamer.command.runner import execute
from dreamer.command.spec import spec_from
from dreamer.errors import ConfigError
from tests.cli_args import QUIET, flags
from tests.conftest import make_photo

SHORT = [*flags(octaves_count=1, octaves_iterations=1), *QUIET]


def quickstart(tmp_path, *extra: str) -> list[str]:
    photo = make_photo(tmp_path / "in" / "p.png")
    return [
        "--config",
        "quickstart",
        "--data.images",
        str(photo),
        "--data.output",
        str(tmp_path / "out"),
        *SHORT,
        *extra,
    ]


def test_a_run_that_works_returns_its_objects_and_its_config(tmp_path):
    ran = execute(spec_from(quickstart(tmp_path)))
    assert ran.error is None
    assert ran.cli is not None
    assert ran.cli.trainer.global_step == 1
    assert "backbone: mobilenet_v2" in ran.config_text
    assert (tmp_path / "out" / "p.png").is_file()


@pytest.mark.parametrize(
    "extra, error",
    [
        (["--data.batch_sizee", "2"], "Option 'batch_sizee' is not accepted"),  # the parser's
        (["--octaves.count", "two"], "octaves.count: expected int or 'auto', got two"),  # a value's type
        (["--octaves.alpha", "2"], "octaves.alpha must be within [0, 1], got 2.0"),  # a constructor's check
        (["--model.layers", "features.99"], "has no layer"),  # the model's
        (["--data.images", "no/such.png"], "no/such.png"),  # the data's, found while the Trainer runs
    ],
)
def test_every_error_a_setting_causes_is_one_line_and_nothing_is_written(tmp_path, extra, error):
    try:  # the text read into a spec, then the spec run: either says what is wrong in one line
        reason = execute(spec_from(quickstart(tmp_path, *extra))).error
    except ConfigError as wrong:
        reason = str(wrong)
    assert reason is not None
    assert error in reason
    assert "\n" not in reason
    assert not (tmp_path / "out" / "p.png").exists()


def test_dream_raises_the_same_one_line_instead_of_leaving_the_process(tmp_path):
    with pytest.raises(ConfigError, match=r"^octaves.count: expected int or 'auto', got two$"):
        dream(make_photo(tmp_path / "p.png"), "quickstart", **{"octaves.count": "two"})
    with pytest.raises(ConfigError, match="Option 'batch_sizee' is not accepted"):
        dream(make_photo(tmp_path / "p.png"), "quickstart", **{"data.batch_sizee": 2})
