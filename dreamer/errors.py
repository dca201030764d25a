"""Errors a user can act on: the CLI prints their message alone, without a traceback."""


class DreamerError(Exception):
    """Base of every error caused by the user's input or setup rather than by a bug."""


class ConfigError(DreamerError, ValueError):
    """A setting has a value dreamer cannot use; the message names the setting."""


class ImageError(DreamerError, ValueError):
    """A file that cannot be dreamed; the message names the file and the reason."""


class WeightsNotFoundError(DreamerError, FileNotFoundError):
    """Pretrained weights are not on this machine and could not be downloaded."""
