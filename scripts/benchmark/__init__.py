"""dreamer's benchmark, one module per section: ``python -m scripts.benchmark --help``."""
