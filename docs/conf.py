"""Sphinx configuration of dreamer's documentation: MyST Markdown pages, the Furo theme, the API from
docstrings, the tutorial notebook from its stored outputs, and pages generated at build time from the
code itself (``docs/generated/``: every option ``dreamer fit`` takes, every preset)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from docs.generate import write_generated  # noqa: E402

project = "dreamer"
author = "dreamer's authors"
extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.napoleon"]
html_theme = "furo"
html_title = "dreamer"
exclude_patterns = ["_build", "README.md", "**.ipynb_checkpoints"]
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]
nb_execution_mode = "off"  # the notebook is shown from its stored outputs, never run at build time
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True
suppress_warnings = ["myst.header"]
linkcheck_ignore = [r".*"]  # offline


def setup(app) -> None:  # noqa: ANN001 (Sphinx's application)
    app.connect("builder-inited", lambda app: write_generated(HERE / "generated"))
